"""In a real browser: a partner admin registers, verifies their email and with it the
organisation's domain, completes their own eligibility profile and applies for a model
through the wizard until the application is submitted."""

from __future__ import annotations

import re
import uuid

import pytest

from foundation.audit.models import AuditEvent
from portal.applications.models import Application
from portal.applications.states import ApplicationState
from portal.eligibility.models import Person
from portal.partners.models import MemberRole, Membership, Organisation, VerificationState
from tests.browser import assert_accessible_page, link_in_mail, tab_to, watch_csp_violations
from tests.factories import CoveredModelFactory, StageFactory

pytestmark = [pytest.mark.browser, pytest.mark.django_db(transaction=True)]

PASSWORD = "amber-lantern-crosses-the-fjord"
# Unique per run: allauth rate-limits confirmation mails per address in the cache, and a
# Redis cache outlives the test database.
EMAIL = f"ada.{uuid.uuid4().hex[:8]}@harbourdefence.example"


def test_a_partner_admin_registers_verifies_the_domain_and_applies(page, live_server):
    # given a covered model with an evaluation stage in the catalog
    stage = StageFactory(covered_model=CoveredModelFactory(name="Aurora", slug="aurora"), seats=3)
    csp_violations = watch_csp_violations(page)

    # when the admin registers, using only the keyboard on the sign-up form
    page.goto(f"{live_server.url}/")
    page.get_by_role("navigation", name="Account").get_by_role("link", name="Register").click()
    page.wait_for_url("**/accounts/signup/")
    assert_accessible_page(page)
    tab_to(page, page.get_by_label("Email"))
    page.keyboard.type(EMAIL)
    tab_to(page, page.get_by_label("Username"))
    page.keyboard.type("ada-harbour")
    tab_to(page, page.get_by_label(re.compile(r"^Password:?$")))
    page.keyboard.type(PASSWORD)
    tab_to(page, page.get_by_label("Password (again)"))
    page.keyboard.type(PASSWORD)
    page.keyboard.press("Enter")

    # then allauth asks for the email to be verified before anything else
    page.get_by_role("heading", name="Verify Your Email Address").wait_for()
    assert_accessible_page(page)

    # when the admin follows the link from the email and confirms
    page.goto(link_in_mail(EMAIL, r"https?://\S+/accounts/confirm-email/\S+"))
    assert_accessible_page(page)
    page.get_by_role("button", name="Confirm").click()

    # and signs in
    page.wait_for_url("**/accounts/login/**")
    assert_accessible_page(page)
    page.get_by_label("Login").fill("ada-harbour")
    page.get_by_label("Password").fill(PASSWORD)
    page.get_by_role("button", name="Sign In").click()
    page.get_by_role("heading", name=re.compile("Welcome")).wait_for()
    assert_accessible_page(page)

    # and registers the organisation on the email's domain
    page.get_by_role("link", name="register your organisation").click()
    page.wait_for_url("**/organisation/register/")
    assert_accessible_page(page)
    page.get_by_label("Legal name").fill("Harbour Defence Ltd")
    page.get_by_label("Country of incorporation").fill("GB")
    page.get_by_label("Sector").select_option(label="Cyber defence")
    page.get_by_label("Registration number").fill("09876543")
    page.get_by_label("Email domain").fill("harbourdefence.example")
    page.get_by_role("button", name="Register").click()

    # then the domain is verified at once, because the admin's email there is verified
    page.get_by_text("Harbour Defence Ltd is registered and its domain verified.").wait_for()
    assert_accessible_page(page)
    organisation = Organisation.objects.get(legal_name="Harbour Defence Ltd")
    assert organisation.verification_state == VerificationState.DOMAIN_VERIFIED
    assert Membership.objects.get(organisation=organisation).role == MemberRole.ADMIN

    # when the admin completes their own eligibility profile
    page.get_by_role("link", name="My eligibility profile").click()
    page.wait_for_url("**/eligibility/profile/")
    assert_accessible_page(page)
    page.get_by_label("Full legal name").fill("Ada Harbour")
    page.get_by_label("Date of birth").fill("1984-06-02")
    page.get_by_label("Citizenships").fill("GB, IE")
    page.get_by_label("Country of residence").fill("GB")
    page.get_by_label("Not a US person").check()
    page.get_by_label("I sign this attestation").check()
    page.get_by_label("I accept the acceptable-use policy").check()
    page.get_by_role("button", name="Save and sign").click()
    page.get_by_text("Your profile is complete.").wait_for()
    person = Person.objects.get(user__username="ada-harbour")
    assert person.citizenships == ["GB", "IE"]
    assert person.is_complete

    # and applies for the model through the wizard
    page.get_by_role("navigation", name="Main").get_by_role("link", name="Applications").click()
    page.wait_for_url("**/applications/")
    assert_accessible_page(page)
    page.get_by_role("link", name="Apply for access").click()
    page.wait_for_url("**/applications/new/")
    assert_accessible_page(page)
    page.get_by_label("Model and stage", exact=True).select_option(str(stage.pk))
    page.get_by_role("button", name="Save and continue").click()
    page.get_by_role("heading", name=re.compile(r"^Step 2:")).wait_for()
    assert_accessible_page(page)
    page.get_by_label("Ada Harbour").check()
    page.get_by_role("button", name="Save and continue").click()
    page.get_by_role("heading", name=re.compile(r"^Step 3:")).wait_for()
    assert_accessible_page(page)
    page.get_by_role("textbox", name="Use case").fill(
        "Our security operations centre triages intrusion reports with the model."
    )
    page.get_by_role("button", name="Save and continue").click()
    page.get_by_role("heading", name=re.compile(r"^Step 4:")).wait_for()
    assert_accessible_page(page)
    page.get_by_label("The model will be used only for the use case described").check()
    page.get_by_label("We will not give access").check()
    page.get_by_label("The information in this application is true and complete.").check()
    page.get_by_role("button", name="Save attestations").click()
    page.get_by_text("Check the summary, then submit.").wait_for()
    page.get_by_role("button", name="Submit application").click()

    # then the application is submitted and waits for review, with its checks kept
    page.get_by_text("Your application is submitted.").wait_for()
    assert_accessible_page(page)
    application = Application.objects.get(organisation=organisation)
    assert application.state in {ApplicationState.SCREENING, ApplicationState.IN_REVIEW}
    assert list(application.nominees.all()) == [person]
    assert application.eligibility_snapshot["people"][0]["legal_name"] == "Ada Harbour"
    recorded = set(
        AuditEvent.objects.filter(organisation_id=organisation.pk).values_list("action", flat=True)
    )
    assert {"organisation.registered", "application.submitted"} <= recorded
    assert csp_violations == []
