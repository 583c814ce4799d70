"""Ops plan, approve, run and follow bulk actions through the API: exactly the plan that was
previewed runs, a changed set is refused with the difference, four-eyes holds."""

from __future__ import annotations

import pytest

from provisioning.bulk.models import BulkAction, BulkState
from provisioning.bulk.services import bulk_fail, bulk_run
from provisioning.credentials.models import Credential, CredentialState
from tests.api_helpers import api_client_for, post_json
from tests.factories import OrganisationFactory, staff_user
from tests.provisioning_fakes import active_grant, fake_target

pytestmark = pytest.mark.django_db


@pytest.fixture
def colleague():
    return staff_user("ops", username="ops-two")


def _plan(client, stage, **changes):
    body = {
        "kind": "suspend",
        "filters": {"covered_model": stage.covered_model.slug},
        "reason": "incident 7",
        "emergency": True,
        **changes,
    }
    return post_json(client, "/api/v1/bulk-actions/", body)


def _execute(client, planned):
    """Asks to run the plan as it was previewed: its hash confirms it."""
    return post_json(
        client,
        f"/api/v1/bulk-actions/{planned['id']}/execute/",
        {"plan_hash": planned["plan_hash"]},
    )


def test_planning_is_a_dry_run_with_counts_and_a_hash(ops_user, stage, grants):
    response = _plan(api_client_for(ops_user), stage)

    assert response.status_code == 201, response.json()
    body = response.json()
    assert body["state"] == BulkState.PLANNED
    assert body["grant_count"] == 3
    assert body["credential_count"] == 3
    assert len(body["plan_hash"]) == 64
    assert body["needs_approval"] is False
    assert Credential.objects.filter(state=CredentialState.ACTIVE).count() == 3


def test_an_emergency_suspension_runs_and_reports_progress_per_target(ops_user, stage, grants):
    # given
    fake_target("directory")
    client = api_client_for(ops_user)
    planned = _plan(client, stage).json()
    # when
    started = _execute(client, planned)
    bulk_run(action_id=planned["id"])  # what the worker does with the enqueued task
    status = client.get(f"/api/v1/bulk-actions/{planned['id']}/status/")
    # then
    assert started.status_code == 202
    assert started.json()["state"] == BulkState.RUNNING
    assert started.json()["review_required"] is True
    assert status.status_code == 200
    body = status.json()
    assert body["state"] == BulkState.DONE
    assert body["progress_percent"] == 100
    assert body["targets"] == [
        {"target": "directory", "total": 3, "acknowledged": 0, "failed": 0, "dead": 0, "percent": 0}
    ]
    assert not Credential.objects.filter(state=CredentialState.ACTIVE).exists()


def test_running_another_plans_hash_is_refused(ops_user, stage, grants):
    client = api_client_for(ops_user)
    planned = _plan(client, stage).json()

    response = post_json(
        client, f"/api/v1/bulk-actions/{planned['id']}/execute/", {"plan_hash": "0" * 64}
    )

    assert response.status_code == 409
    assert response.json()["type"].endswith("/plan-hash-mismatch")
    assert BulkAction.objects.get().state == BulkState.PLANNED


def test_a_changed_set_is_refused_with_the_difference(ops_user, stage, grants):
    # given: a grant added after planning
    client = api_client_for(ops_user)
    planned = _plan(client, stage).json()
    late = active_grant(organisation=OrganisationFactory(), stage=stage)
    # when
    response = _execute(client, planned)
    # then
    assert response.status_code == 409
    body = response.json()
    assert body["type"].endswith("/plan-changed")
    assert body["difference"]["added"] == [late.pk]
    assert body["difference"]["removed"] == []
    assert Credential.objects.filter(state=CredentialState.ACTIVE).count() == 3


