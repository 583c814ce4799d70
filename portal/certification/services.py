"""Writes on certification campaigns: open, decide (confirm / revoke), remind, close.

Every service runs in one transaction with its audit event inside. Keys change only
through provisioning's own services (``credentials_suspend``, ``credentials_restore``,
``credential_revoke``), so the change log, the version bump and the reactivation rule
are the same as for any other suspension.
"""

from __future__ import annotations

import datetime as dt
from collections import defaultdict
from collections.abc import Callable, Iterable, Sequence
from dataclasses import dataclass, field
from typing import Any

from django.db import connection, transaction
from django.db.models import Count
from django.urls import reverse
from django.utils import timezone

from foundation.audit.services import audit_record
from foundation.errors import require_text
from portal.accounts.models import User
from portal.certification.models import (
    CERTIFICATION_REASON,
    DECISION_TRANSITIONS,
    MAX_REMINDER_DAYS,
    Campaign,
    CampaignError,
    CampaignReminder,
    CampaignState,
    CertificationItem,
    Decision,
    check_campaign_transition,
)
from portal.notifications.services import Message, notification_send
from portal.partners.models import MemberRole, Membership
from provisioning.bulk.credentials import credentials_restore, credentials_suspend
from provisioning.catalog.models import CoveredModel
from provisioning.credentials.models import Credential, CredentialState
from provisioning.credentials.services import credential_revoke
from provisioning.grants.models import LIVE_GRANT_STATES, Grant


def _suspend_chunk() -> int:
    """Keys per suspend call at the deadline, each call writing its own audit event with the
    digest of its change-log rows. The ids travel as bind parameters: PostgreSQL takes up
    to 65,535 per statement, SQLite's default limit is 32,766 and older builds far less."""
    return 30_000 if connection.vendor == "postgresql" else 5_000


@dataclass
class DecisionResult:
    confirmed: int = 0
    restored: int = 0
    revoked: int = 0
    # Item id → why it was left as it was.
    skipped: dict[int, str] = field(default_factory=dict)


def _scope_sql(covered_model_id: int | None, now: dt.datetime) -> tuple[str, list[Any]]:
    """Live keys (active, or suspended on a live grant) in the campaign's scope."""
    credential = Credential._meta.db_table
    grant = Grant._meta.db_table
    states = [CredentialState.ACTIVE.value, CredentialState.SUSPENDED.value]
    grant_states = [str(s) for s in LIVE_GRANT_STATES]
    sql = (
        f"FROM {credential} c JOIN {grant} g ON g.id = c.grant_id "
        "WHERE c.state IN (%s, %s) AND g.state IN (%s, %s) AND g.expires_at > %s"
    )
    params: list[Any] = [*states, *grant_states, now]
    if covered_model_id is not None:
        sql += " AND g.covered_model_id = %s"
        params.append(covered_model_id)
    return sql, params


def _user(actor: User | None) -> User | None:
    """The user to stamp on a row; ``None`` for the system (beat, a command)."""
    return actor if getattr(actor, "is_authenticated", False) else None


def _day(moment: dt.datetime) -> str:
    return f"{timezone.localtime(moment):%Y-%m-%d}"


def _minute(moment: dt.datetime) -> str:
    return f"{timezone.localtime(moment):%Y-%m-%d %H:%M %Z}"


def clean_reminder_days(days: Iterable[int]) -> list[int]:
    cleaned = sorted({int(d) for d in days}, reverse=True)
    if any(d < 1 or d > MAX_REMINDER_DAYS for d in cleaned):
        raise CampaignError(
            f"Reminder days count back from the deadline: use whole numbers from 1 to "
            f"{MAX_REMINDER_DAYS}."
        )
    return cleaned


def _admins(organisation_ids: Iterable[int]) -> dict[int, list[User]]:
    """Each organisation's active administrators, read with their memberships in one query."""
    by_org: dict[int, list[User]] = defaultdict(list)
    memberships = (
        Membership.objects.filter(
            role=MemberRole.ADMIN,
            organisation_id__in=list(organisation_ids),
            user__is_active=True,
        )
        .select_related("user")
        .order_by("user_id")
    )
    for membership in memberships:
        by_org[membership.organisation_id].append(membership.user)
    return by_org


