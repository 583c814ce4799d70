"""Grants: stage limits, the state machine and the set of suspension reasons."""

from __future__ import annotations

import datetime as dt
import hashlib

import pytest
from django.utils import timezone

from foundation.audit.chain import verify_chain
from foundation.audit.models import AuditEvent
from provisioning.credentials.models import Credential, CredentialState
from provisioning.deliveries.models import Change
from provisioning.grants.models import (
    Grant,
    GrantError,
    GrantState,
    IllegalGrantTransition,
    SuspensionKind,
)
from provisioning.grants.services import (
    grant_create,
    grant_expire_due,
    grant_restore,
    grant_revoke,
    grant_suspend,
)
from tests.factories import OrganisationFactory, StageFactory
from tests.provisioning_fakes import active_grant, issue

pytestmark = pytest.mark.django_db

REG = SuspensionKind.REGULATORY
OPS = SuspensionKind.OPS


def _state(grant: Grant) -> str:
    grant.refresh_from_db()
    return grant.state


def test_a_grant_takes_its_limits_from_the_stage_by_default():
    stage = StageFactory(seats=7, monthly_quota=1000, max_duration_days=30)

    grant = grant_create(actor=None, organisation=OrganisationFactory(), stage=stage)

    assert (grant.seats, grant.monthly_quota, grant.state) == (7, 1000, GrantState.ACTIVE)
    assert grant.expires_at <= timezone.now() + dt.timedelta(days=30)
    assert AuditEvent.objects.filter(action="grant.created", object_id=str(grant.pk)).exists()


@pytest.mark.parametrize(
    "override",
    [
        {"seats": 8},
        {"monthly_quota": 1001},
        {"expires_at_days": 31},
        {"expires_at_days": -1},
    ],
)
def test_a_grant_may_not_exceed_its_stage(override):
    stage = StageFactory(seats=7, monthly_quota=1000, max_duration_days=30)
    days = override.pop("expires_at_days", None)
    if days is not None:
        override["expires_at"] = timezone.now() + dt.timedelta(days=days)

    with pytest.raises(GrantError):
        grant_create(actor=None, organisation=OrganisationFactory(), stage=stage, **override)
    assert not Grant.objects.exists()


def test_suspending_suspends_the_grant_and_its_keys_with_one_change_each():
    grant = active_grant()
    keys = [issue(grant).credential for _ in range(3)]

    result = grant_suspend(grants=grant, reason=REG, reference="det-1", actor=None)

    assert _state(grant) == GrantState.SUSPENDED
    assert result.credentials_changed == 3
    for credential in keys:
        credential.refresh_from_db()
        assert (credential.state, credential.version) == (CredentialState.SUSPENDED, 2)
        assert list(Change.objects.filter(credential=credential).values_list("version", "active"))[
            -1
        ] == (2, False)


def test_restoring_removes_one_reason_and_the_grant_stays_suspended_while_another_is_left():
    grant = active_grant()
    credential = issue(grant).credential
    grant_suspend(grants=grant, reason=REG, reference="det-1", actor=None)
    grant_suspend(grants=grant, reason=OPS, reference="bulk-9", actor=None)

    grant_restore(grants=grant, reason=REG, reference="det-1", actor=None)

    assert _state(grant) == GrantState.SUSPENDED
    assert list(grant.suspensions.values_list("kind", "reference")) == [(OPS, "bulk-9")]

    grant_restore(grants=grant, reason=OPS, reference="bulk-9", actor=None)

    assert _state(grant) == GrantState.ACTIVE
    credential.refresh_from_db()
    assert (credential.state, credential.version) == (CredentialState.ACTIVE, 3)


def test_suspending_twice_for_the_same_reason_is_one_reason_and_no_new_change():
    grant = active_grant()
    issue(grant)
    grant_suspend(grants=grant, reason=REG, reference="det-1", actor=None)
    changes = Change.objects.count()

    again = grant_suspend(grants=grant, reason=REG, reference="det-1", actor=None)

    assert (again.reasons_changed, again.credentials_changed) == (0, 0)
    assert Change.objects.count() == changes
    assert grant.suspensions.count() == 1


def test_restoring_a_reason_the_grant_does_not_have_changes_nothing():
    grant = active_grant()
    grant_suspend(grants=grant, reason=REG, reference="det-1", actor=None)

    result = grant_restore(grants=grant, reason=REG, reference="det-2", actor=None)

    assert result.reasons_changed == 0
    assert _state(grant) == GrantState.SUSPENDED


