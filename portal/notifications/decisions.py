"""Which committed decisions changed whose access: read from the audit log after commit.

Every service that changes a key's effective state writes change-log rows and one audit
event in the same transaction (DESIGN.md §5). The access notices are fed from that one
place: the dispatcher reads decision events past its cursor and asks this module what
each one did. A bulk action (which is also how emergency stops and determinations act) is
one decision, read from its ``bulk_action.executed`` event over all its chunks; the
chunks' own ``grant.*`` / ``credential.bulk_*`` events are not decisions of their own.

Only facts a partner may see leave this module: the organisation's own keys, people and
models, the kind of reason in words, and for regulatory decisions the determination's
reference and legal basis. Screening match details and free-text notes of a screening
hold never do.
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Iterator
from dataclasses import dataclass, field
from typing import Any

from django.apps import apps
from django.db.models import Q

from foundation.audit.models import AuditEvent
from provisioning.bulk.models import BulkAction, BulkActionItem, BulkKind, BulkScope
from provisioning.credentials.models import Credential
from provisioning.deliveries.models import Change

CHUNK = 2000


class Outcome:
    """What a decision did to a key, as the event type partners receive."""

    SUSPENDED = "access.suspended"
    RESTORED = "access.restored"
    REVOKED = "access.revoked"
    EXPIRED = "access.expired"
    ROTATED = "access.rotated"
    HELD = "access.held_by_screening"
    CERTIFICATION = "access.suspended_by_certification"


OUTCOME_VERBS = {
    Outcome.SUSPENDED: "suspended",
    Outcome.RESTORED: "restored",
    Outcome.REVOKED: "revoked",
    Outcome.EXPIRED: "ended (expired)",
    Outcome.ROTATED: "given a new key",
    Outcome.HELD: "put on hold",
    Outcome.CERTIFICATION: "suspended",
}

# The reason kind (grant or key suspension reason) in words a partner understands.
REASON_WORDS = {
    "regulatory": "A government determination restricts access to this model.",
    "ops": "Our operations team stopped access.",
    "compliance": "A routine compliance check on the person is not finished yet.",
    "certification": "The person's need for access was not confirmed by the deadline "
    "of the certification campaign.",
}

# Why a restore happened, by the kind of reason it lifted.
RESTORE_WORDS = {
    "regulatory": "A government determination or licence allows this access again.",
    "ops": "Our operations team lifted the stop.",
    "compliance": "The routine compliance check on the person is finished.",
    "certification": "The person's need for access was confirmed.",
}

NEXT_STEPS = {
    Outcome.SUSPENDED: "The keys stay suspended until the reason is lifted; nothing is "
    "deleted. We will notify you when access is restored.",
    Outcome.RESTORED: "The keys work again now. Nothing needs to be done.",
    Outcome.REVOKED: "Revocation is final. An admin can apply for access again from the "
    "Applications page.",
    Outcome.EXPIRED: "The grant reached its expiry date. An admin can apply for access "
    "again from the Applications page.",
    Outcome.ROTATED: "The holder collects the new key from the Keys page; the old key stops "
    "working at the time shown there.",
    Outcome.HELD: "No action is needed unless our compliance team contacts you. Access comes "
    "back on its own when the check is finished.",
    Outcome.CERTIFICATION: "An admin can still confirm the person on the Certify people page "
    "if the campaign accepts late confirmations; otherwise ask us to restore the key.",
}

# The audit actions that are decisions about access. Bulk chunks are read through the
# action's ``bulk_action.executed`` event; certification's credential-level suspensions
# and restores are decisions of their own (no bulk action wraps them).
DECISION_ACTIONS = (
    "bulk_action.executed",
    "grant.expired",
    "credential.rotated",
    "credential.revoked",
    "credential.person_held",
    "credential.person_released",
    "credential.bulk_suspended",
    "credential.bulk_restored",
    "certification.campaign_closed",
)


@dataclass
class OrganisationShare:
    """What one decision did to one organisation's keys."""

    organisation_id: int
    models: dict[int, str] = field(default_factory=dict)  # covered model id -> name
    model_slugs: dict[int, str] = field(default_factory=dict)
    keys: int = 0
    key_prefixes: list[str] = field(default_factory=list)
    people: dict[int, str] = field(default_factory=dict)  # person id -> legal name
    holders: set[int] = field(default_factory=set)  # user ids of the people affected


