"""Ops add and edit downstream targets in the UI; secrets are write-only and never logged."""

from __future__ import annotations

import logging

import pytest
from django.urls import reverse

from foundation.audit.models import AuditEvent
from provisioning.deliveries.models import Target
from provisioning.deliveries.services import target_create
from tests.conftest import client_for
from tests.factories import CoveredModelFactory
from tests.provisioning_fakes import NEW_SECRET, OLD_SECRET, webhook_receiver

pytestmark = pytest.mark.django_db

TOKEN = "scim-bearer-token-5f1e2d3c"


@pytest.fixture
def webhook(db: None) -> Target:
    return webhook_receiver()


@pytest.fixture
def scim(db: None) -> Target:
    return target_create(
        actor=None, kind="scim", name="directory", url="https://scim.test/v2", token=TOKEN
    )


def _edit_data(target: Target, **overrides: object) -> dict[str, object]:
    data: dict[str, object] = {
        "name": target.name,
        "url": target.url,
        "enabled": "on",
        "token": "",
        "secret": "",
    }
    data.update(overrides)
    return data


def test_ops_creates_a_webhook_target_with_its_secret_encrypted_and_never_shown(ops_user, caplog):
    # given
    model = CoveredModelFactory()
    client = client_for(ops_user)
    caplog.set_level(logging.DEBUG)
    # when
    response = client.post(
        reverse("deliveries:target_add"),
        {
            "kind": "webhook",
            "name": "receiver",
            "url": "https://hooks.test/in",
            "secret": NEW_SECRET,
            "enabled": "on",
            "covered_models": [model.pk],
        },
        follow=True,
    )
    # then
    target = Target.objects.get(name="receiver")
    assert target.to_config().secrets == (NEW_SECRET,)
    assert NEW_SECRET not in target.secrets_encrypted
    assert list(target.covered_models.all()) == [model]
    assert target.enabled
    assert NEW_SECRET not in response.content.decode()
    assert NEW_SECRET not in caplog.text
    event = AuditEvent.objects.get(action="target.created", object_id=str(target.pk))
    assert NEW_SECRET not in str(event.after)
    assert event.actor_id == ops_user.pk


def test_ops_creates_a_scim_target_for_every_model_when_none_is_chosen(ops_user, caplog):
    # given
    caplog.set_level(logging.DEBUG)
    # when
    response = client_for(ops_user).post(
        reverse("deliveries:target_add"),
        {"kind": "scim", "name": "directory", "url": "http://scim.test/v2", "token": TOKEN},
    )
    # then
    assert response.status_code == 302
    target = Target.objects.get(name="directory")
    assert target.to_config().token == TOKEN
    assert target.covered_models.count() == 0
    assert not target.enabled
    assert TOKEN not in caplog.text


def test_the_edit_page_never_renders_the_stored_secret(ops_user, webhook, scim):
    # when
    webhook_page = client_for(ops_user).get(reverse("deliveries:target_edit", args=[webhook.pk]))
    scim_page = client_for(ops_user).get(reverse("deliveries:target_edit", args=[scim.pk]))
    # then
    assert webhook_page.status_code == 200
    assert "Leave empty to keep the current secret" in webhook_page.content.decode()
    assert OLD_SECRET not in webhook_page.content.decode()
    assert TOKEN not in scim_page.content.decode()


def test_editing_without_a_secret_keeps_the_old_one(ops_user, webhook):
    # when
    response = client_for(ops_user).post(
        reverse("deliveries:target_edit", args=[webhook.pk]),
        _edit_data(webhook, url="https://hooks.test/v2", enabled=""),
    )
    # then
    assert response.status_code == 302
    webhook.refresh_from_db()
    assert webhook.url == "https://hooks.test/v2"
    assert not webhook.enabled
    assert webhook.to_config().secrets == (OLD_SECRET,)


def test_a_new_webhook_secret_goes_first_and_the_previous_one_is_kept_second(
    ops_user, webhook, caplog
):
    # given
    caplog.set_level(logging.DEBUG)
    # when
    response = client_for(ops_user).post(
        reverse("deliveries:target_edit", args=[webhook.pk]),
        _edit_data(webhook, secret=NEW_SECRET),
        follow=True,
    )
    # then
    webhook.refresh_from_db()
    assert webhook.to_config().secrets == (NEW_SECRET, OLD_SECRET)
    assert NEW_SECRET not in response.content.decode()
    assert NEW_SECRET not in caplog.text
    event = AuditEvent.objects.get(action="target.updated", object_id=str(webhook.pk))
    assert event.after["secret_rotated"] is True
    assert NEW_SECRET not in str(event.after) and OLD_SECRET not in str(event.before)


