"""Inbound SCIM 2.0: a partner's identity provider manages its people through these rows.

Each organisation has its own bearer tokens (hashed like API tokens); every row hangs off
one organisation and is only ever read through that organisation's token. ``version``
is the ``meta.version`` ETag, bumped on every change under a row lock.
"""

from __future__ import annotations

import uuid

from django.conf import settings
from django.db import models
from django.db.models.functions import Lower

from foundation.tokens import HashedToken
from portal.partners.models import Invitation, Organisation


class ScimToken(HashedToken):
    ORGANISATION_PATH = "organisation"

    organisation = models.ForeignKey(
        Organisation, on_delete=models.CASCADE, related_name="scim_tokens"
    )
    # The organisation admin on whose behalf the identity provider acts (the audit actor).
    acting_user = models.ForeignKey(
        settings.AUTH_USER_MODEL, on_delete=models.PROTECT, related_name="+"
    )

    def __str__(self) -> str:
        return f"SCIM token clrs_{self.prefix}_… for {self.organisation_id}"


class ScimResource(models.Model):
    """What every resource an identity provider manages carries (RFC 7643 §3.1): its ``id``,
    its ``externalId`` and the ``meta`` (created, last modified, version). Each resource
    hangs off one organisation, under its own reverse name."""

    scim_id = models.UUIDField(default=uuid.uuid4, unique=True, editable=False)
    external_id = models.CharField(max_length=255, blank=True)
    version = models.PositiveBigIntegerField(default=1)
    created_at = models.DateTimeField(auto_now_add=True)
    updated_at = models.DateTimeField(auto_now=True)

    class Meta:
        abstract = True
        ordering = ["id"]


class ScimUser(ScimResource):
    ORGANISATION_PATH = "organisation"

    organisation = models.ForeignKey(
        Organisation, on_delete=models.CASCADE, related_name="scim_users"
    )
    user_name = models.CharField(max_length=255)
    display_name = models.CharField(max_length=255, blank=True)
    # {"givenName", "familyName", "formatted"} as the identity provider sent them.
    name = models.JSONField(default=dict, blank=True)
    # [{"value", "type", "primary"}]
    emails = models.JSONField(default=list, blank=True)
    # " a@x.org b@y.org ": lower-cased addresses between spaces, so that eq/sw/co filters
    # are plain LIKE queries on every database.
    emails_index = models.TextField(blank=True, default="")
    # None: the provider never said (treated as active); False cuts access.
    active = models.BooleanField(null=True, blank=True, default=None)
    # The invitation sent to the person's address while they are not yet a member.
    invitation = models.ForeignKey(
        Invitation, null=True, blank=True, on_delete=models.SET_NULL, related_name="+"
    )

    class Meta(ScimResource.Meta):
        constraints = [
            models.UniqueConstraint(
                "organisation", Lower("user_name"), name="scim_user_unique_user_name"
            ),
        ]

    def __str__(self) -> str:
        return self.user_name


class ScimGroup(ScimResource):
    ORGANISATION_PATH = "organisation"

    organisation = models.ForeignKey(
        Organisation, on_delete=models.CASCADE, related_name="scim_groups"
    )
    display_name = models.CharField(max_length=255)
    members: models.ManyToManyField[ScimUser, ScimGroupMember] = models.ManyToManyField(
        ScimUser, through="ScimGroupMember", related_name="groups"
    )

    class Meta(ScimResource.Meta):
        constraints = [
            models.UniqueConstraint(
                "organisation", Lower("display_name"), name="scim_group_unique_display_name"
            ),
        ]

    def __str__(self) -> str:
        return self.display_name


class ScimGroupMember(models.Model):
    group = models.ForeignKey(ScimGroup, on_delete=models.CASCADE, related_name="memberships")
    user = models.ForeignKey(ScimUser, on_delete=models.CASCADE, related_name="group_memberships")

    class Meta:
        ordering = ["id"]
        constraints = [
            models.UniqueConstraint(fields=["group", "user"], name="scim_group_member_unique"),
        ]

    def __str__(self) -> str:
        return f"{self.user_id} in {self.group_id}"
