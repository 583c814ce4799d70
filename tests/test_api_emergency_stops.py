"""Ops stop a model through the API: the page's service and permission, the stop recorded
as an emergency bulk action that a colleague reviews afterwards."""

from __future__ import annotations

import pytest

from foundation.audit.models import AuditEvent
from provisioning.bulk.models import BulkAction, BulkState
from provisioning.credentials.models import Credential, CredentialState
from provisioning.deliveries.models import ModelBlock
from tests.api_helpers import api_client_for
from tests.factories import StageFactory, staff_user
from tests.provisioning_fakes import active_grant, fake_target, issue

pytestmark = [pytest.mark.django_db, pytest.mark.usefixtures("fake_connectors")]
URL = "/api/v1/emergency-stops/"


@pytest.fixture
def stage():
    stage = StageFactory()
    for _ in range(2):
        issue(active_grant(stage=stage))
    issue(active_grant())  # another model's key, left alone
    fake_target("directory")
    return stage


def _stop(client, stage, **headers):
    body = {"covered_model": stage.covered_model.slug, "reason": "Regulator's call at 06:10"}
    return client.post(URL, body, content_type="application/json", **headers)


def test_ops_stop_a_model_and_get_its_bulk_action_and_blocks(ops_user, stage):
    # when
    response = _stop(api_client_for(ops_user), stage)

    # then
    assert response.status_code == 201, response.json()
    body = response.json()
    action = BulkAction.objects.get()
    assert response["Location"] == f"/api/v1/bulk-actions/{action.pk}/"
    assert body["reference"] == f"emergency-stop:{body['event_id']}"
    assert (body["grants_suspended"], body["credentials_suspended"]) == (2, 2)
    assert [(b["target"], b["state"]) for b in body["blocks"]] == [("directory", "pending")]
    assert body["bulk_action"]["id"] == action.pk
    assert body["bulk_action"]["state"] == BulkState.DONE
    assert body["bulk_action"]["emergency"] is True
    assert body["bulk_action"]["review_required"] is True
    assert body["bulk_action"]["executed_by"] == ops_user.get_username()
    assert ModelBlock.objects.get().event_id == body["event_id"]
    assert Credential.objects.filter(state=CredentialState.ACTIVE).count() == 1
    stopped = AuditEvent.objects.get(action="model.emergency_stop")
    assert stopped.actor == ops_user
    assert stopped.after["bulk_action"] == action.pk


def test_a_colleague_reviews_the_stop_afterwards_not_the_one_who_pressed_it(ops_user, stage):
    client = api_client_for(ops_user)
    action_id = _stop(client, stage).json()["bulk_action"]["id"]
    review = f"/api/v1/bulk-actions/{action_id}/review/"
    colleague = api_client_for(staff_user("ops", username="ops-two"))

    own = client.post(review, {"note": "fine"}, content_type="application/json")
    theirs = colleague.post(review, {"note": "Checked"}, content_type="application/json")

    assert own.status_code == 409
    assert theirs.status_code == 200
    assert theirs.json()["reviewed_by"] == "ops-two"


def test_a_retry_with_the_same_idempotency_key_does_not_stop_the_model_twice(ops_user, stage):
    client = api_client_for(ops_user)

    first = _stop(client, stage, HTTP_IDEMPOTENCY_KEY="stop-1")
    again = _stop(client, stage, HTTP_IDEMPOTENCY_KEY="stop-1")

    assert first.status_code == again.status_code == 201
    assert again["Idempotent-Replayed"] == "true"
    assert again.json() == first.json()
    assert BulkAction.objects.count() == 1
    assert AuditEvent.objects.filter(action="model.emergency_stop").count() == 1


def test_an_unknown_model_or_no_reason_is_a_field_error_and_changes_nothing(ops_user, stage):
    client = api_client_for(ops_user)

    unknown = client.post(
        URL, {"covered_model": "nothing", "reason": "r"}, content_type="application/json"
    )
    no_reason = client.post(
        URL,
        {"covered_model": stage.covered_model.slug, "reason": " "},
        content_type="application/json",
    )

    assert unknown.status_code == 400
    assert unknown.json()["errors"][0]["field"] == "covered_model"
    assert no_reason.status_code == 400
    assert no_reason.json()["errors"][0]["field"] == "reason"
    assert not BulkAction.objects.exists()
    assert Credential.objects.filter(state=CredentialState.ACTIVE).count() == 3


@pytest.mark.parametrize(
    "persona", ["compliance_officer", "auditor", "reviewer", "partner_admin", "outsider"]
)
def test_only_ops_stop_a_model(request, persona, stage):
    response = _stop(api_client_for(request.getfixturevalue(persona)), stage)

    assert response.status_code == 403
    assert not ModelBlock.objects.exists()
    assert Credential.objects.filter(state=CredentialState.ACTIVE).count() == 3


def test_the_stops_status_shows_each_targets_block_until_acknowledged(ops_user, auditor, stage):
    from provisioning.deliveries.blocks import model_block_send

    body = _stop(api_client_for(ops_user), stage).json()
    url = f"/api/v1/bulk-actions/{body['bulk_action']['id']}/status/"
    reader = api_client_for(auditor)
    before = reader.get(url).json()

    model_block_send(block_id=ModelBlock.objects.get().pk)  # the worker's task
    after = reader.get(url).json()

    assert body["bulk_action"]["stop_event"] == body["event_id"]
    assert [(b["target"], b["state"]) for b in before["blocks"]] == [("directory", "pending")]
    [block] = after["blocks"]
    assert block["state"] == "acknowledged" and block["acknowledged_at"]
