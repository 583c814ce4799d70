"""The three rules that turn reported usage into compliance findings.

1. Use from a country that the rule in force denies to residents: judged by the one
   eligibility engine (``portal.eligibility.engine.evaluate``) as if the person lived
   where the request came from, so a determination's country list is read in one place.
2. Any use of a key that was not active at the time: evidence that something downstream
   did not enforce a suspension, revocation, expiry or rotation. The finding names every
   target that covers the model and its sync state for that key.
3. A grant's requests in a calendar month (UTC) beyond its monthly quota (the quota of
   the stage it was granted at, unless the reviewer approved another).
"""

from __future__ import annotations

import copy
import datetime as dt
from collections import defaultdict
from collections.abc import Iterable, Sequence
from dataclasses import dataclass, field
from typing import Any

from foundation.countries import country_name
from portal.eligibility.engine import Outcome, evaluate
from portal.eligibility.rules import rules_in_force
from portal.usage.models import AlertKind, UsageMonthlyTotal
from portal.usage.validation import ValidEvent
from provisioning.credentials.models import Credential, CredentialState
from provisioning.deliveries.models import Change, Target
from provisioning.deliveries.selectors import SyncState, credential_sync_states

SYNC_LABELS = {
    SyncState.IN_SYNC: "in sync (it received the change: the gateway did not enforce it)",
    SyncState.PENDING: "pending (it has not received the change yet)",
    SyncState.FAILED: "failed (delivery is being retried)",
    SyncState.DEAD: "dead (delivery gave up: ops must act)",
}


@dataclass
class Finding:
    kind: str
    dedup_key: str
    credential: Credential
    message: str
    details: dict[str, Any]
    first_seen_at: dt.datetime
    last_seen_at: dt.datetime
    event_count: int = 0
    request_count: int = 0
    # Over quota: the month's total replaces the count instead of adding to it.
    total_replaces: bool = False
    events: list[ValidEvent] = field(default_factory=list, repr=False)

    def add(self, event: ValidEvent) -> None:
        self.first_seen_at = min(self.first_seen_at, event.occurred_at)
        self.last_seen_at = max(self.last_seen_at, event.occurred_at)
        self.event_count += 1
        self.request_count += event.requests


def key_label(credential: Credential) -> str:
    return f"clr_{credential.key_prefix}_…"


def _who(credential: Credential) -> str:
    grant = credential.grant
    return (
        f"{credential.person.legal_name} ({grant.organisation.legal_name}, "
        f"{grant.covered_model.slug} {grant.stage.name})"
    )


def _new(kind: str, key: str, event: ValidEvent, message: str, details: dict[str, Any]) -> Finding:
    finding = Finding(
        kind=kind,
        dedup_key=key,
        credential=event.credential,
        message=message,
        details=details,
        first_seen_at=event.occurred_at,
        last_seen_at=event.occurred_at,
    )
    finding.add(event)
    return finding


# --- 1. denied country ---------------------------------------------------------------


def denied_country_findings(events: Sequence[ValidEvent]) -> list[Finding]:
    rules = rules_in_force({e.covered_model.pk: e.covered_model for e in events}.values())
    findings: dict[str, Finding] = {}
    judged: dict[tuple[int, str], Any] = {}
    for event in events:
        credential = event.credential
        memo = (credential.pk, event.source_country)
        if memo not in judged:
            # The person as if they lived where the request came from: the engine's
            # residence check then says whether the rule in force denies that country.
            located = copy.copy(credential.person)
            located.residence_country = event.source_country
            rule = rules[event.covered_model.pk]
            result = evaluate(
                organisation=credential.grant.organisation,
                person=located,
                covered_model=event.covered_model,
                stage=credential.grant.stage,
                rule=rule,
            )
            check = result.check("residence")
            judged[memo] = (check, rule) if check and check.outcome == Outcome.FAIL else None
        verdict = judged[memo]
        if verdict is None:
            continue
        check, rule = verdict
        key = f"{AlertKind.DENIED_COUNTRY}:{credential.pk}:{event.source_country}"
        if key in findings:
            findings[key].add(event)
            continue
        country = f"{country_name(event.source_country)} ({event.source_country})"
        findings[key] = _new(
            AlertKind.DENIED_COUNTRY,
            key,
            event,
            f"Key {key_label(credential)} of {_who(credential)} was used from {country}. "
            f"The rule in force ({rule.source}) denies it: {check.message}",
            {"country": event.source_country, "rule": rule.source, "check": check.message},
        )
    return list(findings.values())


# --- 2. inactive key -----------------------------------------------------------------


def _inactive_since(credentials: Iterable[Credential]) -> dict[int, dt.datetime]:
    """When each non-active key last stopped being active, from the change log (one query)."""
    ids = [c.pk for c in credentials if c.state != CredentialState.ACTIVE]
    since: dict[int, dt.datetime | None] = {}
    for credential_id, active, created_at in (
        Change.objects.filter(credential_id__in=ids)
        .order_by("id")
        .values_list("credential_id", "active", "created_at")
    ):
        if active:
            since[credential_id] = None
        elif since.get(credential_id) is None:
            since[credential_id] = created_at
    by_id = {c.pk: c for c in credentials}
    return {pk: since.get(pk) or by_id[pk].updated_at for pk in ids}


