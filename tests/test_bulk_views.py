"""The ops pages for bulk actions: who may see and do what, the dry-run, refusal and progress."""

from __future__ import annotations

import pytest
from django.urls import reverse

from provisioning.bulk.models import BulkAction, BulkState
from provisioning.bulk.services import bulk_execute, bulk_plan
from provisioning.credentials.models import Credential, CredentialState
from tests.conftest import STAFF_PAGE_PERSONAS, client_for, persona_user
from tests.factories import OrganisationFactory, staff_user
from tests.provisioning_fakes import active_grant, fake_target

pytestmark = pytest.mark.django_db

PERSONAS = STAFF_PAGE_PERSONAS


@pytest.fixture
def planned(ops_user, stage, grants):
    return bulk_plan(
        kind="suspend",
        filters={"covered_model": stage.covered_model_id},
        reason="incident 7",
        actor=ops_user,
        emergency=True,
    )


READ_EXPECTED = {
    "anonymous": 302,
    "outsider": 403,
    "partner_admin": 403,
    "ops_user": 200,
    "compliance_officer": 200,
    "auditor": 200,
    "staff_without_mfa": 302,
}
DETAIL_EXPECTED = {**READ_EXPECTED, "outsider": 404, "partner_admin": 404}
WRITE_EXPECTED = {**READ_EXPECTED, "compliance_officer": 403, "auditor": 403}


@pytest.mark.parametrize("persona", ["anonymous", *PERSONAS])
def test_the_list_is_for_ops_compliance_and_auditors(request, persona, planned):
    response = client_for(persona_user(request, persona)).get(reverse("bulk:list"))

    assert response.status_code == READ_EXPECTED[persona]
    if persona == "staff_without_mfa":
        assert response["Location"] == reverse("mfa_index")


@pytest.mark.parametrize("url_name", ["bulk:detail", "bulk:progress"])
@pytest.mark.parametrize("persona", ["anonymous", *PERSONAS])
def test_an_action_is_hidden_from_everyone_but_its_readers(request, persona, url_name, planned):
    response = client_for(persona_user(request, persona)).get(reverse(url_name, args=[planned.pk]))

    assert response.status_code == DETAIL_EXPECTED[persona]


@pytest.mark.parametrize("persona", ["anonymous", *PERSONAS])
def test_only_ops_open_the_plan_form(request, persona):
    response = client_for(persona_user(request, persona)).get(reverse("bulk:plan"))

    assert response.status_code == WRITE_EXPECTED[persona]


@pytest.mark.parametrize(
    "url_name", ["bulk:execute", "bulk:approve", "bulk:replan", "bulk:resume", "bulk:review"]
)
@pytest.mark.parametrize(
    "persona", ["anonymous", "outsider", "compliance_officer", "auditor", "staff_without_mfa"]
)
def test_nobody_but_ops_changes_an_action(request, persona, url_name, planned):
    response = client_for(persona_user(request, persona)).post(
        reverse(url_name, args=[planned.pk]), {"plan_hash": planned.plan_hash, "confirm": "on"}
    )

    assert response.status_code in {302, 403, 404}
    if persona != "anonymous" and persona != "staff_without_mfa":
        assert response.status_code == {"outsider": 404}.get(persona, 403)
    planned.refresh_from_db()
    assert planned.state == BulkState.PLANNED


def test_the_list_makes_the_same_queries_whatever_the_number_of_actions(
    ops_user, stage, grants, django_assert_max_num_queries
):
    # given one action, then many more
    client = client_for(ops_user)
    bulk_plan(kind="suspend", filters={}, reason="r", actor=ops_user)
    client.get(reverse("bulk:list"))
    for _ in range(10):
        bulk_plan(kind="suspend", filters={}, reason="r", actor=ops_user)

    # when / then
    with django_assert_max_num_queries(12):
        response = client.get(reverse("bulk:list"))
    assert response.status_code == 200


def test_ops_plan_through_the_form_and_see_the_dry_run(ops_user, stage, grants):
    # when
    response = client_for(ops_user).post(
        reverse("bulk:plan"),
        {
            "kind": "suspend",
            "covered_model": stage.covered_model_id,
            "reason": "order 12",
            "emergency": "on",
            "restores_kind": "ops",
        },
        follow=True,
    )

    # then the dry-run shows the counts, the sample and the hash, and nothing changed
    action = BulkAction.objects.get()
    content = response.content.decode()
    assert action.plan_hash in content
    assert "Sample of the keys in the plan" in content
    assert Credential.objects.filter(state=CredentialState.ACTIVE).count() == 3


