"""In a real browser: two reviewers take a four-eyes application from the queue to an
active grant, and the applicant sees the decision."""

from __future__ import annotations

import pytest

from portal.applications.models import Application
from portal.applications.states import ApplicationState
from provisioning.grants.models import Grant, GrantState
from tests.browser import new_page, sign_in
from tests.factories import PASSWORD
from tests.reviewing import queued_application

pytestmark = [pytest.mark.browser, pytest.mark.django_db(transaction=True)]


def _sign_in(browser, live_server, user, *, totp: bool = True):
    page = new_page(browser)
    sign_in(page, live_server, user, PASSWORD, totp=totp)
    page.get_by_role("navigation", name="Main").wait_for()
    return page.context, page


def test_two_reviewers_approve_a_four_eyes_application_end_to_end(
    browser, live_server, reviewer, second_reviewer, organisation, partner_admin
):
    # given
    application = queued_application(
        organisation, four_eyes=True, nominees=2, created_by=partner_admin
    )

    # when: the first reviewer takes it from the queue and approves
    first_context, first = _sign_in(browser, live_server, reviewer)
    first.get_by_role("link", name="Review queue").click()
    first.get_by_role("link", name=f"#{application.pk}").click()
    first.get_by_role("button", name="Claim").click()
    first.get_by_text("You now work on this application.").wait_for()
    first.get_by_role("button", name="Give first approval").click()
    first.get_by_text("First approval recorded").wait_for()
    assert first.get_by_text("You gave the first approval; a second reviewer must approve.").first
    first_context.close()

    # and the second reviewer finds it awaiting a second approval and confirms
    second_context, second = _sign_in(browser, live_server, second_reviewer)
    second.goto(f"{live_server.url}/reviews/?state=awaiting_second")
    second.get_by_role("link", name=f"#{application.pk}").click()
    second.get_by_role("button", name="Give second approval").click()
    second.get_by_text("Approved. Grant").wait_for()
    second_context.close()

    # then
    application.refresh_from_db()
    assert application.state == ApplicationState.APPROVED
    grant = Grant.objects.get(organisation=organisation)
    assert grant.state == GrantState.ACTIVE
    assert grant.credentials.count() == 2

    # and the applicant sees the decision
    applicant_context, applicant = _sign_in(browser, live_server, partner_admin, totp=False)
    applicant.goto(f"{live_server.url}/reviews/applications/{application.pk}/")
    applicant.get_by_text(f"Grant #{grant.pk} is active").wait_for()
    applicant_context.close()
    assert Application.objects.filter(pk=application.pk, state="approved").exists()
