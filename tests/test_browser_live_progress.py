"""In a real browser: the screening lists page, a certification campaign's page and a list
load's job page update themselves (htmx polling of a small fragment), with no refresh and
no bar for nobody."""

from __future__ import annotations

import datetime as dt

import pytest
from django.db import connection
from django.utils import timezone

from portal.accounts.roles import Role
from portal.certification.models import CertificationItem, Decision
from portal.certification.services import campaign_open
from portal.jobs.models import Job, JobKind, JobState
from portal.jobs.services import job_run
from portal.screening.data import LIST_DATA
from portal.screening.jobs import list_load_run
from portal.screening.models import ListFormat, ListVersion
from tests.browser import (
    assert_layout_and_words,
    assert_page_is_sound,
    new_page,
    sign_in,
    signed_in_page,
    watch_csp_violations,
)
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
    with signed_in_page(browser, live_server, officer) as (page, csp):
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


def _two_harbour_key_holders(stage):
    """Ada and Bo Harbour of Northwind Cyber hold keys on the stage's model; Ada's is returned."""
    organisation = OrganisationFactory(legal_name="Northwind Cyber")
    grant = active_grant(organisation=organisation, stage=stage)
    key = issue(grant, PersonFactory(organisation=organisation, legal_name="Ada Harbour"))
    issue(grant, PersonFactory(organisation=organisation, legal_name="Bo Harbour"))
    return key


def test_a_campaigns_decisions_count_up_without_a_refresh(browser, live_server):
    # given
    officer = staff_user(Role.COMPLIANCE)
    stage = StageFactory(seats=10)
    key = _two_harbour_key_holders(stage)
    campaign = campaign_open(
        actor=officer,
        title="Q4 recertification",
        covered_model=stage.covered_model,
        deadline=timezone.now() + dt.timedelta(days=10),
    )
    with signed_in_page(browser, live_server, officer) as (page, csp):
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


def test_a_list_load_started_on_the_page_counts_up_to_done_without_a_refresh(
    browser, live_server, settings, tmp_path, monkeypatch
):
    # given an officer on the load page, and entries stored two per batch
    settings.PRIVATE_STORAGE_ROOT = tmp_path / "private"
    monkeypatch.setattr("portal.screening.lists.BATCH_SIZE", 2)
    officer = staff_user(Role.COMPLIANCE)
    page = new_page(browser)
    csp = watch_csp_violations(page)
    navigations: list[str] = []
    try:
        sign_in(page, live_server, officer, PASSWORD)
        page.goto(f"{live_server.url}/screening/freshness/")
        page.get_by_role("link", name="Load a list").click()
        assert_page_is_sound(page, csp)

        # when the officer uploads a list
        page.get_by_label("Format").select_option("csl")
        page.get_by_label("List file").set_input_files(
            str(LIST_DATA / "csl-consolidated-sample.csv")
        )
        page.get_by_role("button", name="Load the list").click()

        # then the job's page waits for a worker, drawing no bar for nothing
        page.get_by_text("Preparing: waiting for a worker").wait_for()
        assert page.locator("progress").count() == 0
        assert_page_is_sound(page, csp)
        assert_layout_and_words(page)
        job = Job.objects.get()
        page.on("framenavigated", lambda frame: navigations.append(frame.url))

        # when a worker runs it, the page shows each batch as the worker stores it (the counts
        # go through a connection of their own, on PostgreSQL; SQLite has one writer, so
        # there the page goes from preparing straight to done)
        live = connection.vendor == "postgresql"
        seen: list[str] = []

        def watched(job: Job, progress) -> int:
            def report(done: int, total: int) -> None:
                progress(done, total)
                if live and 0 < done < total and len(seen) < 2:
                    seen.append(f"{done:,} of {total:,} entries stored")
                    page.get_by_text(seen[-1]).wait_for()
                    assert page.locator("progress#job-bar").count() == 1

            return list_load_run(job, report)

        finished = job_run(job.pk, runners={JobKind.LIST_LOAD: watched})

        # then it ends done, with a link to the lists in force, without a reload
        assert finished.state == JobState.DONE, finished.error
        assert len(seen) == (2 if live else 0)
        page.get_by_text(f"Done: {finished.total:,} of {finished.total:,} entries").wait_for()
        assert page.get_by_role("link", name="See the lists in force and the re-screening")
        assert navigations == []
        assert ListVersion.objects.get(is_current=True).pk == finished.result_id
        assert_page_is_sound(page, csp)
    finally:
        page.context.close()


def test_a_campaign_opened_on_the_page_is_followed_to_its_page(browser, live_server):
    # given two key holders on a model, and an officer on the opening form
    officer = staff_user(Role.COMPLIANCE)
    stage = StageFactory(seats=10)
    _two_harbour_key_holders(stage)
    with signed_in_page(browser, live_server, officer) as (page, csp):
        page.goto(f"{live_server.url}/certification/new/")
        page.get_by_label("Title").fill("Q4 recertification")
        page.get_by_label("Covered model").select_option(str(stage.covered_model_id))

        # when it is sent, the job's page waits for a worker
        page.get_by_role("button", name="Open campaign").click()
        page.get_by_text("Preparing: waiting for a worker").wait_for()
        assert_page_is_sound(page, csp)
        assert_layout_and_words(page)

        # and when a worker opens it, the page links to the campaign without a reload
        finished = job_run(Job.objects.get().pk)
        assert finished.state == JobState.DONE, finished.error
        page.get_by_text("Done: 2 of 2 keys").wait_for()
        page.get_by_role("link", name="Open the campaign").click()

        # then the campaign's page counts its decisions
        page.get_by_text("Decided: 0 of 2 people").wait_for()
        assert_page_is_sound(page, csp)
