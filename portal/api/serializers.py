"""What the API shows of each object, and what creating requests accept."""

from __future__ import annotations

from typing import Any, TypeVar

from django.db.models import Model
from rest_framework import serializers

from foundation.audit.export import EXPORT_FIELDS
from foundation.audit.models import AuditEvent
from portal.accounts.roles import is_staff_member
from portal.api.fields import ReadOnlyModelSerializer
from portal.api.models import ApiToken, TokenScope
from portal.applications.models import Application
from portal.eligibility.models import Person, ScreeningState
from portal.partners.models import Invitation, MemberRole, Membership, Organisation
from portal.partners.templatetags.partners import partner_screening_label
from provisioning.catalog.models import CoveredModel
from provisioning.credentials.models import Credential
from provisioning.grants.models import Grant

_Access = TypeVar("_Access", bound=Model)


class OrganisationSerializer(ReadOnlyModelSerializer[Organisation]):
    class Meta:
        model = Organisation
        fields = [
            "slug",
            "legal_name",
            "country",
            "sector",
            "registration_id",
            "email_domain",
            "verification_state",
            "trusted",
            "created_at",
        ]


class MembershipSerializer(ReadOnlyModelSerializer[Membership]):
    organisation = serializers.SlugRelatedField[Organisation](slug_field="slug", read_only=True)
    username = serializers.CharField(source="user.username", read_only=True)
    email = serializers.EmailField(source="user.email", read_only=True)

    class Meta:
        model = Membership
        fields = ["id", "organisation", "username", "email", "role", "created_at"]


class InvitationSerializer(ReadOnlyModelSerializer[Invitation]):
    organisation = serializers.SlugRelatedField[Organisation](slug_field="slug", read_only=True)
    status = serializers.SerializerMethodField()

    class Meta:
        model = Invitation
        fields = ["id", "organisation", "email", "role", "status", "created_at", "expires_at"]

    def get_status(self, invitation: Invitation) -> str:
        from django.utils import timezone

        return invitation.status(timezone.now())


class InvitationCreateSerializer(serializers.Serializer[Any]):
    organisation = serializers.SlugField(help_text="Slug of an organisation you administer.")
    email = serializers.EmailField()
    role = serializers.ChoiceField(choices=MemberRole.choices, default=MemberRole.MEMBER)


class InvitationAcceptSerializer(serializers.Serializer[Any]):
    token = serializers.CharField(
        max_length=500, help_text="The token at the end of the invitation link you were emailed."
    )


class PersonSerializer(ReadOnlyModelSerializer[Person]):
    """Staff see the screening state; partners only what the people page tells them
    (``screening_status``), never that a list entry matched."""

    organisation = serializers.SlugRelatedField[Organisation](slug_field="slug", read_only=True)
    # Null for a nominee who has no sign-in of their own.
    username = serializers.CharField(
        source="user.username", read_only=True, default=None, allow_null=True
    )
    is_complete = serializers.BooleanField(read_only=True)
    missing_facts = serializers.SerializerMethodField()
    screening_state = serializers.ChoiceField(
        choices=ScreeningState.choices,
        allow_null=True,
        read_only=True,
        help_text="Staff only; null for partners.",
    )
    screening_status = serializers.SerializerMethodField()

    class Meta:
        model = Person
        fields = [
            "id",
            "organisation",
            "username",
            "legal_name",
            "citizenships",
            "residence_country",
            "us_person_status",
            "screening_state",
            "screening_status",
            "is_complete",
            "missing_facts",
            "updated_at",
        ]

    def _staff_caller(self) -> bool:
        if "staff_caller" not in self.context:
            request = self.context.get("request")
            user = request.user if request is not None else None
            self.context["staff_caller"] = is_staff_member(user)
        return bool(self.context["staff_caller"])

    def get_missing_facts(self, person: Person) -> list[str]:
        return person.missing_facts()

    def get_screening_status(self, person: Person) -> str:
        if self._staff_caller():
            return str(ScreeningState(person.screening_state).label)
        return partner_screening_label(person.screening_state)

    def to_representation(self, instance: Person) -> dict[str, Any]:
        data: dict[str, Any] = super().to_representation(instance)
        if not self._staff_caller():
            data["screening_state"] = None
        return data


