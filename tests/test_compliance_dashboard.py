"""The compliance dashboard: what needs attention now, each figure a link to its queue."""

from __future__ import annotations

import datetime as dt

import pytest
from django.db import connection
from django.test.utils import CaptureQueriesContext
from django.urls import reverse
from django.utils import timezone

from portal.compliance.charts import nice_ticks
from portal.compliance.dashboard import TILES, Figure, Tile
from portal.compliance.models import Determination, DeterminationState
from portal.screening.models import ScreeningMatch
from portal.usage.models import AlertState, GrantDailyCount, UsageAlert
from portal.usage.services import grant_counts_snapshot
from provisioning.bulk.models import BulkAction, BulkState
from provisioning.deliveries.models import DriftReport, Failure, FailureState, Target
from tests.compliance_helpers import over_quota_alert
from tests.conftest import client_for
from tests.factories import CompletePersonFactory, StageFactory
from tests.provisioning_fakes import active_grant, issue

pytestmark = pytest.mark.django_db


def _alert(credential, state=AlertState.OPEN, n=0):
    alert = over_quota_alert(credential, n, state=state)
    alert.save(force_insert=True)
    return alert


def _bulk(staff, *, emergency=True, reviewed=False, seconds=1.5, kind="suspend"):
    now = timezone.now()
    return BulkAction.objects.create(
        kind=kind,
        reason="test",
        plan_hash="0" * 64,
        planned_by=staff,
        planned_at=now,
        emergency=emergency,
        review_required=emergency,
        reviewed_at=now if reviewed else None,
        reviewed_by=staff if reviewed else None,
        state=BulkState.DONE,
        started_at=now - dt.timedelta(seconds=seconds),
        committed_at=now,
        grant_count=3,
    )


@pytest.fixture
def busy(authz_world, organisation, compliance_officer, settings):
    """One of each thing that needs attention (the matrix world holds several already)."""
    world = authz_world
    # The world holds one open usage alert, one pending match, one draft determination,
    # one planned (non-emergency) bulk action and one in-review application.
    _alert(world.credential, state=AlertState.CLOSED, n=1)
    Determination.objects.create(
        reference="DET-2",
        legal_basis="x",
        effective_date=timezone.now().date(),
        created_by=compliance_officer,
        state=DeterminationState.AWAITING_APPROVAL,
    )
    _bulk(compliance_officer)  # emergency, not reviewed yet
    _bulk(compliance_officer, reviewed=True, seconds=3)
    settings.REVIEW_DEADLINE_DAYS = 5
    world.application.submitted_at = timezone.now() - dt.timedelta(days=9)
    world.application.save(update_fields=["submitted_at"])
    Failure.objects.create(
        target=world.target,
        credential=world.credential,
        attempts=8,
        next_attempt_at=timezone.now(),
        state=FailureState.DEAD,
        created_at=timezone.now(),
        updated_at=timezone.now(),
    )
    DriftReport.objects.create(target=world.target, created_at=timezone.now(), drifted=2)
    quiet = Target.objects.create(kind="webhook", name="quiet", url="http://127.0.0.1:9/q")
    DriftReport.objects.create(
        target=quiet, created_at=timezone.now() - dt.timedelta(hours=1), drifted=5
    )
    DriftReport.objects.create(target=quiet, created_at=timezone.now(), drifted=0)
    CompletePersonFactory(organisation=organisation, legal_name="Never Screened")
    return world


def _figures(response) -> dict[str, int]:
    return {view.tile.key: view.figure.value for view in response.context["tiles"]}


def test_each_tile_counts_what_waits_in_its_queue(busy, compliance_officer):
    response = client_for(compliance_officer).get(reverse("compliance:dashboard"))

    assert response.status_code == 200
    figures = _figures(response)
    assert figures["usage_alerts"] == 1
    assert figures["potential_matches"] == ScreeningMatch.objects.filter(status="pending").count()
    assert figures["potential_matches"] == 1
    assert figures["determinations"] == 1
    assert figures["emergency_reviews"] == 1
    assert figures["overdue_applications"] == 1
    assert figures["dead_deliveries"] == 1
    assert figures["drift"] == 1  # "quiet" drifted before but its last pass was clean
    # The world's person was screened after the list was loaded; the new one never was.
    assert figures["stale_screenings"] == 1


