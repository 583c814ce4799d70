"""In a real browser at 1280 px: the compliance dashboard's charts name models by name,
carry their axes and values, and the page stays sound (labels, CSP, no sideways scroll,
no raw ids)."""

from __future__ import annotations

import datetime as dt

import pytest
from django.utils import timezone

from portal.accounts.roles import Role
from provisioning.bulk.models import BulkAction, BulkState
from tests.browser import assert_page_is_sound, new_page, sign_in, watch_csp_violations
from tests.factories import PASSWORD, CoveredModelFactory, StageFactory, staff_user
from tests.provisioning_fakes import active_grant

pytestmark = [pytest.mark.browser, pytest.mark.django_db(transaction=True)]


def test_a_compliance_officer_reads_the_charts_in_words_with_their_scales(browser, live_server):
    # given
    officer = staff_user(Role.COMPLIANCE)
    stage = StageFactory(covered_model=CoveredModelFactory(slug="mythos-5", name="Mythos 5"))
    for _ in range(3):
        active_grant(stage=stage)
    now = timezone.now()
    for seconds in (0.4, 2.5):
        BulkAction.objects.create(
            kind="suspend",
            reason="Export ban",
            plan_hash="0" * 64,
            planned_by=officer,
            planned_at=now,
            emergency=True,
            state=BulkState.DONE,
            started_at=now - dt.timedelta(seconds=seconds),
            committed_at=now,
            grant_count=3,
        )
    page = new_page(browser)
    csp = watch_csp_violations(page)
    try:
        # when
        sign_in(page, live_server, officer, PASSWORD)
        page.goto(f"{live_server.url}/compliance/")

        # then
        history = page.locator("figure", has_text="Mythos 5: grants per day")
        history.wait_for()
        assert "Mythos 5" in history.locator("svg title").first.text_content()
        revoke = page.locator("section", has_text="Time to revoke")
        texts = revoke.locator("svg text").all_text_contents()
        assert "0 s" in texts and "3 s" in texts
        assert "0.40 s" in texts and "2.50 s" in texts
        assert any(text.endswith("Emergency suspension") for text in texts)
        assert_page_is_sound(page, csp)
    finally:
        page.context.close()
