"""Registering an organisation, verifying its domain, and staff seeing and deciding on it."""

from __future__ import annotations

import pytest
from allauth.account.models import EmailAddress
from allauth.account.signals import email_confirmed
from django.urls import reverse

from foundation.audit.models import AuditEvent
from portal.partners.errors import DomainAlreadyClaimedError, InvalidOrganisationError
from portal.partners.models import MemberRole, Membership, Organisation, Sector, VerificationState
from portal.partners.services import (
    NotAllowedError,
    organisation_register,
    organisation_set_trusted,
)
from tests.conftest import client_for
from tests.factories import OrganisationFactory, UserFactory

pytestmark = pytest.mark.django_db

LOGIN = "/accounts/login/"


def register(user, **overrides):
    values = {
        "legal_name": "Harbour Water Authority",
        "country": "GB",
        "sector": Sector.WATER,
        "email_domain": "harbour-water.example",
        "registration_id": "RC000123",
    }
    return organisation_register(actor=user, **{**values, **overrides})


def form_data(**overrides):
    return {
        "legal_name": "Harbour Water Authority",
        "country": "gb",
        "sector": Sector.WATER,
        "email_domain": "harbour-water.example",
        "registration_id": "RC000123",
        **overrides,
    }


# --- Registration ------------------------------------------------------------


def test_registering_makes_the_user_its_admin_and_audits_it():
    user = UserFactory(email="ana@elsewhere.example")

    organisation = register(user)

    assert organisation.slug == "harbour-water-authority"
    assert organisation.verification_state == VerificationState.UNVERIFIED
    membership = Membership.objects.get(organisation=organisation, user=user)
    assert membership.role == MemberRole.ADMIN
    assert user.has_perm("partners.manage_members", organisation)
    assert AuditEvent.objects.filter(action="organisation.registered").count() == 1


def test_an_admin_with_a_verified_address_at_the_domain_verifies_it_at_once():
    user = UserFactory(email="ana@harbour-water.example")

    organisation = register(user)

    assert organisation.verification_state == VerificationState.DOMAIN_VERIFIED


def test_an_unverified_address_at_the_domain_does_not_verify_it():
    user = UserFactory(email="ana@elsewhere.example")
    EmailAddress.objects.create(user=user, email="ana@harbour-water.example", verified=False)

    assert register(user).verification_state == VerificationState.UNVERIFIED


def _confirm(user, email):
    """``user`` confirms ``email``: it is saved verified and allauth announces it."""
    address = EmailAddress.objects.create(user=user, email=email, verified=True)
    email_confirmed.send(sender=EmailAddress, request=None, email_address=address)


def test_confirming_an_address_at_the_domain_later_verifies_the_domain():
    # given an organisation registered before its admin verified an address there
    user = UserFactory(email="ana@elsewhere.example")
    organisation = register(user)

    # when the address at the domain is confirmed
    _confirm(user, "ana@harbour-water.example")

    # then
    organisation.refresh_from_db()
    assert organisation.verification_state == VerificationState.DOMAIN_VERIFIED


def test_a_member_confirming_an_address_does_not_verify_the_domain():
    organisation = register(UserFactory(email="ana@elsewhere.example"))
    member = UserFactory(email="bo@elsewhere.example")
    Membership.objects.create(organisation=organisation, user=member, role=MemberRole.MEMBER)

    _confirm(member, "bo@harbour-water.example")

    organisation.refresh_from_db()
    assert organisation.verification_state == VerificationState.UNVERIFIED


def test_a_second_organisation_claiming_a_verified_domain_is_refused_and_nothing_is_saved():
    register(UserFactory(email="ana@harbour-water.example"))
    intruder = UserFactory(email="eve@elsewhere.example")

    with pytest.raises(DomainAlreadyClaimedError, match="already verified the domain"):
        register(
            intruder, legal_name="Harbour Water Impostors", email_domain="Harbour-Water.example"
        )

    assert Organisation.objects.count() == 1
    assert not Membership.objects.filter(user=intruder).exists()


