"""Credential-level suspension, revocation and restore for bulk actions filtered by person.

A person rule (US persons only, a denied citizenship or residence) takes a person's keys
away without touching the organisation's grant. Each such key carries a reason row
(``CredentialReason``) so that a restore removes exactly its own reason, as for grants.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

from django.db import transaction
from django.utils import timezone

from foundation.actors import Actor
from provisioning.bulk.models import CredentialReason
from provisioning.changelog.reactivation import write_reactivations
from provisioning.changelog.writer import (
    ChangeSet,
    audit_changes,
    write_revocations,
    write_suspensions,
)


def _ids_sql(ids: Sequence[int]) -> tuple[str, list[int]]:
    if not ids:
        return "id IN (NULL)", []
    return f"id IN ({', '.join(['%s'] * len(ids))})", [int(i) for i in ids]


def _audit_reason(
    *,
    actor: Actor,
    action: str,
    kind: str,
    reference: str,
    note: str,
    matched: int,
    changes: ChangeSet,
    **more: Any,
) -> None:
    """The event of one reason added to or removed from keys, with what it changed."""
    audit_changes(
        actor=actor,
        action=action,
        changes=changes,
        after={"reason": kind, "reference": reference, "matched": matched, **more},
        object_type="credentials.credential",
        reason=note or f"{kind}:{reference}",
    )


def add_reasons(*, credential_ids: Sequence[int], kind: str, reference: str) -> None:
    now = timezone.now()
    CredentialReason.objects.bulk_create(
        [
            CredentialReason(credential_id=pk, kind=kind, reference=reference, created_at=now)
            for pk in credential_ids
        ],
        ignore_conflicts=True,
        batch_size=2000,
    )


def credentials_suspend(
    *,
    credential_ids: Sequence[int],
    kind: str,
    reference: str,
    actor: Actor,
    note: str,
    part_of: str = "",
) -> ChangeSet:
    """Add the reason to each key; active ones become suspended. ``part_of`` names the
    decision (an audit action) this call is one chunk of, recorded on its event, so readers
    of the log take the decision whole rather than each chunk as a decision of its own."""
    scope, params = _ids_sql(credential_ids)
    with transaction.atomic():
        add_reasons(credential_ids=credential_ids, kind=kind, reference=reference)
        changes = write_suspensions(
            scope_sql=scope, scope_params=params, cause=f"credential.suspended:{kind}"
        )
        _audit_reason(
            actor=actor,
            action="credential.bulk_suspended",
            kind=kind,
            reference=reference,
            note=note,
            matched=len(credential_ids),
            changes=changes,
            **({"part_of": part_of} if part_of else {}),
        )
    return changes


def credentials_revoke(*, credential_ids: Sequence[int], actor: Actor, note: str) -> ChangeSet:
    scope, params = _ids_sql(credential_ids)
    now = timezone.now()
    with transaction.atomic():
        changes = write_revocations(
            scope_sql=scope, scope_params=params, cause="credential.revoked", at=now
        )
        audit_changes(
            actor=actor,
            action="credential.bulk_revoked",
            changes=changes,
            after={"matched": len(credential_ids)},
            object_type="credentials.credential",
            reason=note,
        )
    return changes


def credentials_restore(
    *,
    credential_ids: Sequence[int],
    kind: str,
    reference: str,
    actor: Actor,
    note: str,
    keep_suspended: set[int] | None = None,
) -> ChangeSet:
    """Remove the one reason; keys left with none, on an active grant, come back."""
    keep = keep_suspended or set()
    restorable = [pk for pk in credential_ids if pk not in keep]
    restore_scope, restore_params = _ids_sql(restorable)
    now = timezone.now()
    with transaction.atomic():
        CredentialReason.objects.filter(
            credential_id__in=restorable, kind=kind, reference=reference
        ).delete()
        changes = write_reactivations(
            scope_sql=restore_scope,
            scope_params=restore_params,
            cause=f"credential.restored:{kind}",
            now=now,
        )
        _audit_reason(
            actor=actor,
            action="credential.bulk_restored",
            kind=kind,
            reference=reference,
            note=note,
            matched=len(credential_ids),
            changes=changes,
            kept_suspended=len(credential_ids) - len(restorable),
        )
    return changes