def test_a_restore_needs_a_colleagues_approval_of_the_same_plan(ops_user, colleague, stage, grants):
    # given: suspended by an emergency action, and a restore planned
    client = api_client_for(ops_user)
    suspend = _plan(client, stage).json()
    _execute(client, suspend)
    bulk_run(action_id=suspend["id"])
    restore = _plan(
        client, stage, kind="restore", emergency=False, restores=suspend["reference"]
    ).json()
    base = f"/api/v1/bulk-actions/{restore['id']}"
    confirm = {"plan_hash": restore["plan_hash"]}

    # when: run at once, approved by the planner, then by a colleague
    too_early = post_json(client, f"{base}/execute/", confirm)
    by_planner = post_json(client, f"{base}/approve/", confirm)
    by_colleague = post_json(api_client_for(colleague), f"{base}/approve/", confirm)
    started = post_json(client, f"{base}/execute/", confirm)

    # then
    assert too_early.status_code == 409
    assert "second person's approval" in too_early.json()["detail"]
    assert by_planner.status_code == 409
    assert "cannot approve" in by_planner.json()["detail"]
    assert by_colleague.status_code == 200
    assert by_colleague.json()["approved_by"] == "ops-two"
    assert started.status_code == 202


def test_an_emergency_action_is_reviewed_afterwards_by_someone_else(
    ops_user, colleague, stage, grants
):
    client = api_client_for(ops_user)
    planned = _plan(client, stage).json()
    _execute(client, planned)
    url = f"/api/v1/bulk-actions/{planned['id']}/review/"

    own = post_json(client, url, {"note": "Looks right."})
    theirs = post_json(api_client_for(colleague), url, {"note": "Checked the sample."})

    assert own.status_code == 409
    assert theirs.status_code == 200
    assert theirs.json()["reviewed_by"] == "ops-two"


def test_a_plan_that_matches_nothing_is_a_field_error(ops_user, stage):
    response = _plan(api_client_for(ops_user), stage)

    assert response.status_code == 400
    assert response.json()["errors"][0]["field"] == "filters"
    assert not BulkAction.objects.exists()


def test_bad_filters_and_a_restore_without_its_reference_are_field_errors(ops_user, stage, grants):
    client = api_client_for(ops_user)

    unknown = _plan(client, stage, filters={"organisation": "nobody"})
    bad_country = _plan(client, stage, filters={"citizenship": "Russia"})
    restore = _plan(client, stage, kind="restore", emergency=False)

    assert unknown.json()["errors"] == [
        {"field": "filters.organisation", "message": "Nothing has this slug."}
    ]
    assert bad_country.json()["errors"][0]["field"] == "filters.citizenship"
    assert restore.json()["errors"][0]["field"] == "restores"
    assert not BulkAction.objects.exists()


@pytest.mark.parametrize("persona", ["compliance_officer", "auditor"])
def test_readers_follow_actions_but_cannot_plan_or_run_them(
    request, persona, ops_user, stage, grants
):
    planned = _plan(api_client_for(ops_user), stage).json()
    client = api_client_for(request.getfixturevalue(persona))

    assert client.get(f"/api/v1/bulk-actions/{planned['id']}/").status_code == 200
    assert client.get(f"/api/v1/bulk-actions/{planned['id']}/status/").status_code == 200
    assert _plan(client, stage).status_code == 403
    run = _execute(client, planned)
    assert run.status_code == 403
    assert BulkAction.objects.get().state == BulkState.PLANNED


@pytest.mark.parametrize("persona", ["partner_admin", "partner_member", "outsider", "reviewer"])
def test_partners_and_reviewers_see_no_bulk_actions(request, persona, ops_user, stage, grants):
    planned = _plan(api_client_for(ops_user), stage).json()
    client = api_client_for(request.getfixturevalue(persona))

    assert client.get("/api/v1/bulk-actions/").status_code == 403
    assert client.get(f"/api/v1/bulk-actions/{planned['id']}/").status_code == 403