# An application or a grant (or a review of an application): one organisation's access to
# one covered model, at a stage. Their serializers start with these fields, ACCESS_FIELDS.
class ModelAccessSerializer(ReadOnlyModelSerializer[_Access]):
    organisation = serializers.SlugRelatedField[Organisation](slug_field="slug", read_only=True)
    covered_model = serializers.SlugRelatedField[CoveredModel](slug_field="slug", read_only=True)
    stage = serializers.CharField(source="stage.name", read_only=True)


ACCESS_FIELDS = ["id", "organisation", "covered_model", "stage", "state"]


class ApplicationSerializer(ModelAccessSerializer[Application]):
    nominees = serializers.PrimaryKeyRelatedField[Person](many=True, read_only=True)

    class Meta:
        model = Application
        fields = [
            *ACCESS_FIELDS,
            "nominees",
            "use_case",
            "attests_end_use",
            "attests_no_transfer",
            "attests_accuracy",
            "created_at",
            "submitted_at",
            "closed_at",
        ]


class AnswerSerializer(serializers.Serializer[Any]):
    response = serializers.CharField(max_length=5000, help_text="The answer to the open question.")
    version = serializers.CharField(
        required=False, max_length=64, help_text="The application's version as you read it."
    )


class WithdrawSerializer(serializers.Serializer[Any]):
    reason = serializers.CharField(required=False, allow_blank=True, max_length=1000)


class GrantSerializer(ModelAccessSerializer[Grant]):
    class Meta:
        model = Grant
        fields = [
            *ACCESS_FIELDS,
            "seats",
            "monthly_quota",
            "rate_limit_per_minute",
            "expires_at",
            "created_at",
        ]


class CredentialSerializer(ReadOnlyModelSerializer[Credential]):
    key_hint = serializers.SerializerMethodField()

    class Meta:
        model = Credential
        fields = [
            "id",
            "grant",
            "person",
            "state",
            "held",
            "version",
            "key_hint",
            "previous_key_expires_at",
            "created_at",
            "updated_at",
            "revoked_at",
        ]

    def get_key_hint(self, credential: Credential) -> str:
        return f"clr_{credential.key_prefix}_…"


class DeliveryStateSerializer(serializers.Serializer[Any]):
    target = serializers.CharField(help_text="The downstream target's name.")
    state = serializers.ChoiceField(
        choices=["in_sync", "pending", "failed", "dead", "not_applicable"],
        help_text="in_sync: the target holds the key's latest state; pending: on its way; "
        "failed: being retried; dead: given up, ops alerted; not_applicable: the target "
        "does not serve this model.",
    )


class CollectedCredentialSerializer(serializers.Serializer[Any]):
    credential = CredentialSerializer()
    key = serializers.CharField(help_text="The new key. It is shown this once and never again.")


class RotatedCredentialSerializer(serializers.Serializer[Any]):
    credential = CredentialSerializer()
    key = serializers.CharField(
        allow_null=True,
        help_text=(
            "The new key, shown this once, when you own the key. null when you rotated "
            "someone else's key: only its owner may see a key, and collects a fresh one."
        ),
    )
    owner_must_collect = serializers.BooleanField(
        help_text="True when the key's owner must collect the new key (collect/)."
    )


class AuditEventSerializer(ReadOnlyModelSerializer[AuditEvent]):
    class Meta:
        model = AuditEvent
        # The exported row (the audit trail's one field list) but the actor's user id and
        # IP address: the API names the actor by label only.
        fields = [name for name in EXPORT_FIELDS if name not in ("actor_id", "ip")]


class ApiTokenSerializer(ReadOnlyModelSerializer[ApiToken]):
    class Meta:
        model = ApiToken
        fields = ["id", "name", "prefix", "scopes", "created_at", "expires_at", "revoked_at"]


class ApiTokenCreateSerializer(serializers.Serializer[Any]):
    name = serializers.CharField(max_length=100)
    scopes = serializers.MultipleChoiceField(choices=TokenScope.choices)
    expires_in_days = serializers.IntegerField(min_value=1, required=False)