def _inactive_reason(
    event: ValidEvent, since: dict[int, dt.datetime]
) -> tuple[str, dt.datetime] | None:
    """Why the key was not usable when ``event`` happened, and since when; None if it was."""
    credential = event.credential
    if event.previous_key:
        until = credential.previous_key_expires_at
        if until is None or until <= event.occurred_at:
            return "the rotated-out key, no longer valid", until or credential.updated_at
    if credential.state != CredentialState.ACTIVE:
        started = since[credential.pk]
        if started <= event.occurred_at:
            return credential.state, started
        return None
    if credential.grant.expires_at <= event.occurred_at:
        return "expired with its grant", credential.grant.expires_at
    return None


def inactive_key_findings(events: Sequence[ValidEvent]) -> list[Finding]:
    since = _inactive_since({e.credential.pk: e.credential for e in events}.values())
    flagged: list[tuple[ValidEvent, str, dt.datetime]] = []
    for event in events:
        reason = _inactive_reason(event, since)
        if reason is not None:
            flagged.append((event, *reason))
    if not flagged:
        return []
    targets = list(Target.objects.filter(enabled=True).order_by("name"))
    credential_ids = {event.credential.pk for event, _, _ in flagged}
    states = credential_sync_states(credential_ids=credential_ids, targets=targets)
    findings: dict[str, Finding] = {}
    for event, state, started in flagged:
        credential = event.credential
        key = f"{AlertKind.INACTIVE_KEY}:{credential.pk}"
        if key in findings:
            findings[key].add(event)
            continue
        covering: list[dict[str, Any]] = [
            {
                "id": target.pk,
                "name": target.name,
                "kind": target.kind,
                "sync_state": states[credential.pk][target.pk],
            }
            for target in targets
            if states[credential.pk][target.pk] != SyncState.NOT_APPLICABLE
        ]
        if covering:
            enforcers = "; ".join(
                f"{t['name']} — {SYNC_LABELS.get(t['sync_state'], t['sync_state'])}"
                for t in covering
            )
            blame = f"Targets that should have enforced it: {enforcers}."
        else:
            blame = (
                f"No enabled downstream target covers {credential.grant.covered_model.slug}: "
                "only the gateway itself could have enforced it."
            )
        findings[key] = _new(
            AlertKind.INACTIVE_KEY,
            key,
            event,
            f"Key {key_label(credential)} of {_who(credential)} is {state} since "
            f"{started:%Y-%m-%d %H:%M} UTC, yet a gateway reported its use. {blame}",
            {
                "key_state": state,
                "inactive_since": started.isoformat(),
                "previous_key": event.previous_key,
                "targets": covering,
            },
        )
    return list(findings.values())


# --- 3. over quota -------------------------------------------------------------------


def month_start(moment: dt.datetime) -> dt.date:
    """The first day of ``moment``'s calendar month in UTC."""
    return moment.astimezone(dt.UTC).date().replace(day=1)


def over_quota_findings(events: Sequence[ValidEvent]) -> list[Finding]:
    """Run after the batch is added to the monthly totals: a month includes earlier batches."""
    touched: dict[tuple[int, dt.date], list[ValidEvent]] = defaultdict(list)
    grants = {}
    for event in events:
        grant = event.credential.grant
        grants[grant.pk] = grant
        touched[(grant.pk, month_start(event.occurred_at))].append(event)
    if not touched:
        return []
    totals: dict[tuple[int, dt.date], dict[int, int]] = defaultdict(dict)
    rows = UsageMonthlyTotal.objects.filter(
        grant_id__in=list(grants), month__in={month for _, month in touched}
    ).values_list("grant_id", "month", "credential_id", "requests")
    for grant_id, month, credential_id, requests in rows:
        if (grant_id, month) in touched:
            totals[(grant_id, month)][credential_id] = requests
    findings = []
    for (grant_id, month), batch_events in touched.items():
        per_key = totals.get((grant_id, month), {})
        total = sum(per_key.values())
        grant = grants[grant_id]
        if total <= grant.monthly_quota:
            continue
        heaviest_id = max(per_key, key=lambda pk: (per_key[pk], -pk))
        heaviest = next(
            (e.credential for e in batch_events if e.credential.pk == heaviest_id), None
        ) or Credential.objects.select_related(
            "person", "grant__organisation", "grant__stage", "grant__covered_model"
        ).get(pk=heaviest_id)
        label = f"{month:%B %Y}"
        finding = Finding(
            kind=AlertKind.OVER_QUOTA,
            dedup_key=f"{AlertKind.OVER_QUOTA}:{grant_id}:{month:%Y-%m}",
            credential=heaviest,
            message=(
                f"{grant.organisation.legal_name}'s grant for {grant.covered_model.slug} "
                f"({grant.stage.name} stage) used {total:,} requests in {label}, over its "
                f"monthly quota of {grant.monthly_quota:,} "
                f"(the {grant.stage.name} stage allows {grant.stage.monthly_quota:,}). "
                f"Heaviest user: {heaviest.person.legal_name}."
            ),
            details={
                "month": f"{month:%Y-%m}",
                "quota": grant.monthly_quota,
                "stage_quota": grant.stage.monthly_quota,
                "total": total,
                "by_key": {str(pk): n for pk, n in sorted(per_key.items())},
            },
            first_seen_at=min(e.occurred_at for e in batch_events),
            last_seen_at=max(e.occurred_at for e in batch_events),
            total_replaces=True,
        )
        finding.event_count = len(batch_events)
        finding.request_count = total
        findings.append(finding)
    return findings