def test_figures_link_to_their_queue_where_the_reader_may_open_it(busy, compliance_officer):
    response = client_for(compliance_officer).get(reverse("compliance:dashboard"))

    links = {view.tile.key: view.url for view in response.context["tiles"]}
    assert links["usage_alerts"] == reverse("usage:alerts") + "?state=open"
    assert links["overdue_applications"] == reverse("reviews:queue") + "?age=overdue"
    assert links["stale_screenings"] == reverse("screening:freshness")
    # Compliance cannot open provisioning health: the figure is shown without a link.
    assert links["dead_deliveries"] is None
    page = response.content.decode()
    assert f'href="{reverse("usage:alerts")}?state=open"' in page


def test_the_auditor_gets_every_link(busy, auditor):
    response = client_for(auditor).get(reverse("compliance:dashboard"))

    assert response.status_code == 200
    assert all(view.url for view in response.context["tiles"])


def test_the_query_count_does_not_grow_with_the_rows(busy, compliance_officer):
    client = client_for(compliance_officer)
    client.get(reverse("compliance:dashboard"))  # warm the session and permission caches
    with CaptureQueriesContext(connection) as few:
        client.get(reverse("compliance:dashboard"))

    for n in range(2, 12):
        _alert(busy.credential, n=n)
        _bulk(busy.bulk_action.planned_by, seconds=n)
        GrantDailyCount.objects.create(
            day=timezone.now().date() - dt.timedelta(days=n),
            covered_model=busy.grant.covered_model,
            state="active",
            count=n,
        )
        grant = active_grant(stage=StageFactory())
        issue(grant, CompletePersonFactory(organisation=grant.organisation))
    with CaptureQueriesContext(connection) as many:
        response = client.get(reverse("compliance:dashboard"))

    assert _figures(response)["usage_alerts"] == 11
    assert len(many) == len(few)
    assert len(few) <= 25


def test_grants_by_model_and_state_are_drawn_with_a_title_a_description_and_a_table(
    busy, compliance_officer
):
    grant_counts_snapshot(day=timezone.now().date() - dt.timedelta(days=1))
    response = client_for(compliance_officer).get(reverse("compliance:dashboard"))

    history = response.context["history"]
    assert len(history.days) == 2  # yesterday's recorded counts and today's live ones
    model = next(m for m in history.models if m.slug == busy.grant.covered_model.slug)
    assert model.rows[-1][1][0] == 1  # one active grant today
    page = response.content.decode()
    assert '<svg viewBox="0 0 360 170"' in page
    assert 'role="img"' in page
    assert f'<title id="history-1-title">Grants of {history.models[0].name}' in page
    assert "<desc id=" in page
    assert "<summary>Table: grants of" in page
    assert "<script" not in page.split("<main")[1]


def test_time_to_revoke_is_drawn_per_finished_bulk_action(busy, compliance_officer):
    response = client_for(compliance_officer).get(reverse("compliance:dashboard"))

    chart = response.context["revoke_times"]
    assert [round(row.seconds, 1) for row in chart.rows] == [1.5, 3.0]
    assert chart.rows[1].bar.width > chart.rows[0].bar.width
    assert "Seconds from start to commit" in response.content.decode()


def test_the_grant_chart_names_models_and_has_axes_values_and_day_labels(busy, compliance_officer):
    # given
    covered_model = busy.grant.covered_model
    covered_model.name = "Mythos 5"
    covered_model.save(update_fields=["name"])

    # when
    response = client_for(compliance_officer).get(reverse("compliance:dashboard"))

    # then
    assert response.status_code == 200
    history = response.context["history"]
    model = next(m for m in history.models if m.slug == covered_model.slug)
    assert model.name == "Mythos 5"
    assert history.y_ticks[0].label == "0"
    assert float(history.y_ticks[-1].label.replace(",", "")) >= history.peak
    today = timezone.localdate()
    assert history.x_ticks[-1].label == f"{today:%b} {today.day}"
    assert model.values[-1].text == str(sum(model.rows[-1][1]))
    page = response.content.decode()
    assert "<strong>Mythos 5</strong>: grants per day" in page
    assert f"Grants of {covered_model.slug} " not in page
    assert f">{covered_model.slug}:" not in page


