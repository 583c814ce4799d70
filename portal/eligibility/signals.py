"""What the eligibility room announces to the rooms built on it.

Screening depends on eligibility's people, so eligibility cannot call screening; it sends
``identity_changed`` once a change has committed, and screening listens
(``portal.screening.apps``). Until someone listens, the person stays unscreened, which
never counts as clear (fail closed).
"""

from __future__ import annotations

from django.dispatch import Signal

# Sent after commit, with ``person_id``, when a complete profile's identity facts changed.
identity_changed = Signal()