def test_a_plan_that_matches_nothing_is_refused_with_a_clear_message(ops_user, stage, grants):
    response = client_for(ops_user).post(
        reverse("bulk:plan"),
        {"kind": "suspend", "sector": "water", "reason": "x", "restores_kind": "ops"},
    )

    assert response.status_code == 200
    assert "matches nothing" in response.content.decode()
    assert not BulkAction.objects.exists()


def test_running_a_stale_plan_is_refused_with_the_difference(ops_user, stage, planned):
    # given a grant added after planning
    late = active_grant(organisation=OrganisationFactory(), stage=stage)

    # when
    response = client_for(ops_user).post(
        reverse("bulk:execute", args=[planned.pk]),
        {"plan_hash": planned.plan_hash, "confirm": "on"},
    )

    # then
    assert response.status_code == 409
    assert "Refused" in response.content.decode()
    assert str(late.pk) in response.content.decode()
    assert Credential.objects.filter(state=CredentialState.ACTIVE).count() == 3


def test_running_without_the_confirmation_changes_nothing(ops_user, planned):
    client_for(ops_user).post(
        reverse("bulk:execute", args=[planned.pk]), {"plan_hash": planned.plan_hash}
    )

    planned.refresh_from_db()
    assert planned.state == BulkState.PLANNED


def test_the_progress_partial_shows_the_commit_and_each_target(ops_user, planned, settings):
    # given a target, and the action run
    settings.CELERY_TASK_ALWAYS_EAGER = False
    fake_target("directory")
    bulk_execute(action=planned, actor=ops_user, run_now=True)

    # when
    response = client_for(ops_user).get(reverse("bulk:progress", args=[planned.pk]))

    # then
    content = response.content.decode()
    assert "Database commit: 3 of 3 grants" in content
    assert "directory" in content
    assert "0 of 3" in content  # not relayed yet
    assert 'hx-trigger="every 1s"' in content
    assert reverse("bulk:detail", args=[planned.pk]) in content  # works without JavaScript


def test_the_planner_cannot_approve_but_a_colleague_can(ops_user, stage, grants):
    # given a restore (always needs a second person)
    suspend = bulk_execute(
        action=bulk_plan(kind="suspend", filters={}, reason="r", actor=ops_user),
        actor=ops_user,
        run_now=True,
    )
    restore = bulk_plan(
        kind="restore", filters={}, reason="over", actor=ops_user, reference=suspend.reference
    )
    colleague = staff_user("ops", username="ops-two")
    data = {"plan_hash": restore.plan_hash, "confirm": "on"}

    # when the planner tries, then a colleague
    client_for(ops_user).post(reverse("bulk:approve", args=[restore.pk]), data)
    restore.refresh_from_db()
    assert restore.state == BulkState.PLANNED
    client_for(colleague).post(reverse("bulk:approve", args=[restore.pk]), data)

    # then
    restore.refresh_from_db()
    assert restore.state == BulkState.APPROVED
    assert restore.approved_by == colleague


@pytest.mark.parametrize("persona", ["anonymous", *PERSONAS])
def test_only_ops_open_the_emergency_stop(request, persona):
    response = client_for(persona_user(request, persona)).get(reverse("bulk:emergency_stop"))

    assert response.status_code == WRITE_EXPECTED[persona]


def test_the_emergency_stop_needs_confirmation_then_suspends_the_whole_model(
    ops_user, stage, grants
):
    client = client_for(ops_user)
    data = {"covered_model": stage.covered_model_id, "basis": "ops", "reason": "order 1"}

    # when unconfirmed, nothing happens
    response = client.post(reverse("bulk:emergency_stop"), data)
    assert response.status_code == 200
    assert Credential.objects.filter(state=CredentialState.ACTIVE).count() == 3

    # when confirmed, every key of the model is suspended
    response = client.post(reverse("bulk:emergency_stop"), {**data, "confirm": "on"})
    assert response.status_code == 302
    assert not Credential.objects.filter(state=CredentialState.ACTIVE).exists()
    # and the page shows the stop's own bulk action, where a colleague reviews it
    assert response.url == reverse("bulk:detail", args=[BulkAction.objects.get().pk])


def test_a_plan_names_models_by_name_and_states_in_words(ops_user, stage, planned):
    # given a model whose slug differs from its name
    stage.covered_model.name = "Mythos 5"
    stage.covered_model.slug = "mythos_five"
    stage.covered_model.save(update_fields=["name", "slug"])
    BulkAction.objects.filter(pk=planned.pk).update(
        counts={**planned.counts, "model": {"mythos_five": 3}},
        sample=[{**row, "model": "mythos_five"} for row in planned.sample],
    )

    # when
    response = client_for(ops_user).get(reverse("bulk:detail", args=[planned.pk]))

    # then
    assert response.status_code == 200
    body = response.content.decode()
    assert "<td>Mythos 5</td>" in body
    assert "mythos_five" not in body
    assert "<td>Active</td>" in body
