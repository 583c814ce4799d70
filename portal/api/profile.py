"""The caller's own eligibility profile: read it, replace it (PUT) or change part of it
(PATCH). The same service and rules as the profile page: ISO country codes, a date of
birth in the past, and the attestation and acceptable-use policy signed again with every
save, since they cover the facts as saved."""

from __future__ import annotations

from typing import Any

from django.http import Http404
from drf_spectacular.utils import extend_schema
from rest_framework import serializers
from rest_framework.exceptions import ValidationError
from rest_framework.request import Request
from rest_framework.response import Response
from rest_framework.views import APIView

from portal.api.fields import ReadOnlyModelSerializer
from portal.api.permissions import signed_in_user
from portal.api.validation import supported_years
from portal.eligibility.models import Person, USPersonStatus
from portal.eligibility.policies import ATTESTATION_TEXT, ATTESTATION_VERSION, AUP_TEXT, AUP_VERSION
from portal.eligibility.selectors import person_of
from portal.eligibility.services import person_save_profile
from portal.partners.models import Organisation
from portal.partners.selectors import memberships_of
from portal.partners.templatetags.partners import partner_screening_label

FACTS = ("legal_name", "date_of_birth", "citizenships", "residence_country", "us_person_status")


class ProfileSerializer(ReadOnlyModelSerializer[Person]):
    organisation: serializers.SlugRelatedField[Organisation] = serializers.SlugRelatedField(
        slug_field="slug", read_only=True
    )
    screening = serializers.SerializerMethodField(
        help_text="What you are told about screening: never that a list entry matched."
    )
    is_complete = serializers.BooleanField(read_only=True)
    missing_facts = serializers.SerializerMethodField()
    current_attestation_version = serializers.SerializerMethodField()
    current_aup_version = serializers.SerializerMethodField()
    attestation_text = serializers.SerializerMethodField()
    aup_text = serializers.SerializerMethodField()

    class Meta:
        model = Person
        fields = [
            "id",
            "organisation",
            "legal_name",
            "date_of_birth",
            "citizenships",
            "residence_country",
            "us_person_status",
            "screening",
            "attestation_version",
            "attested_at",
            "aup_version",
            "aup_accepted_at",
            "is_complete",
            "missing_facts",
            "current_attestation_version",
            "current_aup_version",
            "attestation_text",
            "aup_text",
            "updated_at",
        ]
        extra_kwargs = {"id": {"allow_null": True}, "updated_at": {"allow_null": True}}

    def get_screening(self, person: Person) -> str:
        return partner_screening_label(person.screening_state)

    def get_missing_facts(self, person: Person) -> list[str]:
        return person.missing_facts()

    def get_current_attestation_version(self, person: Person) -> str:
        return ATTESTATION_VERSION

    def get_current_aup_version(self, person: Person) -> str:
        return AUP_VERSION

    def get_attestation_text(self, person: Person) -> str:
        return ATTESTATION_TEXT

    def get_aup_text(self, person: Person) -> str:
        return AUP_TEXT


class ProfileUpdateSerializer(serializers.Serializer[Any]):
    legal_name = serializers.CharField(
        max_length=200, help_text="As on your passport or national identity card."
    )
    date_of_birth = serializers.DateField(validators=[supported_years])
    citizenships = serializers.ListField(
        child=serializers.CharField(max_length=10),
        max_length=20,
        help_text='Every citizenship you hold, as two-letter ISO codes, e.g. ["US", "IE"].',
    )
    residence_country = serializers.CharField(
        max_length=10, help_text="Two-letter ISO 3166 code, for example GB or US."
    )
    us_person_status = serializers.ChoiceField(choices=USPersonStatus.choices)
    attest = serializers.BooleanField(
        help_text="true: you sign the attestation (attestation_text) for the facts as saved."
    )
    accept_aup = serializers.BooleanField(
        help_text="true: you accept the acceptable-use policy (aup_text)."
    )
    attestation_version = serializers.CharField(
        max_length=20,
        required=False,
        help_text="The attestation version you read, if you check it.",
    )
    aup_version = serializers.CharField(
        max_length=20, required=False, help_text="The policy version you read, if you check it."
    )

    def validate_accept_aup(self, value: bool) -> bool:
        if not value:
            raise ValidationError(
                f"Accept the acceptable-use policy (version {AUP_VERSION}) to save your profile."
            )
        return value

    def validate_attestation_version(self, value: str) -> str:
        return _read_version(value, ATTESTATION_VERSION, "The attestation", "sign")

    def validate_aup_version(self, value: str) -> str:
        return _read_version(value, AUP_VERSION, "The acceptable-use policy", "accept")


def _read_version(value: str, current: str, text: str, verb: str) -> str:
    """``value``, the version of ``text`` the caller read, when it is still the ``current``
    one; else a 400 that sends them to read the current one and ``verb`` that."""
    if value != current:
        raise ValidationError(
            f"{text} changed: the current version is {current}. "
            f"Read it (GET this profile) and {verb} that one."
        )
    return value


class ProfileView(APIView):
    """The signed-in user's own eligibility profile (one per user)."""

    def _organisation_and_person(self, request: Request) -> tuple[Organisation, Person | None]:
        user = signed_in_user(request)
        person = person_of(user)
        if person is not None:
            return person.organisation, person
        membership = memberships_of(user).order_by("pk").first()
        if membership is None:
            raise Http404(
                "You belong to no organisation, so you have no eligibility profile. Accept an "
                "invitation from your organisation's admin first."
            )
        return membership.organisation, None

    @extend_schema(responses={200: ProfileSerializer})
    def get(self, request: Request) -> Response:
        """Your profile, what it still lacks, and the texts you sign (with their versions).
        Before the first save the facts are empty and ``id`` is null."""
        organisation, person = self._organisation_and_person(request)
        if person is None:
            person = Person(organisation=organisation, user=signed_in_user(request), legal_name="")
        return Response(ProfileSerializer(person).data)

    @extend_schema(request=ProfileUpdateSerializer, responses={200: ProfileSerializer})
    def put(self, request: Request) -> Response:
        """Save every fact of your profile, signing the attestation and the policy."""
        return self._save(request, partial=False)

    @extend_schema(request=ProfileUpdateSerializer, responses={200: ProfileSerializer})
    def patch(self, request: Request) -> Response:
        """Change some facts; the others keep their saved values. ``attest`` and
        ``accept_aup`` are needed on every save."""
        return self._save(request, partial=True)

    def _save(self, request: Request, *, partial: bool) -> Response:
        organisation, person = self._organisation_and_person(request)
        serializer = ProfileUpdateSerializer(data=request.data, partial=partial)
        serializer.is_valid(raise_exception=True)
        given: dict[str, Any] = dict(serializer.validated_data)
        facts = {name: getattr(person, name) for name in FACTS} if person is not None else {}
        facts.update({name: given[name] for name in FACTS if name in given})
        # The signatures cover the facts as saved: never carried over from the last save.
        missing = {
            name: "This field is required."
            for name in (*FACTS, "attest", "accept_aup")
            if facts.get(name, given.get(name)) is None
        }
        if missing:
            raise ValidationError(missing)
        saved = person_save_profile(
            actor=signed_in_user(request),
            organisation=organisation,
            legal_name=facts["legal_name"],
            date_of_birth=facts["date_of_birth"],
            citizenships=list(facts["citizenships"]),
            residence_country=facts["residence_country"],
            us_person_status=facts["us_person_status"],
            attest=given["attest"],
            accept_aup=given["accept_aup"],
        )
        return Response(ProfileSerializer(saved).data)