Wording = Callable[[Campaign, int], str]


def _opened_subject(campaign: Campaign, n: int) -> str:
    return f"Certify your people by {_day(campaign.deadline)}: {campaign.title}"


def _opened_body(campaign: Campaign, n: int) -> str:
    return (
        f"Compliance asks you to confirm, person by person, that each of the {n} people "
        f"holding a key still needs access. Keys nobody confirms by "
        f"{_minute(campaign.deadline)} are suspended."
    )


def _reminder_subject(campaign: Campaign, n: int) -> str:
    return f"Reminder: certify your people by {_day(campaign.deadline)}: {campaign.title}"


def _reminder_body(campaign: Campaign, n: int) -> str:
    return (
        f"{n} people holding a key still wait for your confirmation. Keys nobody confirms "
        f"by {_minute(campaign.deadline)} are suspended."
    )


def _suspended_subject(campaign: Campaign, n: int) -> str:
    return f"{n} keys suspended: nobody certified them in {campaign.title}"


def _suspended_body(campaign: Campaign, n: int) -> str:
    then = (
        "Confirm them to restore access."
        if campaign.allow_late_confirmations
        else "Ask compliance to restore access."
    )
    return f"Nobody confirmed {n} people by the deadline, so their keys are suspended. {then}"


def _notify_admins(
    campaign: Campaign, counts: dict[int, int], *, verb: str, subject: Wording, body: Wording
) -> int:
    """One notice per organisation with ``counts[org] > 0``, worded for its count;
    returns the number of recipients."""
    link = reverse("certification:tasks")
    sent = 0
    for organisation_id, users in _admins(k for k, v in counts.items() if v).items():
        rows = notification_send(
            users=users,
            message=Message(
                verb=verb,
                subject=subject(campaign, counts[organisation_id]),
                body=body(campaign, counts[organisation_id]),
                link=link,
            ),
        )
        sent += len(rows)
    return sent


def _pending_by_organisation(campaign: Campaign) -> dict[int, int]:
    """How many of the campaign's items still wait for a decision, per organisation."""
    return dict(
        CertificationItem.objects.filter(campaign=campaign, decision=Decision.PENDING)
        .values_list("organisation_id")
        .annotate(n=Count("id"))
        .order_by()
    )


# Keys snapshotted per INSERT when a campaign opens: the progress bar moves once per chunk.
OPEN_CHUNK = 5_000


def _nobody_to_certify(covered_model: CoveredModel | None) -> CampaignError:
    what = f"the model {covered_model.name}" if covered_model else "any covered model"
    return CampaignError(
        f"Nobody holds a live key for {what}: there is no one to certify, "
        "so no campaign was opened."
    )


def campaign_check(*, covered_model: CoveredModel | None) -> None:
    """Refuse (``CampaignError``) a campaign with nobody to certify, before it is queued."""
    scope_sql, scope_params = _scope_sql(
        covered_model.pk if covered_model else None, timezone.now()
    )
    with connection.cursor() as cursor:
        cursor.execute(f"SELECT 1 {scope_sql} LIMIT 1", scope_params)
        if cursor.fetchone() is None:
            raise _nobody_to_certify(covered_model)


