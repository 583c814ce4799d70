"""Who may see and act on usage alerts: the permissions the alert pages and the API both
check.

Compliance officers and auditors read alerts; compliance officers act on them. Partners
never see alerts.
"""

READ = "usage.view_usagealert"
WRITE = "usage.change_usagealert"
