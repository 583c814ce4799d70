"""Writes from a partner's identity provider: one transaction each, audited.

A SCIM user is a person the organisation wants in Clearance. While active with an email
address, they are invited (the partners' invitation service); once they accept, they are
a member. ``active: false`` or DELETE removes their membership with ``membership_remove``
(which revokes every key they hold on the organisation's grants) and withdraws any open
invitation, in the same transaction.
Every change locks the row first, so concurrent PATCHes apply one after the other.
"""

from __future__ import annotations

import uuid
from typing import Any

from django.db import IntegrityError, transaction

from foundation.audit.services import audit_record
from foundation.tokens import SCIM_SCHEME, generate_token
from foundation.transitions import revoke_once
from portal.accounts.models import User
from portal.partners.errors import InvitationError, MembershipError
from portal.partners.invitations import invitation_create, invitation_revoke
from portal.partners.models import Invitation, MemberRole, Membership
from portal.partners.services import membership_remove
from portal.scim.errors import ScimError, invalid_value
from portal.scim.models import ScimGroup, ScimGroupMember, ScimToken, ScimUser


def check_version(current: int, if_match: str | None) -> None:
    """412 when the client's ``If-Match`` names another version than the stored one."""
    if not if_match or if_match.strip() == "*":
        return
    wanted = {tag.strip().removeprefix("W/").strip('"') for tag in if_match.split(",")}
    if str(current) not in wanted:
        raise ScimError(
            412,
            f'The resource changed: its version is W/"{current}", not {if_match}. '
            "Read it again and retry.",
        )


def primary_email(emails: list[dict[str, Any]]) -> str:
    for email in emails:
        if email.get("primary"):
            return str(email["value"]).lower()
    return str(emails[0]["value"]).lower() if emails else ""


def _store_user(user: ScimUser, document: dict[str, Any]) -> None:
    user.user_name = document["userName"]
    user.external_id = document["externalId"]
    user.display_name = document["displayName"]
    user.name = document["name"]
    user.emails = document["emails"]
    user.emails_index = " " + " ".join(e["value"].lower() for e in document["emails"]) + " "
    user.active = document["active"]


def _membership_of(user: ScimUser, email: str) -> Membership | None:
    if not email:
        return None
    return (
        Membership.objects.filter(organisation=user.organisation, user__email__iexact=email)
        .select_related("user")
        .first()
    )


def _provision(user: ScimUser, token: ScimToken) -> None:
    """Invite an active person who is neither a member nor already invited."""
    email = primary_email(user.emails)
    if user.active is False or not email or _membership_of(user, email) is not None:
        return
    if (
        user.invitation_id is not None
        and Invitation.objects.filter(
            pk=user.invitation_id, email=email, accepted_at__isnull=True, revoked_at__isnull=True
        ).exists()
    ):
        return
    try:
        issued = invitation_create(
            actor=token.acting_user,
            organisation=user.organisation,
            email=email,
            role=MemberRole.MEMBER,
        )
    except InvitationError as error:
        raise invalid_value(str(error)) from None
    user.invitation = issued.invitation


def _deprovision(user: ScimUser, token: ScimToken, emails: list[dict[str, Any]], why: str) -> None:
    """Cut the person's access now: credentials revoked, membership and invitation gone."""
    actor = token.acting_user
    reason = f"Deprovisioned by the identity provider (SCIM): {why}."
    for address in {e["value"].lower() for e in emails}:
        membership = _membership_of(user, address)
        if membership is None:
            continue
        # membership_remove revokes the person's keys on this organisation's grants
        # in its own transaction step, before this one commits.
        try:
            membership_remove(actor=actor, membership=membership, reason=reason)
        except MembershipError as error:
            raise ScimError(409, str(error), "mutability") from None
    if user.invitation_id is not None:
        invitation = Invitation.objects.filter(
            pk=user.invitation_id, accepted_at__isnull=True, revoked_at__isnull=True
        ).first()
        if invitation is not None:
            invitation_revoke(actor=actor, invitation=invitation)
        user.invitation = None


def _user_name_taken(user_name: str) -> ScimError:
    return ScimError(409, f"Another user already has the userName '{user_name}'.", "uniqueness")


def _audit(token: ScimToken, action: str, row: ScimUser | ScimGroup, after: dict[str, Any]) -> None:
    """An identity provider's change, recorded as the token's acting admin made it."""
    audit_record(
        actor=token.acting_user,
        action=action,
        obj=row,
        organisation_id=row.organisation_id,
        reason=f"SCIM token {SCIM_SCHEME}_{token.prefix}_…",
        after=after,
    )


def _audit_user(token: ScimToken, action: str, user: ScimUser, **extra: Any) -> None:
    after = {"userName": user.user_name, "active": user.active, "version": user.version}
    _audit(token, action, user, {**after, **extra})


def scim_user_create(*, token: ScimToken, document: dict[str, Any]) -> ScimUser:
    try:
        with transaction.atomic(durable=True):
            user = ScimUser(organisation=token.organisation)
            _store_user(user, document)
            user.save()
            _provision(user, token)
            user.save(update_fields=["invitation"])
            _audit_user(token, "scim.user_created", user)
    except IntegrityError:
        raise _user_name_taken(document["userName"]) from None
    return user