def campaign_open(
    *,
    actor: User | None,
    title: str,
    covered_model: CoveredModel | None,
    deadline: dt.datetime,
    reminder_days: Sequence[int] = (),
    allow_late_confirmations: bool = True,
    progress: Callable[[int, int], None] | None = None,
) -> Campaign:
    """Open a campaign: one pending item per live key in scope, snapshotted in chunks of
    ``OPEN_CHUNK`` keys in one transaction; ``progress(done, total)`` hears of each chunk."""
    now = timezone.now()
    title = require_text(
        title, CampaignError("Give the campaign a title, e.g. 'Q4 recertification'.")
    )
    if deadline <= now:
        raise CampaignError("The deadline must be in the future.")
    days = clean_reminder_days(reminder_days)
    scope_sql, scope_params = _scope_sql(covered_model.pk if covered_model else None, now)
    with transaction.atomic():
        with connection.cursor() as cursor:
            cursor.execute(f"SELECT c.id {scope_sql} ORDER BY c.id", scope_params)
            key_ids = [row[0] for row in cursor.fetchall()]
        if not key_ids:
            raise _nobody_to_certify(covered_model)
        if progress is not None:
            progress(0, len(key_ids))
        campaign = Campaign.objects.create(
            title=title,
            covered_model=covered_model,
            deadline=deadline,
            reminder_days=days,
            allow_late_confirmations=allow_late_confirmations,
            opened_by=_user(actor),
            opened_at=now,
        )
        item_table = CertificationItem._meta.db_table
        campaign.item_count = 0
        for start in range(0, len(key_ids), OPEN_CHUNK):
            chunk = key_ids[start : start + OPEN_CHUNK]
            with connection.cursor() as cursor:
                cursor.execute(
                    f"INSERT INTO {item_table} "
                    "(campaign_id, credential_id, organisation_id, person_id, decision, note) "
                    f"SELECT %s, c.id, g.organisation_id, c.person_id, %s, '' {scope_sql} "
                    "AND c.id BETWEEN %s AND %s ORDER BY c.id",
                    [campaign.pk, Decision.PENDING.value, *scope_params, chunk[0], chunk[-1]],
                )
                campaign.item_count += cursor.rowcount
            if progress is not None:
                progress(start + len(chunk), len(key_ids))
        campaign.save(update_fields=["item_count"])
        CampaignReminder.objects.bulk_create(
            [
                CampaignReminder(
                    campaign=campaign, days_before=d, due_at=deadline - dt.timedelta(days=d)
                )
                for d in days
                # A step already past at opening would only repeat the opening notice.
                if deadline - dt.timedelta(days=d) > now
            ]
        )
        audit_record(
            actor=actor,
            action="certification.campaign_opened",
            obj=campaign,
            after={
                "title": title,
                "covered_model": covered_model.slug if covered_model else "all",
                "deadline": deadline.isoformat(),
                "reminder_days": days,
                "allow_late_confirmations": allow_late_confirmations,
                "items": campaign.item_count,
            },
        )
        _notify_admins(
            campaign,
            _pending_by_organisation(campaign),
            verb="certification.opened",
            subject=_opened_subject,
            body=_opened_body,
        )
    return campaign


def _lock_items(item_ids: Sequence[int]) -> list[CertificationItem]:
    return list(
        CertificationItem.objects.select_for_update(of=("self",))
        .filter(pk__in=list(item_ids))
        .select_related("campaign", "credential")
        .order_by("pk")
    )


def _record_decisions(
    *,
    actor: User | None,
    items: list[CertificationItem],
    decision: Decision,
    action: str,
    note: str,
    **extra: Any,
) -> None:
    """Stamp ``decision`` on the items and audit it: one event per organisation."""
    CertificationItem.objects.filter(pk__in=[i.pk for i in items]).update(
        decision=decision, decided_by=_user(actor), decided_at=timezone.now(), note=note
    )
    by_org: dict[int, list[CertificationItem]] = defaultdict(list)
    for item in items:
        by_org[item.organisation_id].append(item)
    for organisation_id, rows in sorted(by_org.items()):
        audit_record(
            actor=actor,
            action=action,
            object_type="certification.certificationitem",
            object_id=str(rows[0].pk) if len(rows) == 1 else "",
            organisation_id=organisation_id,
            reason=note,
            after={
                "items": [r.pk for r in rows],
                "credentials": [r.credential_id for r in rows],
                "campaigns": sorted({r.campaign_id for r in rows}),
                **extra,
            },
        )


