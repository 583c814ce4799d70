"""Writes on users and their staff roles: one transaction each, audited."""

from __future__ import annotations

from django.contrib.auth.models import Group
from django.db import transaction

from foundation.audit.services import audit_record
from portal.accounts.models import User
from portal.accounts.roles import STAFF_ROLES


def user_grant_role(*, actor: User | None, user: User, role: str, reason: str = "") -> None:
    if role not in STAFF_ROLES:
        raise ValueError(f"Unknown role {role!r}; expected one of {sorted(STAFF_ROLES)}.")
    with transaction.atomic():
        user.groups.add(Group.objects.get(name=role))
        audit_record(
            actor=actor, action="user.role_granted", obj=user, reason=reason, after={"role": role}
        )
    if hasattr(user, "_clearance_roles"):
        del user._clearance_roles


def user_revoke_role(*, actor: User | None, user: User, role: str, reason: str = "") -> None:
    with transaction.atomic(durable=True):
        user.groups.remove(Group.objects.get(name=role))
        audit_record(
            actor=actor, action="user.role_revoked", obj=user, reason=reason, before={"role": role}
        )
    if hasattr(user, "_clearance_roles"):
        del user._clearance_roles