def test_two_organisations_may_claim_a_domain_nobody_has_verified_yet():
    register(UserFactory(email="ana@elsewhere.example"))
    register(UserFactory(email="bo@elsewhere.example"), legal_name="Harbour Water Authority")

    assert Organisation.objects.filter(email_domain="harbour-water.example").count() == 2
    assert set(Organisation.objects.values_list("slug", flat=True)) == {
        "harbour-water-authority",
        "harbour-water-authority-2",
    }


def test_the_second_claimant_stays_unverified_when_the_first_proves_the_domain():
    first = register(UserFactory(email="ana@elsewhere.example"))
    second_admin = UserFactory(email="bo@elsewhere.example")
    second = register(second_admin, legal_name="Copycat Water")
    first_address = EmailAddress.objects.create(
        user=first.memberships.get().user, email="ana@harbour-water.example", verified=True
    )
    email_confirmed.send(sender=EmailAddress, request=None, email_address=first_address)
    second_address = EmailAddress.objects.create(
        user=second_admin, email="bo@harbour-water.example", verified=True
    )

    email_confirmed.send(sender=EmailAddress, request=None, email_address=second_address)

    first.refresh_from_db()
    second.refresh_from_db()
    assert first.verification_state == VerificationState.DOMAIN_VERIFIED
    assert second.verification_state == VerificationState.UNVERIFIED


@pytest.mark.parametrize("country", ["XX", "UK", "USA", "", "1A"])
def test_an_unknown_country_code_is_refused_with_a_field_error(country):
    with pytest.raises(InvalidOrganisationError) as raised:
        register(UserFactory(), country=country)

    assert raised.value.field == "country"
    assert "ISO 3166" in str(raised.value)
    assert Organisation.objects.count() == 0


@pytest.mark.parametrize("domain", ["not a domain", "@", "localhost", "a..b.example"])
def test_a_malformed_domain_is_refused(domain):
    with pytest.raises(InvalidOrganisationError) as raised:
        register(UserFactory(), email_domain=domain)

    assert raised.value.field == "email_domain"


def test_the_register_page_creates_the_organisation_and_shows_it():
    user = UserFactory(email="ana@harbour-water.example")

    response = client_for(user).post(reverse("partners:register"), form_data(), follow=True)

    assert response.status_code == 200
    organisation = Organisation.objects.get()
    assert organisation.country == "GB"
    assert b"Harbour Water Authority" in response.content
    assert b"Domain verified" in response.content


def test_the_register_page_keeps_what_was_typed_and_names_the_bad_country():
    response = client_for(UserFactory()).post(reverse("partners:register"), form_data(country="ZZ"))

    assert response.status_code == 200
    assert b"ZZ is not an ISO 3166-1 alpha-2 country code" in response.content
    assert b'value="Harbour Water Authority"' in response.content
    assert Organisation.objects.count() == 0


def test_the_register_page_shows_the_claimed_domain_refusal_on_the_field():
    register(UserFactory(email="ana@harbour-water.example"))

    response = client_for(UserFactory()).post(
        reverse("partners:register"), form_data(legal_name="Other")
    )

    assert b"already verified the domain harbour-water.example" in response.content
    assert Organisation.objects.count() == 1


def test_anonymous_users_are_sent_to_sign_in_to_register(client):
    response = client.get(reverse("partners:register"))

    assert response.status_code == 302
    assert response["Location"].startswith(LOGIN)


# --- The organisation page -------------------------------------------------------


@pytest.mark.parametrize("url_name", ["partners:organisation", "partners:register"])
def test_partner_pages_send_anonymous_users_to_sign_in(client, url_name):
    response = client.get(reverse(url_name))

    assert response.status_code == 302
    assert response["Location"].startswith(LOGIN)


@pytest.mark.parametrize("persona", ["partner_admin", "partner_member"])
def test_members_see_their_organisation_page(request, persona, organisation):
    response = client_for(request.getfixturevalue(persona)).get(reverse("partners:organisation"))

    assert response.status_code == 200
    assert organisation.legal_name.encode() in response.content