def items_confirm(*, actor: User | None, item_ids: Sequence[int], note: str = "") -> DecisionResult:
    """Confirm each item: the person still needs access.

    A pending item is simply recorded. An item suspended at the deadline (when its
    campaign allows late confirmations) also loses its ``certification`` reason, and its
    key comes back only if nothing else holds it (the reactivation rule).
    """
    result = DecisionResult()
    with transaction.atomic(durable=True):
        items = _lock_items(item_ids)
        confirmed: list[CertificationItem] = []
        late: dict[int, list[CertificationItem]] = defaultdict(list)
        for item in items:
            if Decision.CONFIRMED not in DECISION_TRANSITIONS[item.decision]:
                result.skipped[item.pk] = f"already {item.get_decision_display().lower()}"
                continue
            if item.decision == Decision.SUSPENDED:
                if not item.campaign.allow_late_confirmations:
                    result.skipped[item.pk] = (
                        "the campaign no longer accepts confirmations; "
                        "ask compliance to restore the key"
                    )
                    continue
                late[item.campaign_id].append(item)
            confirmed.append(item)
        if not confirmed:
            return result
        for campaign_items in late.values():
            campaign = campaign_items[0].campaign
            changes = credentials_restore(
                credential_ids=sorted(i.credential_id for i in campaign_items),
                kind=CERTIFICATION_REASON,
                reference=campaign.reference,
                actor=actor,
                note=note or f"Late confirmation in certification campaign #{campaign.pk}",
            )
            result.restored += len(changes)
        result.confirmed = len(confirmed)
        _record_decisions(
            actor=actor,
            items=confirmed,
            decision=Decision.CONFIRMED,
            action="certification.confirmed",
            note=note,
            late=sorted(i.pk for rows in late.values() for i in rows),
            restored=result.restored,
        )
    return result


def item_confirm(*, actor: User | None, item_id: int, note: str = "") -> DecisionResult:
    """Confirm one item; a confirmation it cannot take is an error, as for ``item_revoke``."""
    result = items_confirm(actor=actor, item_ids=[item_id], note=note)
    if item_id in result.skipped:
        raise CampaignError(f"Not confirmed: {result.skipped[item_id]}.")
    return result


def item_revoke(*, actor: User | None, item_id: int, note: str = "") -> DecisionResult:
    """The person no longer needs access: revoke the key (final) and record it."""
    result = DecisionResult()
    with transaction.atomic(durable=True):
        items = _lock_items([item_id])
        if not items:
            raise CampaignError("No such certification item.")
        item = items[0]
        if Decision.REVOKED not in DECISION_TRANSITIONS[item.decision]:
            raise CampaignError(
                f"This person is already {item.get_decision_display().lower()} in this campaign."
            )
        if item.credential.state != CredentialState.REVOKED:
            credential_revoke(
                actor=actor,
                credential=item.credential,
                reason=note or f"Not recertified in certification campaign #{item.campaign_id}",
            )
        result.revoked = 1
        _record_decisions(
            actor=actor,
            items=[item],
            decision=Decision.REVOKED,
            action="certification.revoked",
            note=note,
        )
    return result


def campaign_send_reminders(*, now: dt.datetime | None = None) -> int:
    """Send every reminder step that is due, once (run by beat).

    Steps are claimed under a row lock that other runs skip, and marked sent in the same
    transaction, so overlapping runs never remind twice for the same step. When several
    steps of one campaign are due at once (beat was down), one reminder covers them.
    """
    now = now or timezone.now()
    sent = 0
    with transaction.atomic(durable=True):
        due = list(
            CampaignReminder.objects.select_for_update(skip_locked=True, of=("self",))
            .filter(sent_at__isnull=True, due_at__lte=now, campaign__state=CampaignState.OPEN)
            .select_related("campaign")
            .order_by("pk")
        )
        by_campaign: dict[int, list[CampaignReminder]] = defaultdict(list)
        for step in due:
            by_campaign[step.campaign_id].append(step)
        for steps in by_campaign.values():
            campaign = steps[0].campaign
            recipients = _notify_admins(
                campaign,
                _pending_by_organisation(campaign),
                verb="certification.reminder",
                subject=_reminder_subject,
                body=_reminder_body,
            )
            CampaignReminder.objects.filter(pk__in=[s.pk for s in steps]).update(
                sent_at=now, recipients=recipients
            )
            audit_record(
                actor=None,
                action="certification.reminded",
                obj=campaign,
                after={"days_before": [s.days_before for s in steps], "recipients": recipients},
            )
            sent += 1
    return sent