@dataclass
class AccessDecision:
    key: str
    outcome: str
    occurred_at: dt.datetime
    actor_id: int | None
    reason_kind: str = ""
    reason_given: str = ""
    reference: str = ""
    legal_basis: str = ""
    effective_date: dt.date | None = None
    shares: dict[int, OrganisationShare] = field(default_factory=dict)

    @property
    def reason_words(self) -> str:
        if self.outcome == Outcome.RESTORED:
            return RESTORE_WORDS.get(self.reason_kind, "")
        return REASON_WORDS.get(self.reason_kind, "")

    @property
    def next_steps(self) -> str:
        return NEXT_STEPS[self.outcome]


def _range(after: dict[str, Any]) -> tuple[int, int] | None:
    first, last = after.get("first_change_id"), after.get("last_change_id")
    if first is None or last is None:
        return None
    return int(first), int(last)


def _wanted(outcome: str, active: bool, revoked: bool) -> bool:
    """Did the key end where the decision says? (A restore may leave some suspended.)"""
    if outcome == Outcome.RESTORED:
        return active
    if outcome in (Outcome.REVOKED, Outcome.EXPIRED):
        return revoked
    if outcome == Outcome.ROTATED:
        return not revoked
    return not active and not revoked


def _bulk_outcome(action: BulkAction) -> str:
    return {
        BulkKind.SUSPEND: Outcome.SUSPENDED,
        BulkKind.REVOKE: Outcome.REVOKED,
        BulkKind.RESTORE: Outcome.RESTORED,
    }[BulkKind(action.kind)]


def _determination(reference: str) -> dict[str, Any] | None:
    """The determination a bulk action cites: its reference, legal basis and date.

    Read by model label: the compliance room sends notices, so it sits above this one.
    """
    if not reference:
        return None
    plain = reference.removeprefix("determination:")
    determinations = apps.get_model("compliance", "Determination").objects
    found: dict[str, Any] | None = (
        determinations.filter(reference=plain)
        .values("reference", "legal_basis", "effective_date")
        .first()
    )
    return found


