"""The plan hash: one order-independent digest of the set (format 2), checked over the whole
set before the first chunk; plans stored in the first format are checked as they were."""

from __future__ import annotations

import pytest
from django.db import connection

from provisioning.bulk.digest import SEEDS, SetSums, id_hash, is_set_digest, set_digest
from provisioning.bulk.models import BulkAction, BulkKind, BulkScope, BulkState
from provisioning.bulk.plan import plan_hash
from provisioning.bulk.services import PlanChanged, bulk_execute, bulk_plan
from provisioning.credentials.models import Credential, CredentialState
from provisioning.credentials.services import credential_revoke
from tests.factories import CompletePersonFactory, OrganisationFactory
from tests.provisioning_fakes import active_grant, issue

pytestmark = pytest.mark.django_db

postgres_only = pytest.mark.skipif(
    connection.vendor != "postgresql", reason="PostgreSQL's own hash function"
)


def _emergency_plan(actor, stage):
    return bulk_plan(
        kind=BulkKind.SUSPEND,
        filters={"covered_model": stage.covered_model_id},
        reason="incident 7",
        actor=actor,
        emergency=True,
    )


def _keys(grants):
    return list(Credential.objects.filter(grant__in=grants).values_list("pk", flat=True))


def test_the_digest_ignores_order_and_changes_with_any_id_or_the_scope():
    one = SetSums.of([5, 9, 12])

    assert SetSums.of([12, 5, 9]) == one
    assert SetSums.of([5, 9, 13]) != one
    assert SetSums.of([5, 9]) != one
    digest = set_digest(BulkScope.GRANT, one, one)
    assert len(digest) == 64 and is_set_digest(digest)
    assert digest != set_digest(BulkScope.CREDENTIAL, one, one)
    assert digest != set_digest(BulkScope.GRANT, one, SetSums.of([5, 9]))
    # A first-format hash is plain hex: never taken for format 2.
    assert not is_set_digest(plan_hash(BulkScope.GRANT, [5, 9, 12], [1]))


@postgres_only
def test_the_python_id_hash_is_postgresqls_hashint8extended():
    values = [0, 1, 7, 2**31, 2**32 + 5, 2**62 + 3, -1, -(2**40), 987_654_321]
    with connection.cursor() as cursor:
        for seed in (0, *SEEDS):
            for value in values:
                cursor.execute("SELECT hashint8extended(%s::int8, %s::int8)", [value, seed])
                assert cursor.fetchone()[0] % 2**64 == id_hash(value, seed)


def test_a_plan_hash_is_the_digest_of_its_grants_and_keys(ops_user, stage, grants):
    action = _emergency_plan(ops_user, stage)

    grant_ids = [g.pk for g in grants]
    assert action.plan_hash == set_digest(
        BulkScope.GRANT, SetSums.of(grant_ids), SetSums.of(_keys(grant_ids))
    )


def test_a_key_added_to_a_planned_grant_is_refused(ops_user, stage, grants):
    action = _emergency_plan(ops_user, stage)
    grant = grants[0]
    issue(grant, CompletePersonFactory(organisation=grant.organisation))

    with pytest.raises(PlanChanged):
        bulk_execute(action=action, actor=ops_user, run_now=True)

    action.refresh_from_db()
    assert action.state == BulkState.PLANNED
    assert not Credential.objects.exclude(state=CredentialState.ACTIVE).exists()


def test_a_key_revoked_after_planning_is_refused(ops_user, stage, grants):
    action = _emergency_plan(ops_user, stage)
    credential_revoke(actor=ops_user, credential=Credential.objects.get(grant=grants[1]))

    with pytest.raises(PlanChanged):
        bulk_execute(action=action, actor=ops_user, run_now=True)

    assert Credential.objects.filter(state=CredentialState.ACTIVE).count() == 2


def test_a_person_filter_plan_is_refused_when_its_keys_change(ops_user, stage, grants):
    grant = grants[0]
    issue(grant, CompletePersonFactory(organisation=grant.organisation, citizenships=["CN"]))
    action = bulk_plan(
        kind=BulkKind.SUSPEND, filters={"citizenship": "CN"}, reason="order", actor=ops_user
    )
    assert action.scope == BulkScope.CREDENTIAL
    keys = list(action.items.values_list("credential_id", flat=True))
    assert action.plan_hash == set_digest(BulkScope.CREDENTIAL, SetSums.of(keys), SetSums.of(keys))
    issue(grant, CompletePersonFactory(organisation=grant.organisation, citizenships=["CN"]))

    with pytest.raises(PlanChanged):
        bulk_execute(action=action, actor=ops_user, run_now=True)

    assert Credential.objects.filter(state=CredentialState.ACTIVE).count() == 5


def _stored_in_first_format(action, grant_ids):
    """The action as a plan approved before format 2 stored it: sha256 of the sorted ids."""
    grant_ids = sorted(grant_ids)
    legacy = plan_hash(BulkScope.GRANT, grant_ids, sorted(_keys(grant_ids)))
    BulkAction.objects.filter(pk=action.pk).update(plan_hash=legacy)
    action.refresh_from_db()
    assert not is_set_digest(action.plan_hash)
    return action


def test_a_plan_stored_in_the_first_format_still_runs(ops_user, stage, grants):
    action = _stored_in_first_format(_emergency_plan(ops_user, stage), [g.pk for g in grants])

    done = bulk_execute(action=action, actor=ops_user, run_now=True)

    assert done.state == BulkState.DONE
    assert done.credentials_changed == 3
    assert not Credential.objects.filter(state=CredentialState.ACTIVE).exists()


def test_a_plan_stored_in_the_first_format_is_still_refused_when_its_set_changed(
    ops_user, stage, grants
):
    action = _stored_in_first_format(_emergency_plan(ops_user, stage), [g.pk for g in grants])
    late = active_grant(
        organisation=OrganisationFactory(verification_state="verified"), stage=stage
    )

    with pytest.raises(PlanChanged) as refused:
        bulk_execute(action=action, actor=ops_user, run_now=True)

    assert refused.value.difference.added == [late.pk]
    assert Credential.objects.filter(state=CredentialState.ACTIVE).count() == 3
