"""In a real browser at 1280 px: the audit explorer's pickers are labelled and the table of
events, long ids and reasons included, never scrolls sideways."""

from __future__ import annotations

import pytest

from foundation.audit.services import audit_record
from portal.accounts.roles import Role
from tests.browser import assert_page_is_sound, new_page, sign_in, watch_csp_violations
from tests.factories import PASSWORD, CoveredModelFactory, OrganisationFactory, staff_user

pytestmark = [pytest.mark.browser, pytest.mark.django_db(transaction=True)]


def test_an_auditor_picks_filters_and_reads_events_without_sideways_scroll(browser, live_server):
    # given: events whose object names, reasons and request ids are long
    organisation = OrganisationFactory(slug="northwind", legal_name="Northwind Cyber")
    CoveredModelFactory(slug="fable", name="Fable")
    auditor = staff_user(Role.AUDITOR)
    for i in range(3):
        audit_record(
            actor=None,
            action="organisation.verification_changed",
            obj=organisation,
            organisation_id=organisation.pk,
            reason="A long reason without spaces " + "x" * 180 + f" {i}",
        )
    page = new_page(browser)
    csp = watch_csp_violations(page)
    try:
        # when
        sign_in(page, live_server, auditor, PASSWORD)
        page.goto(f"{live_server.url}/audit/")
        assert_page_is_sound(page, csp)
        page.get_by_label("Organisation").select_option(label="Northwind Cyber")
        page.get_by_label("Covered model").select_option(label="Fable")
        page.get_by_label("Organisation").select_option(label="Northwind Cyber")
        page.get_by_label("Covered model").select_option(label="Any model")
        page.get_by_role("button", name="Show events").click()
        page.wait_for_url("**organisation=northwind**")

        # then
        page.get_by_role("table").wait_for()
        assert page.get_by_role("row").count() == 4
        assert_page_is_sound(page, csp)
    finally:
        page.context.close()
