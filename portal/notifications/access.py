"""Access-change notices: one in-app notice and one email per person and decision.

``access_notices_dispatch`` (beat, every few seconds) reads the audit log past its cursor,
turns each committed access decision into notices for the affected keys' holders and
their organisations' admins, queues each organisation's webhook message, and moves the
cursor, all in one transaction. Emails leave afterwards, in chunks, from a task
(``notice_emails_send``): the decision's own commit never waits for any of it.
"""

from __future__ import annotations

import copy
import datetime as dt
import hashlib
import logging
from collections.abc import Sequence
from dataclasses import dataclass, field
from email.utils import formatdate, make_msgid
from typing import Any

from django.conf import settings
from django.core.mail import get_connection
from django.core.mail.message import EmailMessage, SafeMIMEMultipart, SafeMIMEText
from django.core.mail.utils import DNS_NAME
from django.db import connection, transaction
from django.db.models import Max
from django.urls import reverse
from django.utils import timezone
from django.utils.formats import number_format

from foundation.audit.models import AuditEvent
from portal.notifications.decisions import (
    DECISION_ACTIONS,
    OUTCOME_VERBS,
    AccessDecision,
    OrganisationShare,
    Outcome,
    access_decision_read,
)
from portal.notifications.models import (
    AccessNoticeCursor,
    Notification,
    OrganisationWebhook,
    WebhookDelivery,
)
from portal.partners.models import MemberRole, Membership, Organisation

logger = logging.getLogger(__name__)

EMAIL_CHUNK = 100
EVENTS_PER_RUN = 50
# An email not handed over this long after its notice was written is sent again by beat.
EMAIL_GRACE = dt.timedelta(minutes=2)


@dataclass(frozen=True)
class Notice:
    subject: str
    body: str


def _people(count: int) -> str:
    return "1 person" if count == 1 else f"{number_format(count, force_grouping=True)} people"


def _and(names: Sequence[str]) -> str:
    names = sorted(names)
    if len(names) <= 1:
        return "".join(names)
    return ", ".join(names[:-1]) + " and " + names[-1]


def _under(decision: AccessDecision) -> str:
    return f" under determination {decision.reference}" if decision.reference else ""


def notice_text(
    *, decision: AccessDecision, share: OrganisationShare, organisation: Organisation, admin: bool
) -> Notice:
    """The notice one recipient gets: an admin hears about the organisation's people, a
    holder about their own access. Nothing of another organisation appears."""
    models = _and(list(share.models.values()))
    verb = OUTCOME_VERBS[decision.outcome]
    when = timezone.localtime(decision.occurred_at).date().isoformat()
    count = len(share.people)
    if admin:
        subject = (
            f"{models} access for {_people(count)} of {organisation.legal_name} was {verb} "
            f"on {when}{_under(decision)}"
        )
    else:
        subject = f"Your {models} access was {verb} on {when}{_under(decision)}"
    lines = [subject + "."]
    keys = number_format(share.keys, force_grouping=True)
    lines.append(f"\nWhat changed: {keys} key{'s' if share.keys != 1 else ''} on {models}.")
    if admin:
        names = sorted(share.people.values())
        shown = ", ".join(names[:20]) + (f" and {len(names) - 20} more" if len(names) > 20 else "")
        lines.append(f"People: {shown}.")
    if decision.reason_words:
        lines.append(f"Why: {decision.reason_words}")
    if decision.reason_given and decision.outcome != Outcome.HELD:
        lines.append(f"Reason given: {decision.reason_given}")
    if decision.legal_basis:
        effective = (
            f", in force from {decision.effective_date.isoformat()}"
            if decision.effective_date
            else ""
        )
        lines.append(
            f"Legal basis: {decision.legal_basis} (determination {decision.reference}{effective})"
        )
    lines.append(f"What happens next: {decision.next_steps}")
    lines.append(f"Who to contact: {settings.ACCESS_NOTICE_CONTACT}")
    return Notice(subject=subject, body="\n".join(lines))