def _decision_of(event: AuditEvent) -> tuple[AccessDecision, Q] | None:
    """The decision an event records and the change-log rows that belong to it."""
    after = event.after or {}
    base: dict[str, Any] = {
        "key": f"audit:{event.pk}",
        "occurred_at": event.created_at,
        "actor_id": event.actor_id,
    }
    if event.action == "bulk_action.executed":
        action = BulkAction.objects.filter(pk=event.object_id).first()
        if action is None:
            return None
        items = BulkActionItem.objects.filter(action=action)
        scope = (
            Q(credential__grant_id__in=items.values("grant_id"))
            if action.scope == BulkScope.GRANT
            else Q(credential_id__in=items.values("credential_id"))
        )
        determination = _determination(action.determination or action.reference)
        decision = AccessDecision(
            outcome=_bulk_outcome(action),
            reason_kind=action.suspension_kind,
            reason_given=action.reason,
            reference=determination["reference"] if determination else "",
            legal_basis=determination["legal_basis"] if determination else "",
            effective_date=determination["effective_date"] if determination else None,
            **base,
        )
        return decision, scope
    if event.action == "grant.expired":
        return AccessDecision(outcome=Outcome.EXPIRED, **base), Q(cause="grant.expired")
    if event.action in ("credential.rotated", "credential.revoked"):
        outcome = Outcome.ROTATED if event.action == "credential.rotated" else Outcome.REVOKED
        return AccessDecision(outcome=outcome, **base), Q(credential_id=event.object_id)
    if event.action in ("credential.person_held", "credential.person_released"):
        # The audit reason of a hold may name the list entry: it is never copied.
        outcome = Outcome.HELD if event.action.endswith("held") else Outcome.RESTORED
        decision = AccessDecision(outcome=outcome, reason_kind="compliance", **base)
        return decision, Q(credential__person_id=event.object_id)
    if event.action == "certification.campaign_closed":
        # One decision over every chunk of the close (its chunks' own events are parts).
        # Read by model label: certification sends notices, so it sits above this room.
        items = apps.get_model("certification", "CertificationItem").objects
        keys = items.filter(campaign_id=event.object_id).values("credential_id")
        decision = AccessDecision(
            outcome=Outcome.CERTIFICATION, reason_kind="certification", **base
        )
        return decision, Q(cause="credential.suspended:certification", credential_id__in=keys)
    if after.get("part_of"):
        return None  # a chunk of a decision read whole from its own event
    if after.get("reason") == "certification":
        suspended = event.action == "credential.bulk_suspended"
        outcome = Outcome.CERTIFICATION if suspended else Outcome.RESTORED
        cause = (
            "credential.suspended:certification"
            if suspended
            else ("credential.restored:certification")
        )
        return AccessDecision(outcome=outcome, reason_kind="certification", **base), Q(cause=cause)
    return None


WINDOW = 20_000


def _latest_states(change_range: tuple[int, int], scope: Q) -> dict[int, tuple[bool, bool]]:
    """Each key's last state in the range, read in windows of change ids: plain queries,
    not a server-side cursor, whose plan (tuned for the first rows, on statistics that do
    not know of the rows the decision just wrote) took 55 s for 30,000 keys."""
    latest: dict[int, tuple[bool, bool]] = {}
    first, last = change_range
    for start in range(first, last + 1, WINDOW):
        rows = (
            Change.objects.filter(scope, id__gte=start, id__lte=min(last, start + WINDOW - 1))
            .exclude(cause="credential.issued")
            .order_by("id")
            .values_list("credential_id", "active", "revoked")
        )
        for credential_id, active, revoked in rows:
            latest[credential_id] = (active, revoked)
    return latest


def _chunks(ids: list[int]) -> Iterator[list[int]]:
    for start in range(0, len(ids), CHUNK):
        yield ids[start : start + CHUNK]


def access_decision_read(event: AuditEvent) -> AccessDecision | None:
    """The decision ``event`` records with each organisation's share, or None if it changed
    nobody's effective access (a restore that restored nothing, a rotation of nothing)."""
    found = _decision_of(event)
    change_range = _range(event.after or {})
    if found is None or change_range is None:
        return None
    decision, scope = found
    states = _latest_states(change_range, scope)
    ids = sorted(pk for pk, (a, r) in states.items() if _wanted(decision.outcome, a, r))
    shares: dict[int, OrganisationShare] = {}
    for chunk in _chunks(ids):
        rows = Credential.objects.filter(pk__in=chunk).values_list(
            "key_prefix",
            "grant__organisation_id",
            "grant__covered_model_id",
            "grant__covered_model__name",
            "grant__covered_model__slug",
            "person_id",
            "person__legal_name",
            "person__user_id",
        )
        for prefix, org_id, model_id, name, slug, person_id, legal_name, user_id in rows:
            share = shares.setdefault(org_id, OrganisationShare(organisation_id=org_id))
            share.models[model_id] = name
            share.model_slugs[model_id] = slug
            share.keys += 1
            share.key_prefixes.append(prefix)
            share.people[person_id] = legal_name
            if user_id is not None:
                share.holders.add(user_id)
    if not shares:
        return None
    decision.shares = shares
    return decision
