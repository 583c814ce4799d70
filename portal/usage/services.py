"""Writes for usage monitoring: ingesting a gateway's batch, and working an alert.

Every function is keyword-only, runs in one transaction and writes its audit events in
it. Ingesting keeps the good events of a batch and reports the bad ones with reasons;
the events are inserted set-based (one statement on PostgreSQL, one per thousand rows
on SQLite), each key's monthly total is upserted, and the alerts the batch raises are
upserted per finding (one live alert per finding, see ``UsageAlert.dedup_key``).
"""

from __future__ import annotations

import datetime as dt
import hashlib
from collections import defaultdict
from dataclasses import dataclass, field
from typing import Any

from django.db import IntegrityError, connection, transaction
from django.db.models import Count
from django.utils import timezone

from foundation.audit.services import audit_record
from foundation.errors import require_text
from foundation.transitions import locked_transition
from portal.accounts.models import User
from portal.screening.holds import hold_person_access, release_person_access
from portal.screening.states import HELD_STATES
from portal.usage.models import (
    LIVE_ALERT_STATES,
    AlertState,
    GrantDailyCount,
    UsageAlert,
    UsageBatch,
    UsageError,
    UsageEvent,
    UsageMonthlyTotal,
    check_alert_transition,
)
from portal.usage.rules import (
    Finding,
    denied_country_findings,
    inactive_key_findings,
    month_start,
    over_quota_findings,
)
from portal.usage.validation import ValidEvent, validate_events
from provisioning.grants.models import Grant
from provisioning.introspection.models import GatewayClient

# Any constant: alert upserts take this transaction-scoped lock on PostgreSQL so two
# batches reporting the same finding at once update one alert instead of racing to
# insert two. SQLite writers are already serialised.
_ALERT_LOCK_KEY = 0x05A6E


@dataclass
class IngestResult:
    batch: UsageBatch | None
    accepted: int
    errors: list[dict[str, Any]]
    raised: list[UsageAlert] = field(default_factory=list)
    updated: list[UsageAlert] = field(default_factory=list)
    replayed: bool = False

    def as_dict(self) -> dict[str, Any]:
        if self.replayed and self.batch is not None:
            return {**self.batch.answer, "replayed": True}
        return {
            "batch": self.batch.pk if self.batch else None,
            "accepted": self.accepted,
            "rejected": len(self.errors),
            "errors": self.errors,
            "alerts_raised": len(self.raised),
            "alerts_updated": len(self.updated),
        }


def _lock_alerts() -> None:
    if connection.vendor == "postgresql":
        with connection.cursor() as cursor:
            cursor.execute("SELECT pg_advisory_xact_lock(%s)", [_ALERT_LOCK_KEY])


def _audit_alert(
    alert: UsageAlert,
    *,
    actor: User | None,
    action: str,
    reason: str,
    after: dict[str, Any],
    before: dict[str, Any] | None = None,
) -> None:
    """An alert's event, in its organisation's trail, with the note or message as reason."""
    audit_record(
        actor=actor,
        action=action,
        obj=alert,
        organisation_id=alert.organisation_id,
        reason=reason,
        before=before,
        after=after,
    )


