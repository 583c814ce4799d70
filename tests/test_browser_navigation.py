"""In a real browser at 1280 px: every persona's home page keeps the main navigation on one
line, scrolls not sideways, and shows no raw id; the pages each persona reaches from the
navigation are one click away."""

from __future__ import annotations

import pytest

from portal.partners.models import MemberRole
from tests.browser import assert_page_is_sound, signed_in_page
from tests.factories import OrganisationFactory, UserFactory, add_member, staff_user

pytestmark = [pytest.mark.browser, pytest.mark.django_db(transaction=True)]

# Persona -> links its main navigation must hold.
EXPECTED = {
    "compliance": ("Waiting for me", "Usage alerts", "Screening lists", "Determinations"),
    "ops": ("Waiting for me", "Bulk actions", "Provisioning"),
    "auditor": ("Determinations", "Audit"),
    "reviewer": ("Review queue",),
}


@pytest.mark.parametrize("role", sorted(EXPECTED))
def test_each_staff_persona_has_one_line_of_navigation(browser, live_server, role):
    user = staff_user(role)
    with signed_in_page(browser, live_server, user) as (page, csp):
        nav = page.get_by_role("navigation", name="Main")
        nav.wait_for()
        for label in EXPECTED[role]:
            nav.get_by_role("link", name=label).first.wait_for()
        assert_page_is_sound(page, csp)


def test_a_partner_admin_has_the_keys_page_in_one_line_of_navigation(browser, live_server):
    organisation = OrganisationFactory(slug="northwind", legal_name="Northwind Cyber")
    admin = UserFactory(username="northwind-admin")
    add_member(organisation, admin, MemberRole.ADMIN)
    with signed_in_page(browser, live_server, admin, totp=False) as (page, csp):
        nav = page.get_by_role("navigation", name="Main")
        nav.get_by_role("link", name="Keys").wait_for()
        assert_page_is_sound(page, csp)
        nav.get_by_role("link", name="Keys").click()
        page.wait_for_url("**/provisioning/keys/")
        assert_page_is_sound(page, csp)
