"""In a real browser: the screening lists page and a certification campaign's page update
themselves (htmx polling of a small fragment), with no refresh and no bar for nobody."""

from __future__ import annotations

import datetime as dt

import pytest
from django.utils import timezone

from portal.accounts.roles import Role
from portal.certification.models import CertificationItem, Decision
from portal.certification.services import campaign_open
from portal.screening.models import ListFormat, ListVersion
from tests.browser import assert_page_is_sound, new_page, sign_in, watch_csp_violations
from tests.factories import (
    PASSWORD,
    CompletePersonFactory,
    OrganisationFactory,
    PersonFactory,
    StageFactory,
    staff_user,
)
from tests.provisioning_fakes import active_grant, issue

pytestmark = [pytest.mark.browser, pytest.mark.django_db(transaction=True)]


def test_a_list_loaded_elsewhere_appears_on_the_lists_page_without_a_refresh(browser, live_server):
    # given
    officer = staff_user(Role.COMPLIANCE)
    CompletePersonFactory()
    page = new_page(browser)
    csp = watch_csp_violations(page)
    try:
        sign_in(page, live_server, officer, PASSWORD)
        page.goto(f"{live_server.url}/screening/freshness/")
        page.get_by_text("No list is loaded yet.").wait_for()
        assert_page_is_sound(page, csp)

        # when a load commits (through the API or the command)
        ListVersion.objects.create(
            list_format=ListFormat.CSL,
            file_name="csl.csv",
            sha256="0" * 64,
            loaded_at=timezone.now(),
            entry_count=12345,
            is_current=True,
        )

        # then the page shows it, and the re-screening it starts, by itself
        page.get_by_text("12,345 entries").wait_for(timeout=20_000)
        page.get_by_text("of 1 person screened").wait_for()
        assert_page_is_sound(page, csp)
    finally:
        page.context.close()


def test_a_campaigns_decisions_count_up_without_a_refresh(browser, live_server):
    # given
    officer = staff_user(Role.COMPLIANCE)
    stage = StageFactory(seats=10)
    organisation = OrganisationFactory(legal_name="Northwind Cyber")
    grant = active_grant(organisation=organisation, stage=stage)
    key = issue(grant, PersonFactory(organisation=organisation, legal_name="Ada Harbour"))
    issue(grant, PersonFactory(organisation=organisation, legal_name="Bo Harbour"))
    campaign = campaign_open(
        actor=officer,
        title="Q4 recertification",
        covered_model=stage.covered_model,
        deadline=timezone.now() + dt.timedelta(days=10),
    )
    page = new_page(browser)
    csp = watch_csp_violations(page)
    try:
        sign_in(page, live_server, officer, PASSWORD)
        page.goto(f"{live_server.url}/certification/{campaign.pk}/")
        page.get_by_text("Decided: 0 of 2 people").wait_for()
        assert_page_is_sound(page, csp)

        # when a partner admin confirms one person
        CertificationItem.objects.filter(credential=key.credential).update(
            decision=Decision.CONFIRMED, decided_at=timezone.now()
        )

        # then
        page.get_by_text("Decided: 1 of 2 people").wait_for(timeout=15_000)
        assert_page_is_sound(page, csp)
    finally:
        page.context.close()
