"""Who may see and open certification campaigns: the permissions the campaign pages and the
API both check.

Compliance officers and auditors read campaigns; compliance officers open them.
"""

READ = "certification.view_campaign"
OPEN = "certification.add_campaign"
