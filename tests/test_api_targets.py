"""Ops add and edit downstream targets through the API; tokens and secrets are write-only,
encrypted at once, never returned, audited or logged. Anyone who sees a key sees its
delivery state per target."""

from __future__ import annotations

import json
import logging

import pytest

from foundation.audit.models import AuditEvent
from provisioning.deliveries.models import Target
from tests.api_helpers import api_client_for, post_json
from tests.factories import CompletePersonFactory, CoveredModelFactory
from tests.provisioning_fakes import (
    NEW_SECRET,
    OLD_SECRET,
    active_grant,
    fake_target,
    issue,
    webhook_receiver,
)

pytestmark = pytest.mark.django_db

TOKEN = "scim-bearer-token-5f1e2d3c"


@pytest.fixture
def webhook() -> Target:
    return webhook_receiver()


def _patch(client, url, body):
    return client.patch(url, body, content_type="application/json")


def test_ops_add_a_webhook_target_and_never_see_its_secret_again(ops_user, caplog):
    # given
    model = CoveredModelFactory(slug="frontier-x")
    caplog.set_level(logging.DEBUG)
    # when
    response = post_json(
        api_client_for(ops_user),
        "/api/v1/targets/",
        {
            "kind": "webhook",
            "name": "siem",
            "url": "https://siem.test/hooks",
            "secret": NEW_SECRET,
            "covered_models": ["frontier-x"],
        },
    )
    # then
    assert response.status_code == 201, response.json()
    body = response.json()
    assert body["has_secret"] is True and body["has_token"] is False
    assert body["covered_models"] == ["frontier-x"]
    assert body["health"] == {"lag": 0, "oldest_undelivered_at": None, "failed": 0, "dead": 0}
    assert response["Cache-Control"] == "no-store"
    target = Target.objects.get(name="siem")
    assert list(target.covered_models.all()) == [model]
    assert target.to_config().secrets == (NEW_SECRET,)
    assert NEW_SECRET not in response.content.decode()
    assert NEW_SECRET not in target.secrets_encrypted
    audit = AuditEvent.objects.get(action="target.created")
    assert NEW_SECRET not in json.dumps([audit.before, audit.after])
    assert NEW_SECRET not in caplog.text


def test_a_scim_target_takes_a_token_and_a_webhook_a_secret(ops_user):
    client = api_client_for(ops_user)

    scim_with_secret = post_json(
        client,
        "/api/v1/targets/",
        {"kind": "scim", "name": "dir", "url": "https://dir.test/v2", "secret": NEW_SECRET},
    )
    webhook_without_secret = post_json(
        client, "/api/v1/targets/", {"kind": "webhook", "name": "hook", "url": "https://h.test/"}
    )
    bad_secret = post_json(
        client,
        "/api/v1/targets/",
        {"kind": "webhook", "name": "hook", "url": "https://h.test/", "secret": "hunter2"},
    )
    bad_url = post_json(
        client, "/api/v1/targets/", {"kind": "scim", "name": "dir", "url": "ftp://dir.test/"}
    )

    assert scim_with_secret.json()["errors"][0]["field"] == "secret"
    assert webhook_without_secret.json()["errors"][0]["field"] == "secret"
    assert bad_secret.json()["errors"][0]["field"] == "secret"
    assert "hunter2" not in bad_secret.content.decode()
    assert bad_url.json()["errors"][0]["field"] == "url"
    assert not Target.objects.exists()


def test_a_duplicate_name_is_a_field_error(ops_user, webhook):
    response = post_json(
        api_client_for(ops_user),
        "/api/v1/targets/",
        {"kind": "webhook", "name": "receiver", "url": "https://h.test/", "secret": NEW_SECRET},
    )
    assert response.status_code == 400
    assert response.json()["errors"] == [
        {"field": "name", "message": "Another target already has this name."}
    ]


