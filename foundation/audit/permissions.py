"""Who may read the audit trail: the permission the audit pages, the transparency pages and
the API (events and exports) all check. Compliance, ops and auditors hold it.
"""

READ_PERMISSION = "audit.view_auditevent"
