"""Writes on credentials: issue, rotate, revoke, and the person-level screening hold.

Every effective change bumps the version and appends a change-log row in the same
transaction as the audit event. The plaintext key leaves only through the return value
of ``credential_issue`` and ``credential_rotate``: it is never stored or logged. A rotation
by anyone but the key's owner (an organisation admin, staff, a superuser) returns no key at
all: the owner then collects a fresh one (invariant 7, "a key is shown to its owner only").
"""

from __future__ import annotations

import datetime as dt
from dataclasses import dataclass
from typing import Any

from django.apps import apps
from django.conf import settings
from django.db import connection, transaction
from django.db.models import Model
from django.utils import timezone

from foundation.actors import Actor
from foundation.audit.services import audit_record
from foundation.people import is_held_by_screening
from foundation.tokens import KEY_SCHEME, NewToken, generate_token
from provisioning.changelog.reactivation import write_reactivations
from provisioning.changelog.writer import (
    CREDENTIAL_TABLE,
    ChangeSet,
    audit_changes,
    insert_changes,
    new_batch_token,
    write_credential_changes,
    write_revocations,
)
from provisioning.credentials.models import (
    Credential,
    CredentialError,
    CredentialState,
    SeatsExhausted,
    check_credential_transition,
)
from provisioning.grants.models import LIVE_GRANT_STATES, Grant, GrantState


@dataclass(frozen=True)
class IssuedKey:
    """A credential and its plaintext key: show it once, then drop it."""

    credential: Credential
    key: str


@dataclass(frozen=True)
class RotatedKey:
    """A rotated credential. ``key`` is the plaintext only when the actor owns the key (or
    the actor is the system); for anyone else it is ``None`` and the plaintext is gone."""

    credential: Credential
    key: str | None


def _person_model() -> type[Model]:
    # A key belongs to the people side's person, named by label as its foreign key names it.
    return apps.get_model("eligibility", "Person")


def _owner_user_id(credential: Credential) -> int | None:
    people = _person_model()._default_manager.filter(pk=credential.person_id)
    user_id: int | None = people.values_list("user_id", flat=True).first()
    return user_id


def _is_key_owner(actor: Actor, owner_user_id: int | None) -> bool:
    """The system (no actor) acts for the owner; any signed-in person must be the owner."""
    if actor is None:
        return True
    return owner_user_id is not None and actor.pk == owner_user_id


def _audit(
    *, actor: Actor, action: str, credential: Credential, changes: ChangeSet, **extra: Any
) -> None:
    reason = extra.pop("reason", "")
    audit_changes(
        actor=actor,
        action=action,
        changes=changes,
        after={"key_prefix": credential.key_prefix, **extra},
        obj=credential,
        organisation_id=credential.grant.organisation_id,
        reason=reason,
    )


def credential_issue(
    *, actor: Actor, grant: Grant, person: Any, key: NewToken | None = None
) -> IssuedKey:
    """A new key for ``person`` on ``grant``, within its seats. Returns the plaintext once."""
    key = key or generate_token(KEY_SCHEME)
    with transaction.atomic():
        # Locking the grant serialises issues on it, so the seat count cannot be raced.
        grant = Grant.objects.select_for_update().select_related("organisation").get(pk=grant.pk)
        if grant.state not in LIVE_GRANT_STATES:
            raise CredentialError(f"The grant is {grant.state}: no key can be issued on it.")
        if person.organisation_id != grant.organisation_id:
            raise CredentialError("The person does not belong to the grant's organisation.")
        live = grant.credentials.exclude(state=CredentialState.REVOKED)
        if live.filter(person=person).exists():
            raise CredentialError("This person already has a key on this grant: rotate it.")
        if live.count() >= grant.seats:
            raise SeatsExhausted(
                f"All {grant.seats} seats of this grant are taken: revoke a key or ask for more."
            )
        held = is_held_by_screening(person)
        active = grant.state == GrantState.ACTIVE and not held
        token = new_batch_token()
        credential = Credential.objects.create(
            person=person,
            grant=grant,
            state=CredentialState.ACTIVE if active else CredentialState.SUSPENDED,
            held=held,
            version=1,
            key_prefix=key.prefix,
            key_hash=key.hash,
            updated_at=timezone.now(),
            change_batch=token,
        )
        changes = insert_changes(
            scope_sql="id = %s",
            scope_params=[credential.pk],
            token=token,
            cause="credential.issued",
        )
        _audit(
            actor=actor,
            action="credential.issued",
            credential=credential,
            changes=changes,
            person_id=person.pk,
            grant_id=grant.pk,
            state=credential.state,
        )
    return IssuedKey(credential=credential, key=key.plaintext)


def _locked(credential: Credential) -> Credential:
    return Credential.objects.select_for_update().select_related("grant").get(pk=credential.pk)


