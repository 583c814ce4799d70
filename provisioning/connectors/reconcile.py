"""Compare what a target holds with what the database says, and push the difference.

Pure functions over connector types, free of the database: the caller loads the desired
states, reads the target, stores the report and decides when to repair.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any

from provisioning.connectors.base import ActualState, Connector, CredentialState, PushOutcome
from provisioning.connectors.scim import expected_groups

# Pushes during a repair go in batches the relay would also send.
REPAIR_BATCH = 500


@dataclass(frozen=True)
class DriftReport:
    """Credential ids per kind of drift, each sorted.

    ``active_but_should_not`` is the dangerous one: a key usable downstream that the database
    has suspended or revoked. ``unknown`` lists identities the target holds that we have no
    desired state for (deleted in our database, or created by someone else); a repair cannot
    push them, so they are for ops to look at, and ``unknown_active`` marks those still usable.
    A credential missing at the target counts only when it should be active: an absent identity
    grants nothing, so an inactive credential never delivered is not drift.
    """

    missing: tuple[int, ...] = ()
    active_but_should_not: tuple[int, ...] = ()
    inactive_but_should_be: tuple[int, ...] = ()
    wrong_groups: tuple[int, ...] = ()
    unknown: tuple[int, ...] = ()
    unknown_active: tuple[int, ...] = ()
    checked: int = 0
    details: dict[int, str] = field(default_factory=dict)

    @property
    def repairable(self) -> tuple[int, ...]:
        """Credentials whose desired state a push restores."""
        return tuple(
            sorted(
                set(self.missing)
                | set(self.active_but_should_not)
                | set(self.inactive_but_should_be)
                | set(self.wrong_groups)
            )
        )

    @property
    def is_clean(self) -> bool:
        return not self.repairable and not self.unknown

    @property
    def is_dangerous(self) -> bool:
        return bool(self.active_but_should_not or self.unknown_active)

    def counts(self) -> dict[str, int]:
        return {
            "checked": self.checked,
            "missing": len(self.missing),
            "active_but_should_not": len(self.active_but_should_not),
            "inactive_but_should_be": len(self.inactive_but_should_be),
            "wrong_groups": len(self.wrong_groups),
            "unknown": len(self.unknown),
            "unknown_active": len(self.unknown_active),
        }

    def as_dict(self) -> dict[str, Any]:
        """A JSON-ready form for storing the report; ids as lists, details keyed by string."""
        return {
            "counts": self.counts(),
            "missing": list(self.missing),
            "active_but_should_not": list(self.active_but_should_not),
            "inactive_but_should_be": list(self.inactive_but_should_be),
            "wrong_groups": list(self.wrong_groups),
            "unknown": list(self.unknown),
            "unknown_active": list(self.unknown_active),
            "details": {str(key): value for key, value in sorted(self.details.items())},
        }


def diff_states(
    desired: Mapping[int, CredentialState], actual: Mapping[int, ActualState]
) -> DriftReport:
    missing: list[int] = []
    dangerous: list[int] = []
    dormant: list[int] = []
    wrong_groups: list[int] = []
    details: dict[int, str] = {}
    for credential_id, state in desired.items():
        held = actual.get(credential_id)
        if held is None:
            if state.active:
                missing.append(credential_id)
                details[credential_id] = "missing at the target"
            continue
        if held.active and not state.active:
            dangerous.append(credential_id)
            details[credential_id] = f"active at the target, version {held.version}"
        elif state.active and not held.active:
            dormant.append(credential_id)
            details[credential_id] = f"inactive at the target, version {held.version}"
        want = expected_groups(state)
        if held.groups != want:
            wrong_groups.append(credential_id)
            details.setdefault(
                credential_id,
                f"groups {sorted(held.groups)} instead of {sorted(want)}",
            )
    unknown = sorted(set(actual) - set(desired))
    return DriftReport(
        missing=tuple(sorted(missing)),
        active_but_should_not=tuple(sorted(dangerous)),
        inactive_but_should_be=tuple(sorted(dormant)),
        wrong_groups=tuple(sorted(wrong_groups)),
        unknown=tuple(unknown),
        unknown_active=tuple(cid for cid in unknown if actual[cid].active),
        checked=len(desired),
        details=details,
    )


def repair(
    connector: Connector, report: DriftReport, desired: Mapping[int, CredentialState]
) -> list[PushOutcome]:
    """Push the desired state of every repairable credential; the dangerous ones go first.

    Versions make this safe against a relay pushing at the same time: the newer state wins.
    A ``ConnectorError`` (the target is down) propagates to the caller.
    """
    first = [cid for cid in report.active_but_should_not if cid in desired]
    rest = [cid for cid in report.repairable if cid in desired and cid not in set(first)]
    states = [desired[cid] for cid in first + rest]
    outcomes: list[PushOutcome] = []
    for start in range(0, len(states), REPAIR_BATCH):
        batch: Sequence[CredentialState] = states[start : start + REPAIR_BATCH]
        outcomes.extend(connector.push(batch))
    return outcomes
