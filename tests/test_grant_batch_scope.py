"""A grant batch selects its keys the same way whatever the planner's statistics say.

A bulk restore runs right after a suspend of the same keys, when the statistics still
describe them as active. Written as a sub-select of the batch's ids, the planner joined
every suspended key to the whole id list (a restore of 200,000 keys over 4,000 grants took
a minute, growing with keys times grants); the batch is now a condition on an array that
PostgreSQL hashes.
"""

from __future__ import annotations

import json
from collections.abc import Iterator
from typing import Any

import pytest
from django.db import connection

from provisioning.credentials.models import Credential, CredentialState
from provisioning.grants.models import Grant, SuspensionKind
from provisioning.grants.services import GrantBatch, grant_restore, grant_suspend
from tests.provisioning_fakes import active_grant, issue

pytestmark = pytest.mark.django_db

GRANTS = 12


def _nodes(plan: dict[str, Any]) -> Iterator[dict[str, Any]]:
    yield plan
    for child in plan.get("Plans", []):
        yield from _nodes(child)


@pytest.fixture
def suspended_batch() -> tuple[list[Grant], list[int]]:
    grants = [active_grant(seats=2) for _ in range(GRANTS)]
    keys = [issue(grant).credential.pk for grant in grants for _ in range(2)]
    if connection.vendor == "postgresql":
        with connection.cursor() as cursor:
            # Statistics that say every key is active, as they are just after a suspend.
            cursor.execute("ANALYZE credentials_credential")
    grant_suspend(
        grants=[grant.pk for grant in grants], reason=SuspensionKind.OPS, reference="r", actor=None
    )
    return grants, keys


@pytest.mark.skipif(connection.vendor != "postgresql", reason="PostgreSQL plans")
def test_the_batch_is_a_hashed_condition_not_a_relation_joined_per_key(suspended_batch):
    grants, keys = suspended_batch
    batch = GrantBatch(token=1, ids=sorted(grant.pk for grant in grants))
    for condition in ("", "state = 'suspended'"):
        scope, params = batch.grants_sql(condition)
        sql = f"SELECT id FROM credentials_credential WHERE state = 'suspended' AND {scope}"  # noqa: S608
        with connection.cursor() as cursor:
            cursor.execute(f"EXPLAIN (FORMAT JSON) {sql}", params)
            plan = cursor.fetchone()[0]
            cursor.execute(sql, params)
            selected = sorted(row[0] for row in cursor.fetchall())
        plan = json.loads(plan) if isinstance(plan, str) else plan
        nodes = list(_nodes(plan[0]["Plan"]))
        assert not [n for n in nodes if n["Node Type"] in ("ProjectSet", "Function Scan")]
        assert selected == sorted(keys)


def test_a_restore_of_many_grants_brings_back_exactly_their_keys(suspended_batch):
    grants, keys = suspended_batch
    other = active_grant(seats=1)
    untouched = issue(other).credential.pk
    grant_suspend(grants=other, reason=SuspensionKind.OPS, reference="r", actor=None)

    restored = grant_restore(
        grants=[grant.pk for grant in grants], reason=SuspensionKind.OPS, reference="r", actor=None
    )

    assert restored.credentials_changed == len(keys)
    states = dict(Credential.objects.values_list("pk", "state"))
    assert {states[pk] for pk in keys} == {CredentialState.ACTIVE}
    assert states[untouched] == CredentialState.SUSPENDED