def campaign_close(
    *, campaign_id: int, actor: User | None = None, chunk: int | None = None
) -> Campaign | None:
    """At the deadline: suspend every key nobody confirmed (reason ``certification``).

    The keys are suspended in chunks of ``chunk`` (default ``_suspend_chunk()``), each with
    its own audit event; the ``certification.campaign_closed`` event spans all of their
    change-log rows, so the access notices take the close as one decision: one notice per
    person, covering every key of every chunk."""
    now = timezone.now()
    with transaction.atomic(durable=True):
        campaign = (
            Campaign.objects.select_for_update(skip_locked=True)
            .filter(pk=campaign_id, state=CampaignState.OPEN)
            .first()
        )
        if campaign is None:
            return None
        check_campaign_transition(campaign.state, CampaignState.CLOSED)
        # Locked in pk order, as the decision services do, so a racing confirmation
        # either lands first (and is kept) or sees the item suspended (a late one).
        pending = list(
            CertificationItem.objects.select_for_update(of=("self",))
            .filter(campaign=campaign, decision=Decision.PENDING)
            .order_by("pk")
            .values_list("pk", "credential_id", "credential__state")
        )
        gone = [pk for pk, _, state in pending if state == CredentialState.REVOKED]
        live = sorted(cid for _, cid, state in pending if state != CredentialState.REVOKED)
        if gone:
            CertificationItem.objects.filter(pk__in=gone).update(
                decision=Decision.REVOKED,
                decided_at=now,
                note="The key was revoked before the deadline.",
            )
        changed = 0
        first: int | None = None
        last: int | None = None
        chunk = chunk or _suspend_chunk()
        for start in range(0, len(live), chunk):
            changes = credentials_suspend(
                credential_ids=live[start : start + chunk],
                kind=CERTIFICATION_REASON,
                reference=campaign.reference,
                actor=actor,
                note=f"Not certified by the deadline of certification campaign #{campaign.pk}",
                part_of="certification.campaign_closed",
            )
            changed += len(changes)
            if changes.first_id is not None and changes.last_id is not None:
                first = changes.first_id if first is None else min(first, changes.first_id)
                last = changes.last_id if last is None else max(last, changes.last_id)
        suspended_by_org = _pending_by_organisation(campaign)
        CertificationItem.objects.filter(campaign=campaign, decision=Decision.PENDING).update(
            decision=Decision.SUSPENDED, suspended_at=now
        )
        campaign.state = CampaignState.CLOSED
        campaign.closed_at = now
        campaign.suspended_count = len(live)
        campaign.save(update_fields=["state", "closed_at", "suspended_count"])
        audit_record(
            actor=actor,
            action="certification.campaign_closed",
            obj=campaign,
            before={"state": CampaignState.OPEN},
            after={
                "state": CampaignState.CLOSED,
                "suspended": len(live),
                "keys_changed": changed,
                "revoked_before_deadline": len(gone),
                # Every chunk's change-log rows: the access notices read the close whole.
                "first_change_id": first,
                "last_change_id": last,
            },
        )
        _notify_admins(
            campaign,
            suspended_by_org,
            verb="certification.suspended",
            subject=_suspended_subject,
            body=_suspended_body,
        )
    return campaign


def campaign_close_due(*, now: dt.datetime | None = None) -> int:
    """Close every open campaign whose deadline has passed (run by beat); one transaction each."""
    now = now or timezone.now()
    due = list(
        Campaign.objects.filter(state=CampaignState.OPEN, deadline__lte=now)
        .order_by("deadline", "pk")
        .values_list("pk", flat=True)
    )
    return sum(1 for pk in due if campaign_close(campaign_id=pk) is not None)