def _upsert_alerts(
    findings: list[Finding], *, now: dt.datetime
) -> tuple[list[UsageAlert], list[UsageAlert]]:
    if not findings:
        return [], []
    live = {
        alert.dedup_key: alert
        for alert in UsageAlert.objects.select_for_update().filter(
            dedup_key__in=[f.dedup_key for f in findings],
            state__in=LIVE_ALERT_STATES,
        )
    }
    new: list[UsageAlert] = []
    updated: list[UsageAlert] = []
    for finding in findings:
        alert = live.get(finding.dedup_key)
        if alert is None:
            credential = finding.credential
            new.append(
                UsageAlert(
                    kind=finding.kind,
                    dedup_key=finding.dedup_key,
                    organisation_id=credential.grant.organisation_id,
                    covered_model_id=credential.grant.covered_model_id,
                    grant_id=credential.grant_id,
                    credential=credential,
                    person_id=credential.person_id,
                    message=finding.message,
                    details=finding.details,
                    first_seen_at=finding.first_seen_at,
                    last_seen_at=finding.last_seen_at,
                    event_count=finding.event_count,
                    request_count=finding.request_count,
                    created_at=now,
                )
            )
            continue
        alert.first_seen_at = min(alert.first_seen_at, finding.first_seen_at)
        alert.last_seen_at = max(alert.last_seen_at, finding.last_seen_at)
        alert.event_count += finding.event_count
        alert.request_count = (
            finding.request_count
            if finding.total_replaces
            else alert.request_count + finding.request_count
        )
        alert.message = finding.message
        alert.details = finding.details
        updated.append(alert)
    if updated:
        UsageAlert.objects.bulk_update(
            updated,
            ["first_seen_at", "last_seen_at", "event_count", "request_count", "message", "details"],
        )
    created = UsageAlert.objects.bulk_create(new)
    for alert in created:
        _audit_alert(
            alert,
            actor=None,
            action="usage_alert.raised",
            reason=alert.message,
            after={"kind": alert.kind, "dedup_key": alert.dedup_key, "details": alert.details},
        )
    return created, updated


_EVENT_COLUMNS = (
    "batch_id",
    "credential_id",
    "grant_id",
    "covered_model_id",
    "occurred_at",
    "source_country",
    "requests",
)


_EVENT_PG_TYPES = ("bigint", "bigint", "bigint", "bigint", "timestamptz", "text", "integer")


def _insert_events(batch: UsageBatch, events: list[ValidEvent]) -> None:
    """Set-based: model instances would cost more than the database does (about 1 ms per
    event on the shared CI machine)."""
    adapt = connection.ops.adapt_datetimefield_value
    rows = [
        (
            batch.pk,
            event.credential.pk,
            event.credential.grant_id,
            event.covered_model.pk,
            adapt(event.occurred_at),
            event.source_country,
            event.requests,
        )
        for event in events
    ]
    table = connection.ops.quote_name(UsageEvent._meta.db_table)
    columns = ", ".join(_EVENT_COLUMNS)
    placeholder = "(" + ", ".join(["%s"] * len(_EVENT_COLUMNS)) + ")"
    with connection.cursor() as cursor:
        if connection.vendor == "postgresql":
            # One statement whatever the batch size: seven arrays, unnested server-side.
            arrays = ", ".join(f"%s::{kind}[]" for kind in _EVENT_PG_TYPES)
            cursor.execute(
                f"INSERT INTO {table} ({columns}) SELECT * FROM unnest({arrays})",  # noqa: S608
                [list(column) for column in zip(*rows, strict=True)],
            )
            return
        for start in range(0, len(rows), 1000):
            chunk = rows[start : start + 1000]
            values = ", ".join([placeholder] * len(chunk))
            cursor.execute(
                f"INSERT INTO {table} ({columns}) VALUES {values}",  # noqa: S608 — fixed names
                [value for row in chunk for value in row],
            )


def _add_to_monthly_totals(events: list[ValidEvent]) -> None:
    """Add the batch to each key's monthly total: one upsert per key and month."""
    sums: dict[tuple[int, int, Any], int] = defaultdict(int)
    for event in events:
        month = connection.ops.adapt_datefield_value(month_start(event.occurred_at))
        sums[(event.credential.pk, event.credential.grant_id, month)] += event.requests
    rows = [(credential, grant, month, n) for (credential, grant, month), n in sums.items()]
    table = connection.ops.quote_name(UsageMonthlyTotal._meta.db_table)
    with connection.cursor() as cursor:
        cursor.executemany(
            f"INSERT INTO {table} (credential_id, grant_id, month, requests) "  # noqa: S608
            "VALUES (%s, %s, %s, %s) ON CONFLICT (credential_id, month) "
            f"DO UPDATE SET requests = {table}.requests + excluded.requests",
            rows,
        )


def _replay(batch: UsageBatch) -> IngestResult:
    return IngestResult(
        batch=batch,
        accepted=batch.accepted,
        errors=list(batch.answer.get("errors", [])),
        replayed=True,
    )


