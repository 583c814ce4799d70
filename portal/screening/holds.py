"""The seam between screening and provisioning: holding and releasing a person's access.

Screening decides; provisioning executes (DESIGN.md §5). ``hold_person_access`` suspends
every credential of the person with the suspension reason ``compliance`` through
provisioning's services, and ``release_person_access`` lifts that one hold (a credential
comes back only when its grant is active). Both are called inside the screening service's
transaction, so the hold commits with the decision that caused it, and the change log
carries it downstream.
"""

from __future__ import annotations

from portal.accounts.models import User
from portal.eligibility.models import Person
from provisioning.credentials.services import credential_hold_person, credential_release_person

HOLD_REASON = "compliance"


def hold_person_access(*, person: Person, actor: User | None, reason: str) -> None:
    """Suspend ``person``'s credentials with reason ``compliance``."""
    credential_hold_person(person_id=person.pk, actor=actor, reason=reason)


def release_person_access(*, person: Person, actor: User | None, reason: str) -> None:
    """Lift the ``compliance`` suspension of ``person``'s credentials."""
    credential_release_person(person_id=person.pk, actor=actor, reason=reason)
