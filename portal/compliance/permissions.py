"""Who may see and write determinations: the permissions the determination pages and the
API both check.

Compliance officers and auditors read determinations; only compliance officers write them.
"""

READ = "compliance.view_determination"
WRITE = "compliance.change_determination"