def scim_user_update(
    *, token: ScimToken, user: ScimUser, document_for: Any, if_match: str | None
) -> ScimUser:
    """Replace the user with ``document_for(current_document)`` under a row lock."""
    from portal.scim.render import user_document

    document: dict[str, Any] = {"userName": ""}
    try:
        with transaction.atomic(durable=True):
            user = (
                ScimUser.objects.select_for_update().select_related("organisation").get(pk=user.pk)
            )
            check_version(user.version, if_match)
            document = document_for(user_document(user, base=""))
            was_active, old_emails = user.active is not False, list(user.emails)
            _store_user(user, document)
            if was_active and user.active is False:
                _deprovision(user, token, old_emails + user.emails, "active set to false")
            elif user.active is not False:
                dropped = [
                    e for e in old_emails if e["value"].lower() not in user.emails_index.split()
                ]
                if dropped and primary_email(old_emails) != primary_email(user.emails):
                    _deprovision(user, token, dropped, "email address changed")
                _provision(user, token)
            user.version += 1
            user.save()
            _audit_user(token, "scim.user_updated", user)
    except IntegrityError:
        raise _user_name_taken(document["userName"]) from None
    return user


def scim_user_delete(*, token: ScimToken, user: ScimUser, if_match: str | None) -> None:
    with transaction.atomic(durable=True):
        user = ScimUser.objects.select_for_update().select_related("organisation").get(pk=user.pk)
        check_version(user.version, if_match)
        _deprovision(user, token, user.emails, "user deleted")
        _audit_user(token, "scim.user_deleted", user)
        user.delete()


def _resolve_members(token: ScimToken, members: list[dict[str, str]]) -> list[ScimUser]:
    ids = []
    for member in members:
        ids.append(member["value"])
    valid_ids = []
    for value in ids:
        try:
            valid_ids.append(uuid.UUID(value))
        except ValueError:
            raise invalid_value(f"No user has the id '{value}'.") from None
    users = list(ScimUser.objects.filter(organisation=token.organisation, scim_id__in=valid_ids))
    found = {str(u.scim_id) for u in users}
    missing = [str(v) for v in valid_ids if str(v) not in found]
    if missing:
        raise invalid_value(f"No user of this organisation has the id '{missing[0]}'.")
    return users


def _set_members(group: ScimGroup, users: list[ScimUser]) -> None:
    wanted = {u.pk for u in users}
    current = set(group.memberships.values_list("user_id", flat=True))
    group.memberships.filter(user_id__in=current - wanted).delete()
    ScimGroupMember.objects.bulk_create(
        [ScimGroupMember(group=group, user_id=pk) for pk in sorted(wanted - current)]
    )


def _audit_group(token: ScimToken, action: str, group: ScimGroup, members: int) -> None:
    after = {"displayName": group.display_name, "members": members, "version": group.version}
    _audit(token, action, group, after)


def _group_name_taken(name: str) -> ScimError:
    return ScimError(409, f"Another group is already called '{name}'.", "uniqueness")


def scim_group_create(*, token: ScimToken, document: dict[str, Any]) -> ScimGroup:
    try:
        with transaction.atomic(durable=True):
            users = _resolve_members(token, document["members"])
            group = ScimGroup.objects.create(
                organisation=token.organisation,
                display_name=document["displayName"],
                external_id=document["externalId"],
            )
            _set_members(group, users)
            _audit_group(token, "scim.group_created", group, len(users))
    except IntegrityError:
        raise _group_name_taken(document["displayName"]) from None
    return group


def scim_group_update(
    *, token: ScimToken, group: ScimGroup, document_for: Any, if_match: str | None
) -> ScimGroup:
    """Replace the group with ``document_for(current)`` while holding its row lock.

    Parallel PATCHes that each add members queue on the lock; each reads the members
    the previous one committed, so none is lost.
    """
    from portal.scim.render import group_document

    document: dict[str, Any] = {"displayName": ""}
    try:
        with transaction.atomic(durable=True):
            group = ScimGroup.objects.select_for_update().get(pk=group.pk)
            check_version(group.version, if_match)
            document = document_for(group_document(group, base=""))
            users = _resolve_members(token, document["members"])
            group.display_name = document["displayName"]
            group.external_id = document["externalId"]
            group.version += 1
            group.save()
            _set_members(group, users)
            _audit_group(token, "scim.group_updated", group, len(users))
    except IntegrityError:
        raise _group_name_taken(document["displayName"]) from None
    return group


def scim_group_delete(*, token: ScimToken, group: ScimGroup, if_match: str | None) -> None:
    with transaction.atomic(durable=True):
        group = ScimGroup.objects.select_for_update().get(pk=group.pk)
        check_version(group.version, if_match)
        _audit_group(token, "scim.group_deleted", group, 0)
        group.delete()


def scim_token_issue(*, actor: User | None, organisation: Any, acting_user: Any) -> str:
    """A new SCIM bearer token for ``organisation``; returns the plaintext once."""
    if not Membership.objects.filter(
        organisation=organisation, user=acting_user, role=MemberRole.ADMIN
    ).exists():
        raise ScimError(400, f"{acting_user} is not an admin of {organisation}.")
    new = generate_token(SCIM_SCHEME)
    with transaction.atomic(durable=True):
        token = ScimToken.objects.create(
            organisation=organisation,
            prefix=new.prefix,
            token_hash=new.hash,
            acting_user=acting_user,
        )
        audit_record(
            actor=actor,
            action="scim.token_issued",
            obj=token,
            organisation_id=organisation.pk,
            after={"prefix": token.prefix, "acting_user": acting_user.get_username()},
        )
    return new.plaintext


def scim_token_revoke(*, actor: User | None, token: ScimToken, reason: str = "") -> ScimToken:
    """Stop ``token`` at once: the identity provider's next request is a 401."""
    with transaction.atomic(durable=True):
        return revoke_once(
            token,
            refusal=ScimError(409, "This SCIM token was already revoked."),
            audit=lambda row: audit_record(
                actor=actor,
                action="scim.token_revoked",
                obj=row,
                organisation_id=row.organisation_id,
                reason=reason,
                before={"prefix": row.prefix},
            ),
        )
