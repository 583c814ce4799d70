"""In a real browser: a partner admin learns of an emergency stop and of the restore.

Everything operations do goes through their pages: one ops person reads on the stop page
what the stop will cut, presses it under a determination, and later plans the restore
with "Lift this stop"; a second ops person finds that restore under "Waiting for me" in
the navigation and approves it; the first runs it. The dispatcher and the bulk worker run
as beat and Celery would. The partner admin sees, on the home page's unread badge and on
the Notifications page, the suspension notice with its reason and legal basis, the keys
page saying why the keys are suspended, and later the restore notice. Every page visited
is checked for unlabelled controls, CSP violations, sideways scroll at 1280 px and raw ids.
"""

from __future__ import annotations

import datetime as dt
import re

import pytest

from portal.compliance.models import Determination, DeterminationState
from portal.notifications.access import access_notices_dispatch
from portal.partners.models import MemberRole, VerificationState
from provisioning.bulk.models import BulkAction, BulkKind, BulkState
from provisioning.bulk.services import bulk_run
from provisioning.credentials.models import Credential, CredentialState
from tests.browser import assert_page_is_sound, new_page, sign_in, watch_csp_violations
from tests.factories import (
    PASSWORD,
    OrganisationFactory,
    PersonFactory,
    StageFactory,
    UserFactory,
    add_member,
    staff_user,
)
from tests.provisioning_fakes import active_grant, issue

pytestmark = [pytest.mark.browser, pytest.mark.django_db(transaction=True)]


def _staff_page(page, live_server, user):
    """A page of its own for a staff member, signed in with their second factor."""
    staff_page = new_page(page.context.browser)
    sign_in(staff_page, live_server, user, PASSWORD)
    return staff_page, watch_csp_violations(staff_page)


