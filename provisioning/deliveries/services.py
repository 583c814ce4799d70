"""Writes on targets and delivery failures (ops)."""

from __future__ import annotations

from collections.abc import Iterable
from typing import Any

from django.db import transaction
from django.utils import timezone

from portal.audit.services import audit_record
from provisioning.catalog.models import CoveredModel
from provisioning.deliveries.models import DeliveryError, Failure, FailureState, Target, TargetKind


def target_create(
    *,
    actor: Any,
    kind: str,
    name: str,
    url: str,
    token: str = "",
    secrets: list[str] | None = None,
    covered_models: Iterable[CoveredModel] = (),
    enabled: bool = True,
    start_at_end: bool = False,
) -> Target:
    """A downstream target. Its credentials are encrypted at once and never shown again.

    A new target starts at the beginning of the change log so it receives every credential;
    ``start_at_end`` skips the history (for a target seeded by other means).
    """
    if kind not in TargetKind.values:
        raise DeliveryError(f"Unknown target kind {kind!r}: use one of {', '.join(TargetKind)}.")
    if kind == TargetKind.SCIM and secrets:
        raise DeliveryError("A SCIM target takes a bearer token, not signing secrets.")
    if kind == TargetKind.WEBHOOK and token:
        raise DeliveryError("A webhook target takes signing secrets, not a bearer token.")
    with transaction.atomic():
        target = Target(kind=kind, name=name, url=url, enabled=enabled)
        target.set_token(token)
        target.set_secrets(list(secrets or []))
        if start_at_end:
            from provisioning.deliveries.models import Change

            last = Change.objects.order_by("-xid", "-id").values_list("xid", "id").first()
            if last:
                target.cursor_xid, target.cursor_id = last
        target.save()
        models = list(covered_models)
        if models:
            target.covered_models.set(models)
        audit_record(
            actor=actor,
            action="target.created",
            obj=target,
            # Never the token or secrets: only that they were set.
            after={
                "kind": kind,
                "name": name,
                "url": url,
                "enabled": enabled,
                "has_token": bool(token),
                "secrets": len(secrets or []),
                "models": sorted(m.slug for m in models),
            },
        )
    return target


def failure_retry_dead(*, actor: Any, target: Target) -> int:
    """Put the target's dead deliveries back in the retry queue, due now."""
    with transaction.atomic():
        count = Failure.objects.filter(target=target, state=FailureState.DEAD).update(
            state=FailureState.FAILED, attempts=0, next_attempt_at=timezone.now()
        )
        audit_record(actor=actor, action="delivery.retry_dead", obj=target, after={"count": count})
        Target.objects.filter(pk=target.pk).update(retry_at=None)
    if count:
        from provisioning.deliveries.tasks import relay_target

        transaction.on_commit(lambda: relay_target.delay(target.pk))
    return count
