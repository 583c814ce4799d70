"""Who may see and change delivery targets: the permissions the provisioning health pages and
the API both check.

Ops and auditors read targets; only ops retry dead deliveries, add targets and edit them.
"""

READ_PERMISSION = "deliveries.view_target"
RETRY_PERMISSION = "deliveries.change_failure"
ADD_PERMISSION = "deliveries.add_target"
CHANGE_PERMISSION = "deliveries.change_target"