def credential_rotate(
    *, actor: Actor, credential: Credential, overlap_hours: float | None = None
) -> RotatedKey:
    """A new key for the credential; the old one stays valid for the overlap, then goes.

    Only the key's owner receives the new plaintext. When an admin or staff member
    rotates someone else's key the plaintext is dropped here, never returned: the owner
    collects a fresh key (``credential_collect``) while the old one still works.
    """
    hours = settings.CREDENTIAL_ROTATION_OVERLAP_HOURS if overlap_hours is None else overlap_hours
    key = generate_token(KEY_SCHEME)
    now = timezone.now()
    with transaction.atomic():
        current = _locked(credential)
        if current.state == CredentialState.REVOKED:
            raise CredentialError("A revoked key cannot be rotated: issue a new one.")
        keep_old = hours > 0
        changes = write_credential_changes(
            scope_sql="id = %s",
            scope_params=[current.pk],
            condition_sql="state <> 'revoked'",
            set_sql=(
                "previous_key_prefix = %s, previous_key_hash = %s, previous_key_expires_at = %s, "
                "key_prefix = %s, key_hash = %s"
            ),
            set_params=[
                current.key_prefix if keep_old else None,
                current.key_hash if keep_old else "",
                now + dt.timedelta(hours=hours) if keep_old else None,
                key.prefix,
                key.hash,
            ],
            cause="credential.rotated",
        )
        current.refresh_from_db()
        owner_user_id = _owner_user_id(current)
        shown = _is_key_owner(actor, owner_user_id)
        _audit(
            actor=actor,
            action="credential.rotated",
            credential=current,
            changes=changes,
            old_key_prefix=credential.key_prefix,
            old_key_valid_until=current.previous_key_expires_at,
            # Who rotated whose key: the actor is on the event; the owner is named here.
            key_owner_person_id=current.person_id,
            key_owner_user_id=owner_user_id,
            rotated_by_owner=shown,
        )
    return RotatedKey(credential=current, key=key.plaintext if shown else None)


def credential_collect(*, actor: Actor, credential: Credential) -> IssuedKey:
    """The owner's fresh key, shown once; any earlier key stops working at once.

    Checked under the row lock, so a suspension racing the request wins.
    """
    with transaction.atomic(durable=True):
        current = _locked(credential)
        if current.state != CredentialState.ACTIVE:
            raise CredentialError("Only an active key can be collected.")
        if not _is_key_owner(actor, _owner_user_id(current)):
            raise CredentialError("Only the person a key belongs to may collect it.")
        rotated = credential_rotate(actor=actor, credential=current, overlap_hours=0)
    if rotated.key is None:  # pragma: no cover - the owner check above makes this unreachable
        raise CredentialError("Only the person a key belongs to may collect it.")
    return IssuedKey(credential=rotated.credential, key=rotated.key)


def credential_revoke(*, actor: Actor, credential: Credential, reason: str = "") -> Credential:
    now = timezone.now()
    with transaction.atomic():
        current = _locked(credential)
        check_credential_transition(current.state, CredentialState.REVOKED)
        changes = write_revocations(
            scope_sql="id = %s", scope_params=[current.pk], cause="credential.revoked", at=now
        )
        current.refresh_from_db()
        _audit(
            actor=actor,
            action="credential.revoked",
            credential=current,
            changes=changes,
            reason=reason,
        )
    return current


def credential_expire_rotated_keys(*, now: dt.datetime | None = None) -> int:
    """Drop the old keys whose rotation overlap has ended (run by beat)."""
    now = now or timezone.now()
    with transaction.atomic(durable=True):
        due = Credential.objects.filter(previous_key_expires_at__lte=now)
        prefixes = list(due.values_list("previous_key_prefix", flat=True)[:1000])
        if not prefixes:
            return 0
        count = due.update(
            previous_key_prefix=None, previous_key_hash="", previous_key_expires_at=None
        )
        audit_record(
            actor=None,
            action="credential.rotated_key_expired",
            object_type="credentials.credential",
            after={"count": count, "key_prefixes": sorted(p for p in prefixes if p)},
        )
    return count


def _person_audit(
    *, actor: Actor, action: str, person_id: int, reason: str, changes: ChangeSet
) -> None:
    person: Any = _person_model()._default_manager.get(pk=person_id)
    audit_changes(
        actor=actor,
        action=action,
        changes=changes,
        after={"reason": "compliance"},
        obj=person,
        organisation_id=person.organisation_id,
        reason=reason,
    )


def credential_hold_person(*, person_id: int, actor: Actor, reason: str) -> ChangeSet:
    """Suspend every key of a person held by screening (reason: compliance)."""
    with transaction.atomic():
        changes = write_credential_changes(
            scope_sql="person_id = %s AND state <> 'revoked'",
            scope_params=[person_id],
            condition_sql="state = 'active'",
            set_sql="state = 'suspended', held = TRUE",
            cause="credential.held:compliance",
        )
        # Keys already suspended for another reason are held too, so no restore of
        # their grant can bring them back while the hold lasts.
        with connection.cursor() as cursor:
            cursor.execute(
                f"UPDATE {CREDENTIAL_TABLE} SET held = TRUE "  # noqa: S608
                "WHERE person_id = %s AND state <> 'revoked' AND NOT held",
                [person_id],
            )
        _person_audit(
            actor=actor,
            action="credential.person_held",
            person_id=person_id,
            reason=reason,
            changes=changes,
        )
    return changes


def credential_release_person(*, person_id: int, actor: Actor, reason: str) -> ChangeSet:
    """Lift the screening hold; keys whose grant is active come back."""
    now = timezone.now()
    with transaction.atomic():
        with connection.cursor() as cursor:
            cursor.execute(
                f"UPDATE {CREDENTIAL_TABLE} SET held = FALSE "  # noqa: S608
                "WHERE person_id = %s AND held",
                [person_id],
            )
        changes = write_reactivations(
            scope_sql="person_id = %s",
            scope_params=[person_id],
            cause="credential.released:compliance",
            now=now,
        )
        _person_audit(
            actor=actor,
            action="credential.person_released",
            person_id=person_id,
            reason=reason,
            changes=changes,
        )
    return changes
