"""Who may see and run bulk actions: the permissions the bulk pages and the API both check.

Operations, compliance and auditors read bulk actions; only operations plan, approve, run
and review them.
"""

READ = "bulk.view_bulkaction"
WRITE = "bulk.change_bulkaction"
