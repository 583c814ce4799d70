"""The seam between screening and provisioning: holding and releasing a person's access.

Screening decides; provisioning executes (DESIGN.md §5). Until grants and credentials exist
these functions do nothing but mark the moments. Once they do, ``hold_person_access`` will
suspend every credential of the person with the suspension reason ``compliance`` through
provisioning's services, and ``release_person_access`` will remove that one reason (the
credentials come back only when no other reason remains). Both are called inside the
screening service's transaction, so the hold commits with the decision that caused it.
"""

from __future__ import annotations

from typing import Any

from portal.eligibility.models import Person

HOLD_REASON = "compliance"


def hold_person_access(*, person: Person, actor: Any, reason: str) -> None:
    """Suspend ``person``'s credentials with reason ``compliance`` (wired by the grants work)."""


def release_person_access(*, person: Person, actor: Any, reason: str) -> None:
    """Lift the ``compliance`` suspension of ``person``'s credentials (wired by grants work)."""
