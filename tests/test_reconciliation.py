"""Reconciliation: a target that drifted from the desired state is repaired and reported."""

from __future__ import annotations

import dataclasses

import pytest

from foundation.audit.models import AuditEvent
from provisioning.credentials.services import credential_revoke
from provisioning.deliveries.models import DriftReport
from provisioning.deliveries.reconciliation import target_reconcile
from provisioning.deliveries.relay import relay_run
from tests.provisioning_fakes import active_grant, fake_target, issue

pytestmark = [pytest.mark.django_db, pytest.mark.usefixtures("fake_connectors")]


def test_a_target_in_step_reports_no_drift():
    target, _ = fake_target()
    issue(active_grant())
    relay_run(target_id=target.pk)

    report = target_reconcile(target_id=target.pk)

    assert (report.checked, report.drifted, report.repaired) == (1, 0, 0)
    assert not AuditEvent.objects.filter(action="delivery.drift").exists()


def test_a_revoked_key_found_active_downstream_is_repaired_and_reported():
    target, fake = fake_target()
    grant = active_grant()
    credential = issue(grant).credential
    credential_revoke(actor=None, credential=credential)
    relay_run(target_id=target.pk)
    # someone re-enabled the identity at the target behind our back
    tampered = dataclasses.replace(fake.held[credential.pk], active=True, revoked=False)
    fake.held[credential.pk] = tampered

    report = target_reconcile(target_id=target.pk)

    assert report.drifted == 1 and report.repaired == 1
    assert report.details["active_but_should_not"] == [credential.pk]
    assert fake.held[credential.pk].active is False
    assert AuditEvent.objects.filter(action="delivery.drift").count() == 1
    assert DriftReport.objects.count() == 1


def test_changes_the_relay_has_not_delivered_yet_are_not_drift():
    target, fake = fake_target()
    grant = active_grant()
    credential = issue(grant).credential
    relay_run(target_id=target.pk)
    credential_revoke(actor=None, credential=credential)  # not relayed yet

    report = target_reconcile(target_id=target.pk)

    assert report.drifted == 0
    assert fake.held[credential.pk].active is True  # left for the relay
