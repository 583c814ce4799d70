"""What keeps a bulk suspend cheap on PostgreSQL, and the guarantees it must keep.

A suspend or restore updates credential rows in place (HOT: no indexed column changes);
the change log's reference to its credential is checked once per statement; the digest
lines of the rows written are joined in SQL and equal the digest over the rows.
"""

from __future__ import annotations

import pytest
from django.db import IntegrityError, connection, transaction
from django.utils import timezone

from provisioning.changelog.writer import ChangeRow, ChangeSet, changes_digest
from provisioning.credentials.models import Credential, CredentialState
from provisioning.deliveries.models import Change
from provisioning.grants.models import Grant, SuspensionKind
from provisioning.grants.services import grant_revoke, grant_suspend
from tests.provisioning_fakes import active_grant, issue

pytestmark = pytest.mark.django_db

VOUCHED = "credential_update"

postgres_only = pytest.mark.skipif(
    connection.vendor != "postgresql", reason="PostgreSQL storage behaviour"
)


def _hot_updates() -> tuple[int, int]:
    """(updates, HOT updates) of the credentials table in this transaction so far."""
    with connection.cursor() as cursor:
        cursor.execute(
            "SELECT pg_stat_get_xact_tuples_updated(%s::regclass), "
            "pg_stat_get_xact_tuples_hot_updated(%s::regclass)",
            ["credentials_credential", "credentials_credential"],
        )
        updated, hot = cursor.fetchone()
    return int(updated), int(hot)


@postgres_only
def test_a_suspend_updates_the_keys_in_place_without_touching_an_index():
    grant = active_grant(seats=20)
    for _ in range(20):
        issue(grant)
    updated_before, hot_before = _hot_updates()

    suspended = grant_suspend(grants=grant, reason=SuspensionKind.OPS, reference="r", actor=None)

    updated, hot = _hot_updates()
    assert suspended.credentials_changed == 20
    # Every credential update was HOT: no index entry written for any key. (Within one
    # test transaction nothing is pruned, so one call is what the page's room allows.)
    assert (updated - updated_before, hot - hot_before) == (20, 20)


@postgres_only
def test_a_suspend_writes_each_grant_row_once_and_counts_what_it_changed():
    grants = [active_grant() for _ in range(3)]
    grant_suspend(grants=[grants[0].pk], reason=SuspensionKind.OPS, reference="a", actor=None)
    with connection.cursor() as cursor:
        cursor.execute("SELECT pg_stat_get_xact_tuples_updated('grants_grant'::regclass)")
        before = cursor.fetchone()[0]

    result = grant_suspend(
        grants=[g.pk for g in grants], reason=SuspensionKind.REGULATORY, reference="b", actor=None
    )

    with connection.cursor() as cursor:
        cursor.execute("SELECT pg_stat_get_xact_tuples_updated('grants_grant'::regclass)")
        written = cursor.fetchone()[0] - before
    # Marking the batch and suspending are one write per grant (every write of a grant row
    # writes its index entries: state and change_batch are indexed).
    assert written == 3
    assert (result.grants_matched, result.grants_changed, result.reasons_changed) == (3, 2, 3)
    assert {g.state for g in Grant.objects.filter(pk__in=[g.pk for g in grants])} == {"suspended"}
    assert Grant.objects.filter(change_batch=result.batch).count() == 3


def test_digest_lines_from_the_database_equal_the_digest_over_the_rows():
    grant = active_grant(seats=5)
    issued = [issue(grant) for _ in range(5)]

    result = grant_suspend(grants=grant, reason=SuspensionKind.OPS, reference="d", actor=None)

    rows = [
        ChangeRow(c.pk, c.credential_id, c.version, c.active, c.revoked, c.cause)
        for c in Change.objects.filter(cause="grant.suspended:ops").order_by("pk")
    ]
    assert [c.credential_id for c in rows] == sorted(i.credential.pk for i in issued)
    changes = result.changes
    assert list(changes) == rows
    assert len(changes) == 5 and changes[0] == rows[0]
    assert (changes.first_id, changes.last_id) == (rows[0].id, rows[-1].id)
    assert changes_digest(changes) == changes_digest(rows)


def test_change_sets_add_up_in_id_order_whichever_comes_first():
    a = ChangeRow(1, 10, 2, False, False, "grant.suspended:ops")
    b = ChangeRow(2, 11, 3, True, False, "grant.restored:ops")
    c = ChangeRow(3, 12, 4, False, True, "credential.revoked")

    joined = ChangeSet.of([a]) + ChangeSet.of([b, c])
    crossed = ChangeSet.of([b]) + ChangeSet.of([a, c])

    assert list(joined) == list(crossed) == [a, b, c]
    assert joined.digest == changes_digest([c, a, b])
    assert (joined.first_id, joined.last_id, len(joined)) == (1, 3, 3)
    assert not ChangeSet() and ChangeSet() + joined == joined


