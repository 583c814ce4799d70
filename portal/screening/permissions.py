"""Who may work the screening queue and load the lists: the permissions the screening pages
and the API both check. Compliance holds them all; auditors the two that read.
"""

VIEW_MATCHES = "screening.view_screeningmatch"
RESOLVE_MATCHES = "screening.change_screeningmatch"
VIEW_RUNS = "screening.view_screeningrun"
LOAD_LISTS = "screening.add_listversion"
