"""Writes on targets and delivery failures (ops)."""

from __future__ import annotations

from collections.abc import Iterable

from django.db import transaction
from django.utils import timezone

from foundation.actors import Actor
from foundation.audit.services import audit_record
from foundation.input_guard import has_control_characters
from provisioning.catalog.models import CoveredModel
from provisioning.connectors.network import target_url_problem
from provisioning.deliveries.models import DeliveryError, Failure, FailureState, Target, TargetKind


def _check_target_url(url: str, name: str) -> None:
    """The target network rules at save time; every connection checks them again."""
    if has_control_characters(name) or has_control_characters(url):
        raise DeliveryError("A target's name and URL may not contain control characters.")
    problem = target_url_problem(url)
    if problem is not None:
        raise DeliveryError(problem)


def target_create(
    *,
    actor: Actor,
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
    _check_target_url(url, name)
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


def target_update(
    *,
    actor: Actor,
    target: Target,
    name: str,
    url: str,
    enabled: bool,
    covered_models: Iterable[CoveredModel] = (),
    token: str = "",
    secret: str = "",
) -> Target:
    """Change a target's settings; an empty ``token``/``secret`` keeps the stored one.

    A new webhook secret goes first and the previous newest is kept second, so receivers
    still verifying with the old secret keep working while they rotate.
    """
    if target.kind == TargetKind.SCIM and secret:
        raise DeliveryError("A SCIM target takes a bearer token, not signing secrets.")
    if target.kind == TargetKind.WEBHOOK and token:
        raise DeliveryError("A webhook target takes signing secrets, not a bearer token.")
    _check_target_url(url, name)
    with transaction.atomic():
        locked = Target.objects.select_for_update().get(pk=target.pk)
        before = {
            "name": locked.name,
            "url": locked.url,
            "enabled": locked.enabled,
            "models": sorted(locked.covered_models.values_list("slug", flat=True)),
        }
        locked.name, locked.url, locked.enabled = name, url, enabled
        if token:
            locked.set_token(token)
        rotated = False
        if secret:
            previous = list(locked.to_config().secrets[:1])
            locked.set_secrets([secret, *previous])
            rotated = True
        locked.save()
        models = list(covered_models)
        locked.covered_models.set(models)
        audit_record(
            actor=actor,
            action="target.updated",
            obj=locked,
            before=before,
            # Never the token or secrets: only that they changed.
            after={
                "name": name,
                "url": url,
                "enabled": enabled,
                "models": sorted(m.slug for m in models),
                "token_replaced": bool(token),
                "secret_rotated": rotated,
            },
        )
    return locked


def target_replay(*, actor: Actor, target: Target, reason: str) -> Target:
    """Send the target every credential again: its cursor goes back to the log's start.

    For a target that lost its data (a server restored from an old backup, the demo's
    in-memory SCIM server after a restart). The relay coalesces per credential and pushes
    current states with their versions, so a replay is safe to repeat. A relay pass
    running now loses its lease and cannot move the cursor forward again.
    """
    with transaction.atomic():
        locked = Target.objects.select_for_update().get(pk=target.pk)
        before = {"cursor_xid": locked.cursor_xid, "cursor_id": locked.cursor_id}
        locked.cursor_xid = locked.cursor_id = 0
        locked.lease_until, locked.lease_token = None, ""
        locked.retry_at = None
        locked.save(
            update_fields=[
                "cursor_xid",
                "cursor_id",
                "lease_until",
                "lease_token",
                "retry_at",
                "updated_at",
            ]
        )
        audit_record(
            actor=actor,
            action="target.replayed",
            obj=locked,
            reason=reason,
            before=before,
            after={"cursor_xid": 0, "cursor_id": 0},
        )
        if locked.enabled:
            from provisioning.deliveries.tasks import relay_target

            target_id = locked.pk
            transaction.on_commit(lambda: relay_target.delay(target_id))
    return locked


def failure_retry_dead(*, actor: Actor, target: Target) -> int:
    """Put the target's dead deliveries back in the retry queue, due now."""
    with transaction.atomic(durable=True):
        count = Failure.objects.filter(target=target, state=FailureState.DEAD).update(
            state=FailureState.FAILED, attempts=0, next_attempt_at=timezone.now()
        )
        audit_record(actor=actor, action="delivery.retry_dead", obj=target, after={"count": count})
        Target.objects.filter(pk=target.pk).update(retry_at=None)
    if count:
        from provisioning.deliveries.tasks import relay_target

        transaction.on_commit(lambda: relay_target.delay(target.pk))
    return count
