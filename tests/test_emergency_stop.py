"""The model-level emergency stop: every grant suspended, one block per target."""

from __future__ import annotations

import pytest

from portal.audit.models import AuditEvent
from provisioning.credentials.models import CredentialState
from provisioning.deliveries.emergency import model_block_send, model_emergency_stop
from provisioning.deliveries.models import ModelBlock, ModelBlockState
from provisioning.deliveries.relay import relay_until_idle
from provisioning.grants.models import GrantState
from tests.factories import StageFactory
from tests.provisioning_fakes import FAKE_FACTORY, active_grant, fake_target, issue

pytestmark = pytest.mark.django_db


@pytest.fixture(autouse=True)
def _fake_connectors(settings):
    settings.DELIVERY_CONNECTOR_FACTORY = FAKE_FACTORY


def test_an_emergency_stop_suspends_every_grant_of_the_model_and_blocks_it_at_each_target(
    django_capture_on_commit_callbacks,
):
    stage = StageFactory()
    other = active_grant()
    grants = [active_grant(stage=stage) for _ in range(3)]
    credentials = [issue(g).credential for g in grants]
    bystander = issue(other).credential
    _, fake_a = fake_target("a")
    _, fake_b = fake_target("b")

    stop = model_emergency_stop(
        covered_model=stage.covered_model, actor=None, reason="regulator order 7"
    )

    assert stop.suspension.grants_changed == 3
    for grant in grants:
        grant.refresh_from_db()
        assert grant.state == GrantState.SUSPENDED
    for credential in credentials:
        credential.refresh_from_db()
        assert credential.state == CredentialState.SUSPENDED
    bystander.refresh_from_db()
    assert bystander.state == CredentialState.ACTIVE
    assert AuditEvent.objects.filter(action="model.emergency_stop").count() == 1

    # the model-wide block goes out once per target (the task body, run here in-process)
    for block in ModelBlock.objects.all():
        model_block_send(block_id=block.pk)
    for fake in (fake_a, fake_b):
        assert fake.blocked_models == [(stage.covered_model.slug, stop.event_id)]
    assert set(ModelBlock.objects.values_list("state", flat=True)) == {ModelBlockState.ACKNOWLEDGED}

    # then per-key convergence
    relay_until_idle()
    for fake in (fake_a, fake_b):
        assert not fake.active_ids() & {c.pk for c in credentials}
        assert bystander.pk in fake.active_ids()


def test_a_block_already_acknowledged_is_not_sent_again():
    stage = StageFactory()
    issue(active_grant(stage=stage))
    _, fake = fake_target()
    stop = model_emergency_stop(covered_model=stage.covered_model, actor=None, reason="r")
    [block] = stop.blocks

    model_block_send(block_id=block.pk)
    model_block_send(block_id=block.pk)

    assert len(fake.blocked_models) == 1