def usage_batch_ingest(
    *,
    gateway: GatewayClient,
    events: list[Any],
    idempotency_key: str = "",
    now: dt.datetime | None = None,
) -> IngestResult:
    """Keep the valid events of ``events``, report the others, raise the alerts they show.

    A batch sent again with the same ``idempotency_key`` is not counted twice: the first
    answer is returned.
    """
    now = now or timezone.now()
    if idempotency_key:
        seen = UsageBatch.objects.filter(
            gateway_id=gateway.pk, idempotency_key=idempotency_key
        ).first()
        if seen is not None:
            return _replay(seen)
    validated = validate_events(events, now=now)
    if not validated.valid:
        return IngestResult(batch=None, accepted=0, errors=validated.errors)
    with transaction.atomic(durable=True):
        try:
            with transaction.atomic():
                batch = UsageBatch.objects.create(
                    gateway_id=gateway.pk,
                    received_at=now,
                    accepted=len(validated.valid),
                    rejected=len(validated.errors),
                    idempotency_key=idempotency_key,
                )
        except IntegrityError:
            # The same batch is being ingested right now by another request: answer as
            # that one did once it commits.
            return _replay(
                UsageBatch.objects.get(gateway_id=gateway.pk, idempotency_key=idempotency_key)
            )
        _insert_events(batch, validated.valid)
        # Serialise the rest across concurrent batches, so a total read below includes
        # every batch committed before and an alert crossing a quota is never missed.
        _lock_alerts()
        _add_to_monthly_totals(validated.valid)
        findings = [
            *denied_country_findings(validated.valid),
            *inactive_key_findings(validated.valid),
            *over_quota_findings(validated.valid),
        ]
        raised, updated = _upsert_alerts(findings, now=now)
        digest = hashlib.sha256(
            "\n".join(
                f"{e.credential.pk},{e.occurred_at.isoformat()},{e.source_country},{e.requests}"
                for e in validated.valid
            ).encode()
        ).hexdigest()
        # One event stands for the whole batch; its digest covers every row kept.
        audit_record(
            actor=None,
            action="usage.batch_ingested",
            obj=batch,
            reason=f"Reported by gateway {gateway.name} ({gateway.client_id}).",
            after={
                "accepted": batch.accepted,
                "rejected": batch.rejected,
                "alerts_raised": [a.pk for a in raised],
                "alerts_updated": [a.pk for a in updated],
            },
            digest=digest,
        )
        result = IngestResult(
            batch=batch,
            accepted=len(validated.valid),
            errors=validated.errors,
            raised=raised,
            updated=updated,
        )
        batch.answer = result.as_dict()
        batch.save(update_fields=["answer"])
    return result


def _require_note(note: str, what: str) -> str:
    return require_text(note, UsageError(f"Give a note saying {what}."))


def _locked(alert: UsageAlert) -> UsageAlert:
    return UsageAlert.objects.select_for_update().get(pk=alert.pk)


def _alert_move(
    *, alert: UsageAlert, actor: User | None, note: str, to: str, stamp: str, keep_note: bool
) -> UsageAlert:
    """One state step of an alert: locked, checked, stamped (``<stamp>_at``/``_by``), audited."""

    def stamps(row: UsageAlert) -> dict[str, Any]:
        kept = f"{row.note}\n\n{note}".strip() if keep_note and row.note else note
        return {f"{stamp}_at": timezone.now(), f"{stamp}_by": actor, "note": kept}

    with transaction.atomic():
        return locked_transition(
            alert,
            to=to,
            check=check_alert_transition,
            stamp=stamps,
            audit=lambda row, before: _audit_alert(
                row,
                actor=actor,
                action=f"usage_alert.{stamp}",
                reason=note,
                before={"state": before},
                after={"state": row.state},
            ),
        )


def usage_alert_acknowledge(*, alert: UsageAlert, actor: User | None, note: str) -> UsageAlert:
    note = _require_note(note, "who is looking into it and how")
    return _alert_move(
        alert=alert,
        actor=actor,
        note=note,
        to=AlertState.ACKNOWLEDGED,
        stamp="acknowledged",
        keep_note=False,
    )