def webhook_payload(
    *, decision: AccessDecision, share: OrganisationShare, organisation: Organisation
) -> dict[str, Any]:
    """The same event for the organisation's own endpoint (Standard Webhooks ``type``/``data``)."""
    return {
        "type": decision.outcome,
        "data": {
            "decision": decision.key,
            "organisation": organisation.slug,
            "occurred_at": decision.occurred_at.isoformat(),
            "models": [
                {"slug": share.model_slugs[pk], "name": name}
                for pk, name in sorted(share.models.items())
            ],
            "keys": share.keys,
            "people": len(share.people),
            "key_prefixes": sorted(share.key_prefixes),
            "reason": decision.reason_words,
            "reference": decision.reference,
            "legal_basis": decision.legal_basis,
            "what_happens_next": decision.next_steps,
        },
    }


def webhook_message_id(decision_key: str, organisation_id: int) -> str:
    digest = hashlib.sha256(f"{decision_key}:{organisation_id}".encode()).hexdigest()
    return "msg_" + digest[:32]


def _memberships(
    organisation_ids: Sequence[int],
) -> tuple[dict[int, set[int]], set[tuple[int, int]]]:
    """Each organisation's active admins, and the (organisation, user) pairs of its active
    members: a holder who left hears nothing. One query over the organisations'
    memberships: naming every holder instead made a stop of 100,000 keys send a list of
    100,000 ids."""
    admins: dict[int, set[int]] = {}
    members: set[tuple[int, int]] = set()
    rows = Membership.objects.filter(
        organisation_id__in=organisation_ids, user__is_active=True
    ).values_list("organisation_id", "user_id", "role")
    for org_id, user_id, role in rows:
        members.add((org_id, user_id))
        if role == MemberRole.ADMIN:
            admins.setdefault(org_id, set()).add(user_id)
    return admins, members


@dataclass
class _Notices:
    """The notices of one decision: each distinct text once, and which recipient reads
    which (every holder of an organisation reads the same words, and so does every admin)."""

    verb: str
    link: str
    texts: list[tuple[str, str, str]] = field(default_factory=list)  # subject, body, key
    recipients: list[tuple[int, int]] = field(default_factory=list)  # user id, text index

    def add_text(self, notice: Notice, decision_key: str) -> int:
        self.texts.append((notice.subject, notice.body, decision_key))
        return len(self.texts) - 1


def _notices_for(decision: AccessDecision) -> tuple[_Notices, list[WebhookDelivery]]:
    org_ids = sorted(decision.shares)
    organisations = Organisation.objects.in_bulk(org_ids)
    admins, members = _memberships(org_ids)
    endpoints = OrganisationWebhook.objects.filter(organisation_id__in=org_ids, enabled=True)
    by_org: dict[int, list[OrganisationWebhook]] = {}
    for endpoint in endpoints:
        by_org.setdefault(endpoint.organisation_id, []).append(endpoint)
    now = timezone.now()
    notices = _Notices(verb=decision.outcome, link=reverse("credentials:list"))
    deliveries: list[WebhookDelivery] = []
    for org_id in org_ids:
        share, organisation = decision.shares[org_id], organisations[org_id]
        if decision.outcome == Outcome.ROTATED and decision.actor_id in share.holders:
            # A holder collecting their own new key is not news to anyone.
            continue
        org_admins = admins.get(org_id, set())
        recipients = org_admins | {u for u in share.holders if (org_id, u) in members}
        # The person who took the decision (a rotation, a removal) knows already.
        recipients.discard(decision.actor_id or 0)
        decision_key = f"{decision.key}:org:{org_id}"
        texts = {
            admin: notices.add_text(
                notice_text(decision=decision, share=share, organisation=organisation, admin=admin),
                decision_key,
            )
            for admin in (True, False)
        }
        notices.recipients += [
            (user_id, texts[user_id in org_admins]) for user_id in sorted(recipients)
        ]
        payload = webhook_payload(decision=decision, share=share, organisation=organisation)
        for endpoint in by_org.get(org_id, []):
            deliveries.append(
                WebhookDelivery(
                    endpoint=endpoint,
                    message_id=webhook_message_id(decision.key, org_id),
                    event_type=decision.outcome,
                    payload=payload,
                    next_attempt_at=now,
                    created_at=now,
                )
            )
    return notices, deliveries