def test_time_to_revoke_has_a_scale_in_seconds_names_and_values(busy, compliance_officer):
    response = client_for(compliance_officer).get(reverse("compliance:dashboard"))

    assert response.status_code == 200
    chart = response.context["revoke_times"]
    labels = [tick.label for tick in chart.ticks]
    assert labels[0] == "0 s"
    assert float(labels[-1].removesuffix(" s")) >= 3.0  # the slowest took 3 s
    assert chart.rows[0].name.endswith("Emergency suspension")
    assert [row.value.text for row in chart.rows] == ["1.50 s", "3.00 s"]
    # Bars share the scale: 3 s reaches twice as far as 1.5 s.
    assert chart.rows[1].bar.width == pytest.approx(2 * chart.rows[0].bar.width, rel=0.01)
    assert "Seconds from start to commit</text>" in response.content.decode()


@pytest.mark.parametrize(
    ("top", "whole", "expected"),
    [
        (0, True, [0, 1]),
        (7, True, [0, 2, 4, 6, 8]),
        (1, True, [0, 1]),
        (3.0, False, [0, 1, 2, 3]),
        (0.42, False, [0, 0.2, 0.4, 0.6]),
        (1234, True, [0, 500, 1000, 1500]),
    ],
)
def test_axes_tick_at_round_numbers(top, whole, expected):
    assert nice_ticks(top, whole=whole) == pytest.approx(expected)


def test_a_tile_is_one_line_in_the_registry(busy, compliance_officer, monkeypatch):
    extra = Tile(
        "campaigns",
        "Certification campaigns",
        "Credentials certified in open campaigns.",
        lambda now: Figure(3, "3 of 4 certified"),
        "compliance:determinations",
    )
    monkeypatch.setattr("portal.compliance.dashboard.TILES", [*TILES, extra])

    response = client_for(compliance_officer).get(reverse("compliance:dashboard"))

    assert "3 of 4 certified" in response.content.decode()


@pytest.mark.parametrize("persona", ["outsider", "partner_admin", "partner_member", "ops_user"])
def test_only_compliance_and_auditors_see_the_dashboard(request, persona):
    response = client_for(request.getfixturevalue(persona)).get(reverse("compliance:dashboard"))

    assert response.status_code == 403


@pytest.mark.parametrize("persona", ["compliance_officer", "auditor"])
def test_the_home_page_links_compliance_and_auditors_to_the_dashboard(request, persona):
    response = client_for(request.getfixturevalue(persona)).get(reverse("home"))

    assert f'href="{reverse("compliance:dashboard")}"' in response.content.decode()


def test_recording_grant_counts_twice_a_day_replaces_the_days_rows(compliance_officer):
    active_grant()
    today = timezone.now().date()

    grant_counts_snapshot(day=today)
    grant_counts_snapshot(day=today)

    assert list(GrantDailyCount.objects.values_list("state", "count")) == [("active", 1)]


def test_beat_records_todays_grant_counts_by_task_name(settings):
    from portal.usage.tasks import record_grant_counts

    scheduled = {entry["task"] for entry in settings.CELERY_BEAT_SCHEDULE.values()}
    assert record_grant_counts.name in scheduled
    active_grant()

    assert record_grant_counts() == 1
    assert GrantDailyCount.objects.get().day == timezone.now().date()


def test_the_usage_alerts_list_names_the_model_not_its_slug(busy, compliance_officer):
    covered_model = busy.grant.covered_model
    covered_model.name = "Mythos 5"
    covered_model.slug = "mythos-five-slug"
    covered_model.save(update_fields=["name", "slug"])
    alert = _alert(busy.credential, n=99)
    UsageAlert.objects.filter(pk=alert.pk).update(request_count=12345)

    response = client_for(compliance_officer).get(reverse("usage:alerts"))

    assert response.status_code == 200
    body = response.content.decode()
    assert "<td>Mythos 5</td>" in body
    assert "<td>mythos-five-slug</td>" not in body
    assert "<td>12,345</td>" in body