def test_editing_keeps_what_is_left_out_and_a_new_secret_rotates(ops_user, webhook):
    # when
    renamed = _patch(api_client_for(ops_user), f"/api/v1/targets/{webhook.pk}/", {"enabled": False})
    rotated = _patch(
        api_client_for(ops_user), f"/api/v1/targets/{webhook.pk}/", {"secret": NEW_SECRET}
    )
    # then
    assert renamed.status_code == 200
    assert renamed.json()["enabled"] is False
    assert renamed.json()["name"] == "receiver"
    assert rotated.status_code == 200
    webhook.refresh_from_db()
    assert webhook.to_config().secrets == (NEW_SECRET, OLD_SECRET)
    assert AuditEvent.objects.filter(action="target.updated").count() == 2


def test_an_edit_that_leaves_enabled_out_keeps_a_disabled_target_disabled(ops_user, webhook):
    # given
    client = api_client_for(ops_user)
    _patch(client, f"/api/v1/targets/{webhook.pk}/", {"enabled": False})
    # when
    response = _patch(client, f"/api/v1/targets/{webhook.pk}/", {"name": "renamed"})
    # then
    assert response.status_code == 200
    assert response.json()["enabled"] is False
    webhook.refresh_from_db()
    assert webhook.enabled is False


def test_a_webhook_target_refuses_a_token_on_edit(ops_user, webhook):
    response = _patch(api_client_for(ops_user), f"/api/v1/targets/{webhook.pk}/", {"token": TOKEN})
    assert response.status_code == 400
    assert "signing secrets" in response.json()["detail"]


@pytest.mark.parametrize(("persona", "status"), [("auditor", 200), ("compliance_officer", 403)])
def test_auditors_read_targets_and_nobody_but_ops_changes_them(request, persona, status, webhook):
    client = api_client_for(request.getfixturevalue(persona))

    assert client.get("/api/v1/targets/").status_code == status
    assert client.get(f"/api/v1/targets/{webhook.pk}/").status_code == status
    assert _patch(client, f"/api/v1/targets/{webhook.pk}/", {"enabled": False}).status_code == 403
    created = post_json(
        client,
        "/api/v1/targets/",
        {"kind": "webhook", "name": "x", "url": "https://x.test/", "secret": NEW_SECRET},
    )
    assert created.status_code == 403
    webhook.refresh_from_db()
    assert webhook.enabled is True


@pytest.mark.parametrize("persona", ["partner_admin", "outsider", "reviewer"])
def test_partners_and_reviewers_see_no_targets(request, persona, webhook):
    client = api_client_for(request.getfixturevalue(persona))
    assert client.get("/api/v1/targets/").status_code == 403
    assert client.get(f"/api/v1/targets/{webhook.pk}/").status_code == 403


def test_ops_put_dead_deliveries_back_in_the_queue(ops_user, webhook):
    response = post_json(api_client_for(ops_user), f"/api/v1/targets/{webhook.pk}/retry-dead/", {})
    assert response.status_code == 200
    assert response.json() == {"retried": 0}
    assert AuditEvent.objects.filter(action="delivery.retry_dead").exists()


# --- delivery state of a key --------------------------------------------------------------


@pytest.fixture
def credential(organisation, partner_member):
    grant = active_grant(organisation=organisation)
    return issue(grant, CompletePersonFactory(organisation=organisation, user=partner_member))


def test_the_partner_sees_where_each_key_is_in_sync(partner_admin, credential):
    # given: a target that has not taken the key's change yet
    fake_target("directory")
    # when
    response = api_client_for(partner_admin).get(
        f"/api/v1/credentials/{credential.credential.pk}/delivery/"
    )
    # then
    assert response.status_code == 200
    assert response.json() == [{"target": "directory", "state": "pending"}]


@pytest.mark.parametrize(("persona", "status"), [("outsider", 404), ("ops_user", 200)])
def test_an_outsider_cannot_see_a_keys_delivery_state(request, persona, status, credential):
    client = api_client_for(request.getfixturevalue(persona))
    response = client.get(f"/api/v1/credentials/{credential.credential.pk}/delivery/")
    assert response.status_code == status


def test_the_list_shows_each_targets_health(ops_user, webhook):
    fake_target("directory")

    rows = api_client_for(ops_user).get("/api/v1/targets/").json()["results"]

    assert [row["name"] for row in rows] == ["directory", "receiver"]
    assert all(
        set(row["health"]) == {"lag", "oldest_undelivered_at", "failed", "dead"} for row in rows
    )
    assert all("secret" not in row and "token" not in row for row in rows)
