"""Writing audit events. Callers invoke ``audit_record`` inside their own transaction."""

from __future__ import annotations

import datetime as dt
import hashlib
import logging
from typing import Any

from django.db import connection, models, transaction
from django.db.models import Subquery
from django.utils import timezone

from foundation.actors import Actor
from foundation.audit.chain import canonical_json, event_bytes
from foundation.audit.models import GENESIS_HASH, AuditEvent, AuditOutOfOrder
from foundation.audit.tree import tree_append
from foundation.request_context import current_request_context

# Any constant: every audit writer takes this transaction-scoped lock on PostgreSQL,
# so links are made one at a time and the chain cannot fork. SQLite writers are
# already serialised by BEGIN IMMEDIATE (see settings).
_CHAIN_LOCK_KEY = 0x0A0D17

# Writers' clocks may differ by a little (the event is still recorded out of order and the
# date filter stays exact); by more than this, a clock is wrong and the logs say so.
CLOCK_SKEW_WARNING = dt.timedelta(seconds=5)

logger = logging.getLogger(__name__)


def _lock_chain() -> None:
    if connection.vendor == "postgresql":
        with connection.cursor() as cursor:
            cursor.execute("SELECT pg_advisory_xact_lock(%s)", [_CHAIN_LOCK_KEY])


def _object_identity(obj: models.Model | None) -> tuple[str, str, str]:
    if obj is None:
        return "", "", ""
    meta = obj._meta
    return f"{meta.app_label}.{meta.model_name}", str(obj.pk), str(obj)[:200]


def audit_record(
    *,
    actor: Actor,
    action: str,
    obj: models.Model | None = None,
    object_type: str = "",
    object_id: str = "",
    organisation_id: int | None = None,
    reason: str = "",
    before: Any = None,
    after: Any = None,
    digest: str = "",
) -> AuditEvent:
    """Append one event to the chain, in the caller's transaction.

    ``actor`` is a user or ``None`` for the system (a beat task, a gateway).
    """
    obj_type, obj_id, obj_repr = _object_identity(obj)
    context = current_request_context()
    user = actor if actor is not None and actor.is_authenticated else None
    with transaction.atomic():
        _lock_chain()
        # The last link, and the latest stamp so far (the created_at index's last entry),
        # in one query: an event stamped before that is named (AuditOutOfOrder), so that
        # date filters can keep reading the chain's order as time order.
        latest_stamp = AuditEvent.objects.order_by("-created_at").values("created_at")[:1]
        last, latest = (
            AuditEvent.objects.order_by("-id")
            .annotate(latest=Subquery(latest_stamp))
            .values_list("hash", "latest")
            .first()
        ) or (None, None)
        event = AuditEvent(
            created_at=timezone.now(),
            actor=user,
            actor_label=user.get_username() if user else "system",
            action=action,
            object_type=object_type or obj_type,
            object_id=str(object_id or obj_id),
            object_repr=obj_repr,
            organisation_id=organisation_id,
            reason=reason,
            before=canonical_json(before),
            after=canonical_json(after),
            digest=digest,
            request_id=context.request_id,
            ip=context.ip,
            prev_hash=last or GENESIS_HASH,
        )
        data = event_bytes(event)
        event.hash = hashlib.sha256(data).hexdigest()
        event.save(force_insert=True)
        if latest is not None and event.created_at < latest:
            AuditOutOfOrder.objects.create(event_id=event.pk)
            if latest - event.created_at > CLOCK_SKEW_WARNING:
                # Every event until this clock reaches that stamp is out of order, which
                # widens the date filter's id range: a clock is wrong, say so loudly.
                logger.warning(
                    "audit event %s is stamped %s behind the latest audit stamp %s: a "
                    "server clock is off (check NTP on the web and worker hosts)",
                    event.pk,
                    latest - event.created_at,
                    latest.isoformat(),
                )
        tree_append(event=event, data=data)
    return event
