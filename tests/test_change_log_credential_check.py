"""The change log's check that every row names a credential that exists (PostgreSQL).

Every ``INSERT`` into the log is checked, unless the credential writer vouched for the
statement (deliveries 0005); the vouch covers exactly one ``INSERT`` statement, and fails
closed wherever it does not hold. The writer's own statement, an ``UPDATE`` of the log and
the delete guard are specified in ``tests/test_bulk_write_cost.py``.
"""

from __future__ import annotations

from collections.abc import Sequence

import pytest
from django.db import IntegrityError, connection, transaction

from provisioning.changelog.writer import VOUCHED_BY_UPDATE, VOUCHED_SETTING
from provisioning.deliveries.models import Change
from tests.provisioning_fakes import active_grant, issue

pytestmark = [
    pytest.mark.postgres,
    pytest.mark.skipif(connection.vendor != "postgresql", reason="PostgreSQL triggers"),
]

MISSING = -1


def _insert(credential_ids: Sequence[int]) -> None:
    """One INSERT statement with one row per id (none: a statement that inserts nothing)."""
    with connection.cursor() as cursor:
        if not credential_ids:
            cursor.execute(
                "INSERT INTO deliveries_change_log "
                "(credential_id, version, active, revoked, cause, created_at, xid) "
                "SELECT id, 1, true, false, 'test', now(), 0 "
                "FROM credentials_credential WHERE false"
            )
            return
        values = ", ".join(["(%s, 1, true, false, 'test', now(), 0)"] * len(credential_ids))
        cursor.execute(
            "INSERT INTO deliveries_change_log "  # noqa: S608 — placeholders only
            f"(credential_id, version, active, revoked, cause, created_at, xid) VALUES {values}",
            list(credential_ids),
        )


def _vouch(value: str = VOUCHED_BY_UPDATE) -> None:
    with connection.cursor() as cursor:
        cursor.execute("SELECT set_config(%s, %s, true)", [VOUCHED_SETTING, value])


def _vouched() -> str | None:
    with connection.cursor() as cursor:
        cursor.execute("SELECT current_setting(%s, true)", [VOUCHED_SETTING])
        return cursor.fetchone()[0]


@pytest.mark.django_db
def test_a_multi_row_insert_with_one_missing_credential_fails_whole():
    grant = active_grant(seats=2)
    first, second = (issue(grant).credential for _ in range(2))
    before = Change.objects.count()

    with pytest.raises(IntegrityError, match="does not exist") as raised, transaction.atomic():
        _insert([first.pk, MISSING, second.pk])

    assert raised.value.__cause__.sqlstate == "23503"  # foreign_key_violation
    assert Change.objects.count() == before


@pytest.mark.django_db
def test_an_insert_naming_existing_credentials_passes_unvouched():
    grant = active_grant(seats=2)
    keys = [issue(grant).credential.pk for _ in range(2)]

    _insert(keys)

    assert Change.objects.filter(credential_id__in=keys, cause="test").count() == 2


@pytest.mark.django_db
def test_the_vouch_covers_one_insert_and_the_next_one_in_the_transaction_is_checked():
    _vouch()

    _insert([MISSING])  # vouched: taken on trust, as the writer's own rows are

    assert _vouched() == ""
    with pytest.raises(IntegrityError, match="does not exist"), transaction.atomic():
        _insert([MISSING])


@pytest.mark.django_db
def test_an_insert_of_no_rows_consumes_the_vouch():
    _vouch()

    _insert([])

    assert _vouched() == ""
    with pytest.raises(IntegrityError, match="does not exist"), transaction.atomic():
        _insert([MISSING])


@pytest.mark.django_db
def test_a_vouch_set_in_a_rolled_back_savepoint_does_not_hold():
    with pytest.raises(RuntimeError), transaction.atomic():
        _vouch()
        raise RuntimeError("roll the savepoint back")

    assert not _vouched()
    with pytest.raises(IntegrityError, match="does not exist"), transaction.atomic():
        _insert([MISSING])


@pytest.mark.django_db
def test_another_value_of_the_setting_vouches_for_nothing_and_stays():
    _vouch("other")

    with pytest.raises(IntegrityError, match="does not exist"), transaction.atomic():
        _insert([MISSING])

    _insert([])
    assert _vouched() == "other"


@pytest.mark.django_db(transaction=True)
def test_a_vouch_outside_a_transaction_does_not_reach_the_next_statement():
    assert connection.get_autocommit()
    _vouch()

    with pytest.raises(IntegrityError, match="does not exist"):
        _insert([MISSING])

    assert not Change.objects.filter(credential_id=MISSING).exists()
