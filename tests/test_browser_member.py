"""In a real browser: an invited member creates an account, accepts the invitation,
completes the eligibility profile with the keyboard alone, sets up TOTP and signs in with it."""

from __future__ import annotations

import datetime as dt
import re
import time
import uuid

import pytest
from allauth.mfa.models import Authenticator
from allauth.mfa.utils import decrypt

from portal.eligibility.models import Person, USPersonStatus
from portal.partners.invitations import invitation_create
from portal.partners.models import MemberRole, Membership, VerificationState
from tests.browser import (
    assert_accessible_page,
    link_in_mail,
    tab_to,
    totp_code,
    watch_csp_violations,
)
from tests.factories import OrganisationFactory, UserFactory, add_member

pytestmark = [pytest.mark.browser, pytest.mark.django_db(transaction=True)]

PASSWORD = "violet-kettle-sings-at-dawn"
# Unique per run: allauth rate-limits confirmation mails per address in the cache, and a
# Redis cache outlives the test database.
EMAIL = f"grace.{uuid.uuid4().hex[:8]}@northwind.example"


def _sign_in(page, username: str, *, code: str | None = None) -> None:
    page.get_by_label("Login").fill(username)
    page.get_by_label("Password").fill(PASSWORD)
    page.get_by_role("button", name="Sign In").click()
    if code is not None:
        page.get_by_label("Code").fill(code)
        page.get_by_role("button", name="Sign In").click()


def test_an_invited_member_joins_completes_the_profile_and_sets_up_mfa(page, live_server):
    # given a verified organisation whose admin invites a member by email
    organisation = OrganisationFactory(
        slug="northwind",
        legal_name="Northwind Cyber",
        email_domain="northwind.example",
        verification_state=VerificationState.VERIFIED,
    )
    admin = UserFactory(username="northwind-admin")
    add_member(organisation, admin, MemberRole.ADMIN)
    invitation_create(actor=admin, organisation=organisation, email=EMAIL)
    invitation_link = link_in_mail(EMAIL, r"https?://\S+/organisation/invitations/\S+/")
    invitation_path = invitation_link.split("/organisation/", 1)[1]
    csp_violations = watch_csp_violations(page)

    # when the invitee opens the link without an account, they are asked to sign in,
    # and create an account with the invited address instead
    page.goto(f"{live_server.url}/organisation/{invitation_path}")
    page.wait_for_url("**/accounts/login/**")
    assert_accessible_page(page)
    page.get_by_role("main").get_by_role("link", name="sign up").click()
    page.wait_for_url("**/accounts/signup/**")
    page.get_by_label(re.compile(r"^Email")).fill(EMAIL)
    page.get_by_label(re.compile(r"^Username")).fill("grace")
    page.get_by_label(re.compile(r"^Password:?$")).fill(PASSWORD)
    page.get_by_label(re.compile(r"^Password \(again\)")).fill(PASSWORD)
    page.get_by_role("button", name="Sign Up").click()
    page.get_by_role("heading", name="Verify Your Email Address").wait_for()

    # and confirm the address from the email, then sign in
    page.goto(link_in_mail(EMAIL, r"https?://\S+/accounts/confirm-email/\S+"))
    page.get_by_role("button", name="Confirm").click()
    page.wait_for_url("**/accounts/login/**")
    _sign_in(page, "grace")
    page.get_by_role("navigation", name="Main").wait_for()

    # and open the invitation again and accept it
    page.goto(f"{live_server.url}/organisation/{invitation_path}")
    assert_accessible_page(page)
    page.get_by_role("button", name=re.compile("Accept")).click()

    # then they are a member and land on the eligibility profile
    page.get_by_text("Welcome to Northwind Cyber. Complete your eligibility profile").wait_for()
    assert_accessible_page(page)
    membership = Membership.objects.get(organisation=organisation, user__username="grace")
    assert membership.role == MemberRole.MEMBER

    # when they fill in the profile with the keyboard alone (a dual national)
    tab_to(page, page.get_by_label("Full legal name"))
    page.keyboard.type("Grace Okafor")
    tab_to(page, page.get_by_label("Date of birth"))
    # Day and month alike: the same keys give the same date in day-first and month-first locales.
    page.keyboard.type("06061984")
    tab_to(page, page.get_by_label("Citizenships"))
    page.keyboard.type("GB, NG")
    tab_to(page, page.get_by_label("Country of residence"))
    page.keyboard.type("GB")
    tab_to(page, page.get_by_label("US citizen", exact=True))
    page.keyboard.press("Space")
    for _ in range(3):  # to the fourth choice of the radio group
        page.keyboard.press("ArrowDown")
    assert page.get_by_label("Not a US person").is_checked()
    tab_to(page, page.get_by_label("I sign this attestation"))
    page.keyboard.press("Space")
    tab_to(page, page.get_by_label("I accept the acceptable-use policy"))
    page.keyboard.press("Space")
    tab_to(page, page.get_by_role("button", name="Save and sign"))
    page.keyboard.press("Enter")

    # then the profile is complete, with both citizenships, signed and accepted
    page.get_by_text("Your profile is complete.").wait_for()
    assert_accessible_page(page)
    person = Person.objects.get(user__username="grace")
    assert person.organisation == organisation
    assert person.legal_name == "Grace Okafor"
    assert person.date_of_birth == dt.date(1984, 6, 6)
    assert person.citizenships == ["GB", "NG"]
    assert person.residence_country == "GB"
    assert person.us_person_status == USPersonStatus.NONE
    assert person.attested_at is not None and person.aup_accepted_at is not None
    assert person.is_complete

    # when they set up an authenticator app from the Security page
    page.get_by_role("navigation", name="Account").get_by_role("link", name="Security").click()
    page.wait_for_url("**/accounts/2fa/")
    assert_accessible_page(page)
    page.get_by_role("link", name="Activate").first.click()
    # allauth asks for the password again before a second factor is added
    page.get_by_role("heading", name="Confirm Access").wait_for()
    assert_accessible_page(page)
    page.get_by_label("Password").fill(PASSWORD)
    page.get_by_role("button", name="Confirm").click()
    page.get_by_role("heading", name="Activate Authenticator App").wait_for()
    assert_accessible_page(page)
    secret = page.get_by_label("Authenticator secret").input_value()
    assert re.fullmatch(r"[A-Z2-7]{16,}", secret)
    tab_to(page, page.get_by_label("Authenticator code"))
    page.keyboard.type(totp_code(secret))
    activation_step = int(time.time()) // 30
    page.keyboard.press("Enter")

    # then TOTP is active with the secret they were shown, and recovery codes exist
    page.get_by_role("heading", name="Recovery Codes").wait_for()
    assert_accessible_page(page)
    authenticator = Authenticator.objects.get(user__username="grace", type="totp")
    assert decrypt(authenticator.data["secret"]) == secret
    assert authenticator.data["secret"] != secret  # encrypted at rest
    assert Authenticator.objects.filter(user__username="grace", type="recovery_codes").exists()

    # and the next sign-in asks for a code from the app
    page.get_by_role("button", name="Sign out").click()
    page.wait_for_url("**/accounts/login/**")
    while int(time.time()) // 30 == activation_step:  # a used code is refused a second time
        time.sleep(0.5)
    _sign_in(page, "grace", code=totp_code(secret))
    page.get_by_role("heading", name=re.compile("Welcome")).wait_for()
    assert page.get_by_text("Northwind Cyber").first.is_visible()
    assert csp_violations == []