def test_a_partner_admin_sees_the_suspension_and_the_restore(page, live_server, settings):
    # given a partner with keys on Mythos 5 and an approved determination that restricts it
    settings.BULK_RESTORE_GATE = ""  # eligibility is judged elsewhere; these people qualify
    organisation = OrganisationFactory(
        slug="northwind",
        legal_name="Northwind Cyber",
        email_domain="northwind.example",
        verification_state=VerificationState.VERIFIED,
    )
    admin = UserFactory(username="northwind-admin", email="admin@northwind.example")
    add_member(organisation, admin, MemberRole.ADMIN)
    stage = StageFactory(covered_model__name="Mythos 5", covered_model__slug="mythos-5", seats=5)
    grant = active_grant(organisation=organisation, stage=stage)
    for name in ("Ada Lovelace", "Alan Turing", "Grace Hopper"):
        issue(grant, PersonFactory(organisation=organisation, legal_name=name))
    officer, ops, second_ops = (
        staff_user("compliance"),
        staff_user("ops"),
        staff_user("ops"),
    )
    Determination.objects.create(
        reference="BIS-2026-17",
        legal_basis="Export Administration Regulations, 15 CFR 744.23",
        effective_date=dt.date(2026, 6, 3),
        created_by=officer,
        state=DeterminationState.APPROVED,
    )
    csp_violations = watch_csp_violations(page)
    ops_page, ops_csp = _staff_page(page, live_server, ops)
    try:
        # when ops open the stop page from the navigation
        ops_nav = ops_page.get_by_role("navigation", name="Main")
        ops_nav.get_by_role("link", name="Bulk actions").click()
        ops_page.get_by_role("link", name="Emergency stop of a model").click()
        ops_page.wait_for_url("**/emergency-stop/")
        assert_page_is_sound(ops_page, ops_csp)

        # then, before the button, it says what the stop will cut
        row = ops_page.locator("#stop-preview tr", has_text="Mythos 5")
        cells = row.locator("td").all_inner_texts()
        assert cells == ["1", "3", "1", "0"]  # grants, keys, organisations, targets
        preview = ops_page.locator("#stop-preview")
        button = ops_page.get_by_role("button", name="Stop this model now")
        assert preview.bounding_box()["y"] < button.bounding_box()["y"]

        # when they press it under the determination without naming it, it is refused
        ops_page.get_by_label("Model", exact=True).select_option(label="Mythos 5")
        ops_page.get_by_label("A government determination (name it below)").check()
        ops_page.get_by_label("Reason", exact=True).fill("Export ban on the Mythos family")
        ops_page.get_by_label(re.compile("Suspend every grant of this model now")).check()
        button.click()
        ops_page.get_by_role("alert").filter(has_text="names it").wait_for()
        assert_page_is_sound(ops_page, ops_csp)
        assert not BulkAction.objects.exists()

        # when they name it and press again
        ops_page.get_by_label("Determination", exact=True).select_option(
            label="BIS-2026-17: Export Administration Regulations, 15 CFR 744.23 "
            "(approved, effective 2026-06-03)"
        )
        ops_page.get_by_label(re.compile("Suspend every grant of this model now")).check()
        ops_page.get_by_role("button", name="Stop this model now").click()
        ops_page.get_by_text(
            re.compile(
                "Mythos 5 stopped under determination BIS-2026-17: 1 grants suspended .*"
                "access has ended. 3 keys suspended"
            )
        ).wait_for()
        assert_page_is_sound(ops_page, ops_csp)
        stop_url = ops_page.url
        stop = BulkAction.objects.get(emergency=True)
        assert stop.determination == "BIS-2026-17"
        assert not Credential.objects.filter(state=CredentialState.ACTIVE).exists()
        access_notices_dispatch()  # beat

        # then the partner admin sees one unread notice from the home page
        sign_in(page, live_server, admin, PASSWORD, totp=False)
        page.goto(f"{live_server.url}/")
        nav = page.get_by_role("navigation", name="Main")
        nav.get_by_role("link", name="Notifications 1 unread").wait_for()
        assert_page_is_sound(page, csp_violations)
        home = page.get_by_role("main").inner_text()
        assert "Restricted by a government determination (BIS-2026-17)" in home
        assert "3 suspended" in home

        # and the notice names the reason and the legal basis
        nav.get_by_role("link", name="Notifications").click()
        page.wait_for_url("**/notifications/")
        main = page.get_by_role("main")
        main.get_by_role(
            "link", name="Mythos 5 access for 3 people of Northwind Cyber was suspended"
        ).wait_for()
        text = main.inner_text()
        assert "under determination BIS-2026-17" in text
        assert "Legal basis: Export Administration Regulations, 15 CFR 744.23" in text
        assert "Reason given: Export ban on the Mythos family" in text
        assert_page_is_sound(page, csp_violations)

        # and the keys page, one click from the navigation, says why each key is suspended
        nav.get_by_role("link", name="Keys").click()
        page.wait_for_url("**/provisioning/keys/")
        keys = page.get_by_role("main").inner_text()
        assert keys.count("Restricted by a government determination (BIS-2026-17)") == 3
        assert_page_is_sound(page, csp_violations)

        # when ops plan the restore with "Lift this stop" on the stop's page
        ops_page.goto(stop_url)
        ops_page.get_by_role("button", name="Lift this stop").click()
        ops_page.get_by_text("needs a second person's approval").wait_for()
        assert_page_is_sound(ops_page, ops_csp)
        assert ops_page.get_by_role("button", name="Run this plan").count() == 0
        restore_url = ops_page.url
        restore = BulkAction.objects.get(kind=BulkKind.RESTORE)

        # then the second ops person finds it waiting for them from the navigation (with
        # the stop's after-the-fact review), and approves it on its page
        second_page, second_csp = _staff_page(page, live_server, second_ops)
        try:
            second_page.get_by_role("navigation", name="Main").get_by_role(
                "link", name="Waiting for me 2 to sign"
            ).click()
            second_page.wait_for_url("**/waiting/")
            assert_page_is_sound(second_page, second_csp)
            second_page.get_by_role(
                "link", name="Review afterwards: emergency suspend of 1 grant"
            ).wait_for()
            second_page.get_by_role("link", name="Approve: restore of 1 grant, 3 keys").click()
            second_page.get_by_role("link", name="Review and approve").click()
            assert_page_is_sound(second_page, second_csp)
            second_page.get_by_label(re.compile("I have checked the counts")).check()
            second_page.get_by_role("button", name="Approve this plan").click()
            second_page.get_by_text("Approved.").first.wait_for()
            assert_page_is_sound(second_page, second_csp)
        finally:
            second_page.context.close()
        restore.refresh_from_db()
        assert (restore.state, restore.approved_by) == (BulkState.APPROVED, second_ops)

        # when the first ops person runs it, and the worker does its part
        ops_page.goto(restore_url)
        ops_page.get_by_label(re.compile("I have checked the counts")).check()
        ops_page.get_by_role("button", name="Run this plan").click()
        ops_page.get_by_text("Running.").wait_for()
        bulk_run(action_id=restore.pk)  # the worker
        ops_page.locator("#bulk-progress").get_by_text("Done").wait_for()
        assert_page_is_sound(ops_page, ops_csp)
        access_notices_dispatch()  # beat
    finally:
        ops_page.context.close()

    # then the restore notice is there too, newest first
    assert Credential.objects.filter(state=CredentialState.ACTIVE).count() == 3
    page.goto(f"{live_server.url}/notifications/")
    main = page.get_by_role("main")
    main.get_by_role(
        "link", name="Mythos 5 access for 3 people of Northwind Cyber was restored"
    ).wait_for()
    assert "The keys work again now" in main.inner_text()
    assert_page_is_sound(page, csp_violations)

    # and the organisation's webhook page is reachable for its admin
    page.goto(f"{live_server.url}/notifications/organisation-webhooks/northwind/")
    page.get_by_role("heading", name="Webhooks for Northwind Cyber").wait_for()
    assert_page_is_sound(page, csp_violations)