def test_replanning_marks_the_plan_stale_and_returns_a_fresh_one(ops_user, stage, grants):
    # given: a plan, then a grant added after it
    client = api_client_for(ops_user)
    planned = _plan(client, stage).json()
    active_grant(organisation=OrganisationFactory(), stage=stage)
    # when
    response = post_json(client, f"/api/v1/bulk-actions/{planned['id']}/replan/")
    again = post_json(client, f"/api/v1/bulk-actions/{planned['id']}/replan/")
    # then
    assert response.status_code == 201, response.json()
    fresh = response.json()
    assert fresh["id"] != planned["id"]
    assert fresh["state"] == BulkState.PLANNED
    assert fresh["grant_count"] == 4
    assert fresh["plan_hash"] != planned["plan_hash"]
    assert BulkAction.objects.get(pk=planned["id"]).state == BulkState.STALE
    assert again.status_code == 409
    assert again.headers["Content-Type"] == "application/problem+json"
    assert "stale" in again.json()["detail"]


def test_a_failed_action_resumes_from_its_cursor_and_only_a_failed_one(ops_user, stage, grants):
    # given: an emergency suspension that failed after it started
    client = api_client_for(ops_user)
    planned = _plan(client, stage).json()
    base = f"/api/v1/bulk-actions/{planned['id']}"
    post_json(client, f"{base}/execute/", {"plan_hash": planned["plan_hash"]})
    running = post_json(client, f"{base}/resume/")
    bulk_fail(action_id=planned["id"], error="worker lost")
    # when
    resumed = post_json(client, f"{base}/resume/")
    bulk_run(action_id=planned["id"])
    # then
    assert running.status_code == 409
    assert "cannot become running" in running.json()["detail"]
    assert resumed.status_code == 202
    assert resumed.json()["state"] == BulkState.RUNNING
    assert resumed.json()["error"] == ""
    assert BulkAction.objects.get(pk=planned["id"]).state == BulkState.DONE
    assert not Credential.objects.filter(state=CredentialState.ACTIVE).exists()


@pytest.mark.parametrize("persona", ["compliance_officer", "auditor"])
def test_readers_can_neither_replan_nor_resume(request, persona, ops_user, stage, grants):
    planned = _plan(api_client_for(ops_user), stage).json()
    client = api_client_for(request.getfixturevalue(persona))

    assert post_json(client, f"/api/v1/bulk-actions/{planned['id']}/replan/").status_code == 403
    assert post_json(client, f"/api/v1/bulk-actions/{planned['id']}/resume/").status_code == 403
    assert BulkAction.objects.get().state == BulkState.PLANNED


def _list_queries(client) -> tuple[int, list[dict]]:
    from django.db import connection
    from django.test.utils import CaptureQueriesContext

    with CaptureQueriesContext(connection) as queries:
        response = client.get("/api/v1/bulk-actions/")
    assert response.status_code == 200
    body = response.json()
    return len(queries), body["results"] if isinstance(body, dict) else body


def test_listing_takes_the_same_number_of_queries_whatever_the_number_of_actions(
    ops_user, stage, grants
):
    # given one action planned per organisation, each filtered by model and organisation
    client = api_client_for(ops_user)
    first = _plan(
        client,
        stage,
        filters={
            "covered_model": stage.covered_model.slug,
            "organisation": grants[0].organisation.slug,
        },
    )
    assert first.status_code == 201, first.json()
    few, rows = _list_queries(client)
    assert len(rows) == 1

    # when two more are planned, for other organisations
    for grant in grants[1:]:
        response = _plan(
            client,
            stage,
            filters={
                "covered_model": stage.covered_model.slug,
                "organisation": grant.organisation.slug,
            },
        )
        assert response.status_code == 201, response.json()
    many, rows = _list_queries(client)

    # then the list costs the same, and every row still shows slugs
    assert many == few
    assert {r["filters"]["organisation"] for r in rows} == {g.organisation.slug for g in grants}
    assert {r["filters"]["covered_model"] for r in rows} == {stage.covered_model.slug}