def usage_alert_close(*, alert: UsageAlert, actor: User | None, note: str) -> UsageAlert:
    note = _require_note(note, "what was found and done")
    return _alert_move(
        alert=alert, actor=actor, note=note, to=AlertState.CLOSED, stamp="closed", keep_note=True
    )


def usage_alert_hold_person(*, alert: UsageAlert, actor: User | None, reason: str) -> UsageAlert:
    """Hold the alert's person at once: every key of theirs is suspended (reason compliance).

    Uses screening's person-level hold, so the hold is the same one a screening hit
    places and is lifted the same way.
    """
    reason = _require_note(reason, "why the person is held")
    with transaction.atomic(durable=True):
        alert = _locked(alert)
        if alert.state == AlertState.CLOSED:
            raise UsageError("This alert is closed; hold the person from an open alert.")
        if alert.held_at is not None:
            raise UsageError("The person was already held from this alert.")
        person = alert.person
        hold_person_access(person=person, actor=actor, reason=f"Usage alert #{alert.pk}: {reason}")
        alert.held_at = timezone.now()
        alert.held_by = actor
        update = ["held_at", "held_by"]
        if alert.state == AlertState.OPEN:
            check_alert_transition(alert.state, AlertState.ACKNOWLEDGED)
            alert.state = AlertState.ACKNOWLEDGED
            alert.acknowledged_at = alert.held_at
            alert.acknowledged_by = actor
            alert.note = reason
            update += ["state", "acknowledged_at", "acknowledged_by", "note"]
        alert.save(update_fields=update)
        _audit_alert(
            alert,
            actor=actor,
            action="usage_alert.person_held",
            reason=reason,
            after={"person": person.pk, "state": alert.state},
        )
    return alert


def usage_alert_release_person(*, alert: UsageAlert, actor: User | None, reason: str) -> UsageAlert:
    """Lift the hold placed from this alert; keys whose grant is active come back.

    The hold is the person's one compliance hold, so it is lifted here only when nothing
    else holds them: no open screening hit and no other alert's hold.
    """
    reason = _require_note(reason, "why the hold can be lifted")
    with transaction.atomic(durable=True):
        alert = _locked(alert)
        if alert.held_at is None or alert.released_at is not None:
            raise UsageError("The person is not held from this alert.")
        person = alert.person
        if person.screening_state in HELD_STATES:
            raise UsageError(
                "Screening also holds this person: the screening decision lifts that hold."
            )
        others = list(
            UsageAlert.objects.filter(
                person=person, held_at__isnull=False, released_at__isnull=True
            )
            .exclude(pk=alert.pk)
            .values_list("pk", flat=True)
        )
        if others:
            listed = ", ".join(f"#{pk}" for pk in others)
            raise UsageError(f"Other alerts hold this person too ({listed}); release those first.")
        release_person_access(
            person=person, actor=actor, reason=f"Usage alert #{alert.pk}: {reason}"
        )
        alert.released_at = timezone.now()
        alert.released_by = actor
        alert.save(update_fields=["released_at", "released_by"])
        _audit_alert(
            alert,
            actor=actor,
            action="usage_alert.person_released",
            reason=reason,
            after={"person": person.pk},
        )
    return alert


def grant_counts_snapshot(*, day: dt.date | None = None) -> int:
    """Record how many grants of each model are in each state today (idempotent per day)."""
    day = day or timezone.now().date()
    rows = (
        Grant.objects.values("covered_model_id", "state")
        .annotate(n=Count("id"))
        .order_by("covered_model_id", "state")
    )
    with transaction.atomic(durable=True):
        GrantDailyCount.objects.filter(day=day).delete()
        created = GrantDailyCount.objects.bulk_create(
            [
                GrantDailyCount(
                    day=day,
                    covered_model_id=row["covered_model_id"],
                    state=row["state"],
                    count=row["n"],
                )
                for row in rows
            ]
        )
        audit_record(
            actor=None,
            action="usage.grant_counts_recorded",
            object_type="usage.grantdailycount",
            object_id=day.isoformat(),
            after={"rows": len(created), "grants": sum(c.count for c in created)},
        )
    return len(created)