def test_only_admins_see_documents_on_the_organisation_page(partner_admin, partner_member):
    admin_page = client_for(partner_admin).get(reverse("partners:organisation"))
    member_page = client_for(partner_member).get(reverse("partners:organisation"))

    assert b"Upload a document" in admin_page.content
    assert b"Upload a document" not in member_page.content


def test_a_user_without_an_organisation_is_invited_to_register():
    response = client_for(UserFactory()).get(reverse("partners:organisation"))

    assert response.status_code == 200
    assert b"Register an organisation" in response.content


def test_the_outsider_sees_their_own_organisation_not_ours(outsider, organisation):
    response = client_for(outsider).get(reverse("partners:organisation"))

    assert response.status_code == 200
    assert organisation.legal_name.encode() not in response.content


def test_the_outsider_gets_404_on_our_organisation_page(outsider, organisation):
    response = client_for(outsider).get(reverse("partners:detail", args=[organisation.slug]))

    assert response.status_code == 404


def test_anonymous_is_sent_to_sign_in_from_an_organisation_page(client, organisation):
    response = client.get(reverse("partners:detail", args=[organisation.slug]))

    assert response.status_code == 302
    assert response["Location"].startswith(LOGIN)


def test_staff_without_mfa_are_sent_to_set_it_up_from_partner_pages(
    staff_without_mfa, organisation
):
    for url in (
        reverse("partners:organisation"),
        reverse("partners:detail", args=[organisation.slug]),
        reverse("partners:staff_list"),
        reverse("partners:staff_detail", args=[organisation.slug]),
    ):
        response = client_for(staff_without_mfa).get(url)
        assert response.status_code == 302
        assert response["Location"] == reverse("mfa_index")


# --- Staff pages -------------------------------------------------------------------


@pytest.mark.parametrize("persona", ["reviewer", "compliance_officer", "auditor"])
def test_staff_see_the_organisation_list_and_detail_with_verification(
    request, persona, organisation
):
    user = request.getfixturevalue(persona)

    listing = client_for(user).get(reverse("partners:staff_list"))
    detail = client_for(user).get(reverse("partners:staff_detail", args=[organisation.slug]))

    assert listing.status_code == 200
    assert organisation.legal_name.encode() in listing.content
    assert detail.status_code == 200
    assert b"Unverified" in detail.content


@pytest.mark.parametrize("persona", ["partner_admin", "outsider"])
def test_partners_get_404_on_staff_pages(request, persona, organisation):
    user = request.getfixturevalue(persona)

    assert client_for(user).get(reverse("partners:staff_list")).status_code == 404
    detail_url = reverse("partners:staff_detail", args=[organisation.slug])
    assert client_for(user).get(detail_url).status_code == 404


def test_anonymous_is_sent_to_sign_in_from_staff_pages(client, organisation):
    response = client.get(reverse("partners:staff_list"))

    assert response.status_code == 302
    assert response["Location"].startswith(LOGIN)


def test_staff_search_finds_organisations_by_domain(reviewer):
    OrganisationFactory(legal_name="Alpha Grid", email_domain="alpha-grid.example")
    OrganisationFactory(legal_name="Beta Water", email_domain="beta-water.example")

    response = client_for(reviewer).get(reverse("partners:staff_list"), {"q": "alpha-grid"})

    assert b"Alpha Grid" in response.content
    assert b"Beta Water" not in response.content


def test_the_staff_list_paginates_25_a_page(reviewer):
    OrganisationFactory.create_batch(30)

    first = client_for(reviewer).get(reverse("partners:staff_list"))
    second = client_for(reviewer).get(reverse("partners:staff_list"), {"page": 2})

    assert len(first.context["page"].object_list) == 25
    assert len(second.context["page"].object_list) == 5