def test_a_grant_past_its_expiry_is_not_restored_to_active():
    grant = active_grant()
    grant_suspend(grants=grant, reason=OPS, reference="x", actor=None)
    Grant.objects.filter(pk=grant.pk).update(expires_at=timezone.now() - dt.timedelta(minutes=1))

    grant_restore(grants=grant, reason=OPS, reference="x", actor=None)

    assert _state(grant) == GrantState.SUSPENDED


def test_revocation_is_final():
    grant = active_grant()
    credential = issue(grant).credential

    grant_revoke(grants=grant, actor=None, note="licence withdrawn")

    assert _state(grant) == GrantState.REVOKED
    credential.refresh_from_db()
    assert credential.state == CredentialState.REVOKED
    with pytest.raises(IllegalGrantTransition):
        grant_suspend(grants=grant, reason=OPS, reference="x", actor=None)
    with pytest.raises(IllegalGrantTransition):
        grant_restore(grants=grant, reason=OPS, reference="x", actor=None)
    # In bulk, final grants are simply left alone.
    assert (
        grant_restore(grants=[grant.pk], reason=OPS, reference="x", actor=None).grants_matched == 0
    )


def test_a_held_persons_key_is_not_restored_with_its_grant():
    from provisioning.credentials.services import credential_hold_person

    grant = active_grant()
    credential = issue(grant).credential
    credential_hold_person(person_id=credential.person_id, actor=None, reason="screening hit")
    grant_suspend(grants=grant, reason=REG, reference="det-1", actor=None)

    grant_restore(grants=grant, reason=REG, reference="det-1", actor=None)

    credential.refresh_from_db()
    assert _state(grant) == GrantState.ACTIVE
    assert credential.state == CredentialState.SUSPENDED


def test_expiry_ends_due_grants_and_revokes_their_keys():
    due = active_grant()
    later = active_grant()
    credential = issue(due).credential
    Grant.objects.filter(pk=due.pk).update(expires_at=timezone.now() - dt.timedelta(seconds=1))

    result = grant_expire_due()

    assert (_state(due), _state(later)) == (GrantState.EXPIRED, GrantState.ACTIVE)
    assert result.credentials_changed == 1
    credential.refresh_from_db()
    assert credential.state == CredentialState.REVOKED
    assert grant_expire_due().grants_matched == 0


def test_a_bulk_suspension_is_one_audit_event_whose_digest_covers_the_change_rows():
    organisation = OrganisationFactory()
    grants = [active_grant(organisation=organisation) for _ in range(4)]
    for grant in grants:
        issue(grant)
        issue(grant)
    events_before = AuditEvent.objects.count()

    result = grant_suspend(
        grants=Grant.objects.filter(organisation=organisation),
        reason=REG,
        reference="det-7",
        actor=None,
    )

    assert AuditEvent.objects.count() == events_before + 1
    event = AuditEvent.objects.get(pk=result.audit_event_id)
    rows = Change.objects.filter(cause="grant.suspended:regulatory").order_by("id")
    assert rows.count() == 8
    expected = hashlib.sha256(
        "".join(
            f"{r.id}:{r.credential_id}:{r.version}:{int(r.active)}:{int(r.revoked)}:{r.cause}\n"
            for r in rows
        ).encode()
    ).hexdigest()
    assert event.digest == expected
    assert event.after["changes"] == 8
    assert verify_chain().ok


def test_a_bulk_suspension_selected_by_state_still_updates_exactly_that_set():
    organisation = OrganisationFactory()
    grants = [active_grant(organisation=organisation) for _ in range(3)]
    for grant in grants:
        issue(grant)

    # The filter selects by the very state the call changes.
    result = grant_suspend(
        grants=Grant.objects.filter(organisation=organisation, state=GrantState.ACTIVE),
        reason=OPS,
        reference="bulk-1",
        actor=None,
    )

    assert (result.grants_matched, result.grants_changed, result.credentials_changed) == (3, 3, 3)
    assert set(Credential.objects.values_list("state", flat=True)) == {CredentialState.SUSPENDED}
    assert Change.objects.filter(cause="grant.suspended:ops").count() == 3


def test_the_change_log_refuses_updates_and_deletes():
    from provisioning.deliveries.models import ChangeLogAppendOnlyError

    grant = active_grant()
    issue(grant)

    with pytest.raises(ChangeLogAppendOnlyError):
        Change.objects.all().update(active=True)
    with pytest.raises(ChangeLogAppendOnlyError):
        Change.objects.all().delete()