def test_a_new_scim_token_replaces_the_old_one(ops_user, scim):
    # when
    client_for(ops_user).post(
        reverse("deliveries:target_edit", args=[scim.pk]), _edit_data(scim, token="fresh-token")
    )
    # then
    scim.refresh_from_db()
    assert scim.to_config().token == "fresh-token"


@pytest.mark.parametrize(
    ("field", "value"),
    [
        ("url", "ftp://hooks.test/in"),
        ("url", "not a url"),
        ("secret", "whsec_***"),
        ("secret", "plain-secret"),
    ],
)
def test_an_invalid_url_or_malformed_secret_is_a_field_error_and_nothing_is_saved(
    ops_user, field, value, caplog
):
    # given
    data = {"kind": "webhook", "name": "receiver", "url": "https://hooks.test/in"}
    data["secret"] = NEW_SECRET
    data[field] = value
    caplog.set_level(logging.DEBUG)
    # when
    response = client_for(ops_user).post(reverse("deliveries:target_add"), data)
    # then
    assert response.status_code == 200
    assert field in response.context["form"].errors
    assert not Target.objects.exists()
    assert not AuditEvent.objects.filter(action="target.created").exists()
    assert NEW_SECRET not in response.content.decode()


def test_an_invalid_edit_changes_nothing(ops_user, webhook):
    # when
    response = client_for(ops_user).post(
        reverse("deliveries:target_edit", args=[webhook.pk]),
        _edit_data(webhook, url="javascript:alert(1)", secret="whsec_%%%"),
    )
    # then
    assert set(response.context["form"].errors) == {"url", "secret"}
    webhook.refresh_from_db()
    assert webhook.url == "https://hooks.test/in"
    assert webhook.to_config().secrets == (OLD_SECRET,)


def test_the_health_page_links_ops_to_add_and_edit(ops_user, webhook):
    # when
    page = client_for(ops_user).get(reverse("deliveries:health")).content.decode()
    # then
    assert reverse("deliveries:target_add") in page
    assert reverse("deliveries:target_edit", args=[webhook.pk]) in page


def test_the_auditor_sees_no_add_or_edit_link(auditor, webhook):
    # when
    page = client_for(auditor).get(reverse("deliveries:health")).content.decode()
    # then
    assert reverse("deliveries:target_add") not in page
    assert reverse("deliveries:target_edit", args=[webhook.pk]) not in page


def test_anonymous_visitors_are_sent_to_sign_in(webhook):
    for url in (
        reverse("deliveries:target_add"),
        reverse("deliveries:target_edit", args=[webhook.pk]),
    ):
        # when
        response = client_for(None).get(url)
        # then
        assert response.status_code == 302
        assert "/accounts/login/" in response["Location"]


@pytest.mark.parametrize(
    "persona", ["outsider", "partner_admin", "reviewer", "compliance_officer", "auditor"]
)
def test_everyone_but_ops_is_refused(request, persona, webhook):
    # given
    client = client_for(request.getfixturevalue(persona))
    add_url = reverse("deliveries:target_add")
    edit_url = reverse("deliveries:target_edit", args=[webhook.pk])
    # when
    responses = [
        client.get(add_url),
        client.get(edit_url),
        client.post(add_url, {"kind": "webhook", "name": "x", "url": "https://x.test/"}),
        client.post(edit_url, _edit_data(webhook, url="https://evil.test/")),
    ]
    # then
    assert [r.status_code for r in responses] == [403, 403, 403, 403]
    webhook.refresh_from_db()
    assert webhook.url == "https://hooks.test/in"
    assert Target.objects.count() == 1


def test_staff_without_mfa_are_sent_to_set_it_up(staff_without_mfa, webhook):
    for url in (
        reverse("deliveries:target_add"),
        reverse("deliveries:target_edit", args=[webhook.pk]),
    ):
        # when
        response = client_for(staff_without_mfa).get(url)
        # then
        assert response["Location"] == reverse("mfa_index")
