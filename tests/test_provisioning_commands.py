"""Operator commands: add_target and deliver --until-idle."""

from __future__ import annotations

import pytest
from django.core.management import CommandError, call_command

from foundation.audit.models import AuditEvent
from provisioning.deliveries.models import Target
from tests.factories import CoveredModelFactory
from tests.provisioning_fakes import FAKE_FACTORY, FAKE_TARGETS, active_grant, issue

pytestmark = pytest.mark.django_db


def test_add_target_stores_the_token_encrypted_and_never_echoes_it(capsys):
    call_command(
        "add_target",
        "--kind",
        "scim",
        "--name",
        "dir",
        "--url",
        "https://dir.example/scim/v2",
        "--token",
        "s3cret-token-value",
    )

    target = Target.objects.get(name="dir")
    assert "s3cret-token-value" not in target.token_encrypted
    assert target.to_config().token == "s3cret-token-value"
    assert "s3cret-token-value" not in capsys.readouterr().out
    event = AuditEvent.objects.get(action="target.created")
    assert "s3cret-token-value" not in str(event.after)


def test_add_target_takes_webhook_secrets_and_models(capsys):
    model = CoveredModelFactory(slug="fable")

    call_command(
        "add_target",
        "--kind",
        "webhook",
        "--name",
        "hooks",
        "--url",
        "https://h.example/in",
        "--secret",
        "whsec_new",
        "--secret",
        "whsec_old",
        "--model",
        "fable",
    )

    target = Target.objects.get(name="hooks")
    assert target.to_config().secrets == ("whsec_new", "whsec_old")
    assert list(target.covered_models.all()) == [model]


def test_add_target_refuses_a_token_for_a_webhook():
    with pytest.raises(CommandError, match="signing secrets"):
        call_command(
            "add_target",
            "--kind",
            "webhook",
            "--name",
            "x",
            "--url",
            "https://x.example",
            "--token",
            "t",
        )


def test_deliver_until_idle_drains_every_target(settings, capsys):
    settings.DELIVERY_CONNECTOR_FACTORY = FAKE_FACTORY
    settings.DELIVERY_BATCH_SIZE = 2
    for name in ("a", "b"):
        call_command(
            "add_target",
            "--kind",
            "scim",
            "--name",
            name,
            "--url",
            f"https://{name}.deliver.example/scim",
            "--token",
            "t",
        )
    grant = active_grant()
    credentials = [issue(grant).credential for _ in range(5)]

    call_command("deliver", "--until-idle")

    out = capsys.readouterr().out
    assert "5 changes taken, 5 delivered" in out
    for name in ("a", "b"):
        held = FAKE_TARGETS[f"https://{name}.deliver.example/scim"].held
        assert set(held) == {c.pk for c in credentials}
