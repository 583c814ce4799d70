"""In a real browser at 1280 px: every page in each persona's main navigation is sound
(labelled controls, no CSP violation, no sideways scroll, no raw id or slug in the text)."""

from __future__ import annotations

import pytest

from portal.accounts.roles import Role
from portal.partners.models import MemberRole
from tests.browser import assert_page_is_sound, signed_in_page
from tests.factories import (
    CoveredModelFactory,
    OrganisationFactory,
    StageFactory,
    UserFactory,
    add_member,
    staff_user,
)
from tests.provisioning_fakes import active_grant

pytestmark = [pytest.mark.browser, pytest.mark.django_db(transaction=True)]


@pytest.mark.parametrize("role", [Role.COMPLIANCE, Role.OPS, Role.AUDITOR, Role.REVIEWER])
def test_every_page_in_the_navigation_is_sound(browser, live_server, role):
    # given a little data, so that lists and charts have rows
    stage = StageFactory(covered_model=CoveredModelFactory(slug="mythos-5", name="Mythos 5"))
    active_grant(organisation=OrganisationFactory(legal_name="Northwind Cyber"), stage=stage)
    user = staff_user(role)
    with signed_in_page(browser, live_server, user) as (page, csp):
        nav = page.get_by_role("navigation", name="Main")
        nav.wait_for()
        hrefs = nav.get_by_role("link").evaluate_all("(links) => links.map((a) => a.href)")
        assert hrefs
        for href in dict.fromkeys(hrefs):
            page.goto(href)
            assert_page_is_sound(page, csp)


def test_every_page_in_a_partner_admins_navigation_is_sound(browser, live_server):
    organisation = OrganisationFactory(slug="northwind", legal_name="Northwind Cyber")
    stage = StageFactory(covered_model=CoveredModelFactory(slug="mythos-5", name="Mythos 5"))
    active_grant(organisation=organisation, stage=stage)
    admin = UserFactory(username="northwind-admin")
    add_member(organisation, admin, MemberRole.ADMIN)
    with signed_in_page(browser, live_server, admin, totp=False) as (page, csp):
        nav = page.get_by_role("navigation", name="Main")
        nav.wait_for()
        hrefs = nav.get_by_role("link").evaluate_all("(links) => links.map((a) => a.href)")
        assert len(hrefs) > 1
        for href in dict.fromkeys(hrefs):
            page.goto(href)
            assert_page_is_sound(page, csp)