# One statement for all of a decision's notices: each text travels once, with the
# recipients as two arrays. A notice the person already has is skipped by the
# one-per-decision constraint; RETURNING names only the rows really written.
_INSERT_NOTICES = """
INSERT INTO notifications_notification
    (user_id, verb, message, body, link, decision_key, created_at)
SELECT r.user_id, %s, t.subject, t.body, %s, t.decision_key, %s
FROM unnest(%s::bigint[], %s::bigint[]) WITH ORDINALITY AS r(user_id, text, n)
JOIN unnest(%s::text[], %s::text[], %s::text[])
    WITH ORDINALITY AS t(subject, body, decision_key, text) USING (text)
ORDER BY r.n
ON CONFLICT DO NOTHING
RETURNING id
"""


def _notices_write(notices: _Notices) -> list[int]:
    """Write the notices none of their recipients has yet; the ids of those written."""
    if not notices.recipients:
        return []
    if connection.vendor == "postgresql":
        subjects, bodies, keys = (list(column) for column in zip(*notices.texts, strict=True))
        users, texts = (list(column) for column in zip(*notices.recipients, strict=True))
        with connection.cursor() as cursor:
            cursor.execute(
                _INSERT_NOTICES,
                [
                    notices.verb,
                    notices.link,
                    timezone.now(),
                    users,
                    [text + 1 for text in texts],  # ORDINALITY counts from 1
                    subjects,
                    bodies,
                    keys,
                ],
            )
            return sorted(row[0] for row in cursor.fetchall())
    # bulk_create with ignore_conflicts returns no primary keys, so the rows written are
    # those above the highest id before the insert: SQLite writes one transaction at a time,
    # so no other writer's notice can land between the two reads.
    before = Notification.objects.aggregate(top=Max("id"))["top"] or 0
    Notification.objects.bulk_create(
        (
            Notification(
                user_id=user_id,
                verb=notices.verb,
                message=notices.texts[text][0],
                body=notices.texts[text][1],
                link=notices.link,
                decision_key=notices.texts[text][2],
            )
            for user_id, text in notices.recipients
        ),
        ignore_conflicts=True,
    )
    return list(
        Notification.objects.filter(id__gt=before).order_by("id").values_list("id", flat=True)
    )


def _cursor() -> AccessNoticeCursor | None:
    AccessNoticeCursor.objects.get_or_create(pk=1)
    return AccessNoticeCursor.objects.select_for_update(skip_locked=True).filter(pk=1).first()


def access_notices_dispatch(*, limit: int = EVENTS_PER_RUN) -> int:
    """Turn committed access decisions past the cursor into notices; returns how many were
    written. Several workers are safe: the cursor row is claimed with SKIP LOCKED."""
    with transaction.atomic(durable=True):
        cursor = _cursor()
        if cursor is None:
            return 0
        # The ceiling is read first: an event that commits after it is read next time,
        # never skipped (ids are in commit order under the audit chain's lock).
        top = AuditEvent.objects.aggregate(top=Max("id"))["top"] or 0
        events = list(
            AuditEvent.objects.filter(
                id__gt=cursor.last_event_id, id__lte=top, action__in=DECISION_ACTIONS
            ).order_by("id")[:limit]
        )
        reached = events[-1].pk if len(events) == limit else top
        written: list[int] = []
        deliveries: list[WebhookDelivery] = []
        for event in events:
            decision = access_decision_read(event)
            if decision is None:
                continue
            notices, messages = _notices_for(decision)
            written += _notices_write(notices)
            deliveries += WebhookDelivery.objects.bulk_create(messages, ignore_conflicts=True)
        cursor.last_event_id = max(cursor.last_event_id, reached)
        cursor.updated_at = timezone.now()
        cursor.save(update_fields=["last_event_id", "updated_at"])
        if written:
            transaction.on_commit(lambda: _enqueue_email_ids(written))
        if deliveries:
            transaction.on_commit(_enqueue_webhooks)
    return len(written)


def _enqueue_email_ids(ids: list[int]) -> None:
    from portal.notifications.tasks import send_notice_emails

    for start in range(0, len(ids), EMAIL_CHUNK):
        try:
            send_notice_emails.delay(ids[start : start + EMAIL_CHUNK])
        except Exception:  # the row is the truth: beat sends what a lost message left
            logger.exception("Could not queue access-notice emails; beat will send them.")