def test_the_staff_list_costs_the_same_queries_for_many_rows_as_for_few(
    reviewer, django_assert_max_num_queries
):
    client = client_for(reviewer)
    OrganisationFactory.create_batch(2)
    client.get(reverse("partners:staff_list"))  # warm the session and caches
    from django.db import connection
    from django.test.utils import CaptureQueriesContext

    with CaptureQueriesContext(connection) as few:
        client.get(reverse("partners:staff_list"))
    OrganisationFactory.create_batch(40)

    with django_assert_max_num_queries(len(few.captured_queries)):
        response = client.get(reverse("partners:staff_list"))
    assert len(response.context["page"].object_list) == 25


def _set_trusted(user, organisation, data):
    """Posts the trusted-flag form of the organisation's staff page."""
    return client_for(user).post(
        reverse("partners:staff_set_trusted", args=[organisation.slug]), data
    )


def test_compliance_sets_the_trusted_flag_through_the_staff_page(compliance_officer, organisation):
    response = _set_trusted(
        compliance_officer,
        organisation,
        {"trusted": "on", "reason": "Critical infrastructure operator"},
    )

    assert response.status_code == 302
    organisation.refresh_from_db()
    assert organisation.trusted is True
    event = AuditEvent.objects.get(action="organisation.trusted_changed")
    assert event.reason == "Critical infrastructure operator"


def test_a_reviewer_cannot_set_the_trusted_flag(reviewer, organisation):
    _set_trusted(reviewer, organisation, {"trusted": "on", "reason": "I think so"})

    organisation.refresh_from_db()
    assert organisation.trusted is False


@pytest.mark.parametrize(
    ("view", "data"),
    [
        ("partners:staff_set_trusted", {"trusted": "on", "reason": "I think so"}),
        ("partners:staff_set_verification", {"state": "verified", "reason": "I think so"}),
    ],
)
def test_staff_without_the_compliance_permission_get_404_on_either_decision(
    reviewer, organisation, view, data
):
    response = client_for(reviewer).post(reverse(view, args=[organisation.slug]), data)

    assert response.status_code == 404
    organisation.refresh_from_db()
    assert organisation.trusted is False
    assert organisation.verification_state == VerificationState.UNVERIFIED


def test_only_compliance_may_change_trust_through_the_service(reviewer, organisation):
    with pytest.raises(NotAllowedError):
        organisation_set_trusted(actor=reviewer, organisation=organisation, trusted=True, reason="")


def test_a_partner_admin_gets_404_setting_the_trusted_flag(partner_admin, organisation):
    response = _set_trusted(
        partner_admin, organisation, {"trusted": "on", "reason": "We are trustworthy"}
    )

    assert response.status_code == 404
    organisation.refresh_from_db()
    assert organisation.trusted is False


def test_the_trusted_form_needs_a_reason(compliance_officer, organisation):
    response = _set_trusted(compliance_officer, organisation, {"trusted": "on"})

    assert response.status_code == 400
    organisation.refresh_from_db()
    assert organisation.trusted is False


def test_compliance_verifies_an_organisation(compliance_officer, organisation):
    response = client_for(compliance_officer).post(
        reverse("partners:staff_set_verification", args=[organisation.slug]),
        {"state": VerificationState.VERIFIED, "reason": "Certificate checked"},
    )

    assert response.status_code == 302
    organisation.refresh_from_db()
    assert organisation.verification_state == VerificationState.VERIFIED


def test_verifying_a_second_organisation_on_a_proven_domain_is_refused(compliance_officer):
    OrganisationFactory(email_domain="same.example", verification_state=VerificationState.VERIFIED)
    copy = OrganisationFactory(email_domain="same.example")

    response = client_for(compliance_officer).post(
        reverse("partners:staff_set_verification", args=[copy.slug]),
        {"state": VerificationState.VERIFIED, "reason": "Oops"},
    )

    assert response.status_code == 400
    assert b"already proven this email domain" in response.content
    copy.refresh_from_db()
    assert copy.verification_state == VerificationState.UNVERIFIED