def test_a_revoked_key_always_carries_its_revocation_time():
    grant = active_grant()
    credential = issue(grant).credential
    other = issue(active_grant()).credential

    grant_revoke(grants=grant, actor=None)

    credential.refresh_from_db()
    assert credential.state == CredentialState.REVOKED and credential.revoked_at is not None
    with pytest.raises(IntegrityError), transaction.atomic():
        Credential.objects.filter(pk=credential.pk).update(revoked_at=None)
    with pytest.raises(IntegrityError), transaction.atomic():
        Credential.objects.filter(pk=other.pk).update(state=CredentialState.REVOKED)


def _second_key(first: Credential, prefix: str) -> Credential:
    return Credential.objects.create(
        person_id=first.person_id,
        grant_id=first.grant_id,
        key_prefix=prefix,
        key_hash="0" * 64,
        updated_at=timezone.now(),
    )


def test_the_database_allows_one_live_key_per_person_and_grant():
    first = issue(active_grant()).credential
    with pytest.raises(IntegrityError), transaction.atomic():
        _second_key(first, "a" * 16)

    Credential.objects.filter(pk=first.pk).update(
        state=CredentialState.REVOKED, revoked_at=timezone.now()
    )

    assert _second_key(first, "b" * 16).pk != first.pk


@postgres_only
def test_the_change_log_refuses_a_credential_that_does_not_exist():
    with (
        pytest.raises(IntegrityError, match="does not exist"),
        transaction.atomic(),
        connection.cursor() as cursor,
    ):
        cursor.execute(
            "INSERT INTO deliveries_change_log "
            "(credential_id, version, active, revoked, cause, created_at, xid) "
            "VALUES (-1, 1, true, false, 'test', now(), 0)"
        )


@postgres_only
def test_a_credential_with_changes_cannot_be_deleted_even_in_sql():
    credential = issue(active_grant()).credential

    with (
        pytest.raises(IntegrityError, match="cannot be deleted"),
        transaction.atomic(),
        connection.cursor() as cursor,
    ):
        cursor.execute("DELETE FROM credentials_credential WHERE id = %s", [credential.pk])

    assert Credential.objects.filter(pk=credential.pk).exists()


def _insert_change_for(credential_id: int) -> None:
    with connection.cursor() as cursor:
        cursor.execute(
            "INSERT INTO deliveries_change_log "
            "(credential_id, version, active, revoked, cause, created_at, xid) "
            "VALUES (%s, 1, true, false, 'test', now(), 0)",
            [credential_id],
        )


@postgres_only
def test_the_writer_vouches_for_its_own_statement_only_and_the_next_insert_is_checked():
    grant = active_grant(seats=3)
    for _ in range(3):
        issue(grant)

    with pytest.raises(IntegrityError, match="does not exist"), transaction.atomic():
        suspended = grant_suspend(
            grants=grant, reason=SuspensionKind.OPS, reference="v", actor=None
        )
        assert suspended.credentials_changed == 3
        with connection.cursor() as cursor:
            cursor.execute("SELECT current_setting('clearance.change_log_vouched', true)")
            assert cursor.fetchone()[0] == ""  # the check consumed it
        _insert_change_for(-1)


@postgres_only
def test_a_writer_call_that_changes_nothing_leaves_nothing_vouched():
    grant = active_grant()
    issue(grant)
    grant_suspend(grants=grant, reason=SuspensionKind.OPS, reference="a", actor=None)

    with pytest.raises(IntegrityError, match="does not exist"), transaction.atomic():
        again = grant_suspend(grants=grant, reason=SuspensionKind.OPS, reference="b", actor=None)
        assert again.credentials_changed == 0
        _insert_change_for(-1)


@postgres_only
def test_only_the_writers_own_vouch_skips_the_check_and_an_update_is_always_checked():
    credential = issue(active_grant()).credential
    with pytest.raises(IntegrityError, match="does not exist"), transaction.atomic():
        with connection.cursor() as cursor:
            cursor.execute("SELECT set_config('clearance.change_log_vouched', 'other', true)")
        _insert_change_for(-1)
    with (
        pytest.raises(IntegrityError, match="does not exist"),
        transaction.atomic(),
        connection.cursor() as cursor,
    ):
        cursor.execute("SELECT set_config('clearance.change_log_vouched', %s, true)", [VOUCHED])
        cursor.execute(
            "UPDATE deliveries_change_log SET credential_id = -1 WHERE credential_id = %s",
            [credential.pk],
        )


@postgres_only
def test_the_suspend_does_not_stamp_its_keys_with_a_batch_token():
    grant = active_grant(seats=2)
    keys = [issue(grant).credential for _ in range(2)]
    before = {c.pk: c.change_batch for c in Credential.objects.filter(pk__in=[k.pk for k in keys])}

    result = grant_suspend(grants=grant, reason=SuspensionKind.OPS, reference="t", actor=None)

    after = Credential.objects.filter(pk__in=[k.pk for k in keys])
    assert result.credentials_changed == 2
    assert {c.pk: c.change_batch for c in after} == before
    assert {(c.state, c.version) for c in after} == {(CredentialState.SUSPENDED, 2)}