def _enqueue_webhooks() -> None:
    from portal.notifications.tasks import deliver_organisation_webhook

    due = WebhookDelivery.objects.filter(
        state__in=("pending", "failed"), next_attempt_at__lte=timezone.now()
    ).values_list("id", flat=True)
    for delivery_id in due[:500]:
        try:
            deliver_organisation_webhook.delay(delivery_id)
        except Exception:
            logger.exception("Could not queue a webhook delivery; beat will retry it.")


class _SharedText:
    """The MIME text of one notice email, built once for every recipient who reads the
    same words (a chunk's holders of one organisation, or its admins)."""

    def __init__(self, *, subject: str, body: str, date: str) -> None:
        self.email = EmailMessage(
            subject=subject,
            body=body,
            from_email=settings.DEFAULT_FROM_EMAIL,
            headers={"Date": date},
        )
        self.mime: SafeMIMEText | SafeMIMEMultipart = self.email.message()

    def __deepcopy__(self, memo: dict[int, Any]) -> _SharedText:
        return self  # never changed once built: copies of a message may share it


class _NoticeEmail(EmailMessage):
    """One recipient's copy of a shared notice email: only the address and the
    Message-ID are its own."""

    def __init__(self, *, text: _SharedText, to: str) -> None:
        super().__init__(
            subject=text.email.subject,
            body=text.email.body,
            from_email=text.email.from_email,
            to=[to],
        )
        self.text = text

    def message(self) -> SafeMIMEText | SafeMIMEMultipart:
        msg: SafeMIMEText | SafeMIMEMultipart = copy.copy(self.text.mime)
        # Deleting gives the copy a header list of its own, so the shared text's
        # headers are never changed by the ones set here.
        del msg["Message-ID"]
        msg["To"] = ", ".join(self.to)  # checked like any address header
        msg["Message-ID"] = make_msgid(domain=DNS_NAME)
        return msg


def notice_emails_send(*, notification_ids: Sequence[int]) -> int:
    """Email each of these notices not emailed yet: one message per recipient, claimed first
    so two workers never send the same one. Returns how many were sent."""
    now = timezone.now()
    with transaction.atomic(durable=True):
        # Claimed by primary key alone: a filter on the key too would let the planner pick
        # the partial index of unsent emails, which statistics taken before a large
        # dispatch think tiny, and read every unsent notice for each chunk.
        rows = list(
            Notification.objects.select_for_update(skip_locked=True, of=("self",))
            .filter(pk__in=list(notification_ids), emailed_at__isnull=True)
            .order_by("pk")
            .values_list("pk", "decision_key", "message", "body", "link", "user__email")
        )
        claimed = [
            (pk, subject, body, link, address)
            for pk, key, subject, body, link, address in rows
            if key  # access notices only
        ]
        Notification.objects.filter(pk__in=[row[0] for row in claimed]).update(emailed_at=now)
    date = formatdate(localtime=settings.EMAIL_USE_LOCALTIME)
    site = settings.SITE_URL.rstrip("/")
    texts: dict[tuple[str, str, str], _SharedText] = {}
    messages: list[EmailMessage] = []
    for _pk, subject, body, link, address in claimed:
        if not address:
            continue
        text = texts.get((subject, body, link))
        if text is None:
            text = texts[subject, body, link] = _SharedText(
                subject=settings.ACCOUNT_EMAIL_SUBJECT_PREFIX + subject,
                body=f"{body}\n\n{site}{link}",
                date=date,
            )
        messages.append(_NoticeEmail(text=text, to=address))
    if not messages:
        return 0
    try:
        get_connection(fail_silently=False).send_messages(messages)
    except Exception:
        # Hand them back to beat rather than lose them.
        Notification.objects.filter(pk__in=[row[0] for row in claimed]).update(emailed_at=None)
        raise
    return len(messages)


def notice_emails_pending() -> list[int]:
    """Notices whose email a lost message or a failed send left behind."""
    due = timezone.now() - EMAIL_GRACE
    return list(
        Notification.objects.filter(emailed_at__isnull=True, created_at__lte=due)
        .exclude(decision_key="")
        .order_by("id")
        .values_list("id", flat=True)[:1000]
    )


def access_notices_catch_up() -> None:
    """Beat's safety net: re-queue unsent emails and due webhook deliveries."""
    _enqueue_email_ids(notice_emails_pending())
    _enqueue_webhooks()
