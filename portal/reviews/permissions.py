"""Who may work the review queue: the permissions the review pages, the review services and
the API all check.

Reviewers read and decide reviews and comment on them; senior reviewers also reassign them.
Compliance officers and auditors read them.
"""

VIEW = "reviews.view_review"
DECIDE = "reviews.decide_review"
REASSIGN = "reviews.reassign_review"
COMMENT = "reviews.add_comment"
