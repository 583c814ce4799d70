"""In a real browser: a partner admin learns of an emergency stop and of the restore.

The stop and the restore are made by operations through the same services their pages
call; the dispatcher runs as beat would. The partner admin then sees, on the home page's
unread badge and on the Notifications page, the suspension notice with its reason and
legal basis, the keys page saying why the keys are suspended, and later the restore.
"""

from __future__ import annotations

import datetime as dt

import pytest

from portal.compliance.models import Determination
from portal.notifications.access import access_notices_dispatch
from portal.partners.models import MemberRole, VerificationState
from provisioning.bulk.models import BulkKind
from provisioning.bulk.services import bulk_approve, bulk_execute, bulk_plan
from provisioning.deliveries.emergency import model_emergency_stop
from provisioning.grants.models import SuspensionKind
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


def test_a_partner_admin_sees_the_suspension_and_the_restore(page, live_server, settings):
    # given a partner with keys on Mythos 5 and a determination that restricts it
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
    determination = Determination.objects.create(
        reference="BIS-2026-17",
        legal_basis="Export Administration Regulations, 15 CFR 744.23",
        effective_date=dt.date(2026, 6, 3),
        created_by=officer,
    )
    csp_violations = watch_csp_violations(page)

    # when operations stop the model under the determination, and beat dispatches notices
    stop = model_emergency_stop(
        covered_model=stage.covered_model,
        actor=ops,
        reason="Export ban on the Mythos family",
        kind=SuspensionKind.REGULATORY,
        reference=determination.reference,
    )
    access_notices_dispatch()

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
    assert page.get_by_role("main").inner_text().count("Restricted by a government") == 3
    assert_page_is_sound(page, csp_violations)

    # when a restore for this partner is approved by a second person and runs
    restore = bulk_plan(
        actor=ops,
        kind=BulkKind.RESTORE,
        filters={"organisation": organisation.pk},
        reason="Licence under BIS-2026-17 lets Northwind back in",
        suspension_kind=SuspensionKind.REGULATORY,
        reference=stop.bulk_action.reference,
    )
    # then the second ops person finds it waiting for them from the navigation (with the
    # stop's after-the-fact review)
    second_page = new_page(page.context.browser)
    try:
        sign_in(second_page, live_server, second_ops, PASSWORD)
        second_page.get_by_role("navigation", name="Main").get_by_role(
            "link", name="Waiting for me 2 to sign"
        ).click()
        second_page.wait_for_url("**/waiting/")
        assert_page_is_sound(second_page, watch_csp_violations(second_page))
        # the stop itself waits for this second person's review afterwards, too
        second_page.get_by_role(
            "link", name="Review afterwards: emergency suspend of 1 grant"
        ).wait_for()
        second_page.get_by_role("link", name="Approve: restore of 1 grant, 3 keys").click()
        second_page.get_by_role("link", name="Review and approve").wait_for()
    finally:
        second_page.context.close()
    bulk_approve(action=restore, actor=second_ops)
    bulk_execute(action=restore, actor=ops, run_now=True)
    access_notices_dispatch()

    # then the restore notice is there too, newest first
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
