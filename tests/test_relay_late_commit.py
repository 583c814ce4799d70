"""The classic gap: a change with a lower sequence number that commits after a higher one.

PostgreSQL only (SQLite has a single writer). A second connection, in a thread, writes a
change and holds its transaction open while another change commits and the relay runs:
the cursor must not move past the open change, and once it commits it is delivered.
"""

from __future__ import annotations

import threading
import time

import pytest
from django.db import connection, transaction

from provisioning.changelog.writer import write_credential_changes
from provisioning.credentials.models import Credential
from provisioning.credentials.services import credential_revoke
from provisioning.deliveries.models import Change, Target
from provisioning.deliveries.relay import relay_run
from tests.provisioning_fakes import FAKE_FACTORY, FakeTarget, active_grant, fake_target, issue

pytestmark = [pytest.mark.postgres, pytest.mark.django_db(transaction=True)]


@pytest.fixture(autouse=True)
def _postgres_only(settings):
    if connection.vendor != "postgresql":
        pytest.skip("Needs PostgreSQL: SQLite has a single writer, so there is no gap.")
    settings.DELIVERY_CONNECTOR_FACTORY = FAKE_FACTORY


class OpenChange(threading.Thread):
    """Revokes ``credential_id`` in its own connection and keeps the transaction open."""

    def __init__(self, credential_id: int) -> None:
        super().__init__(daemon=True)
        self.credential_id = credential_id
        self.written = threading.Event()
        self.commit = threading.Event()
        self.position: tuple[int, int] = (0, 0)  # (xid, id) of the open change
        self.error: BaseException | None = None

    def run(self) -> None:
        try:
            with transaction.atomic():
                [change] = write_credential_changes(
                    scope_sql="id = %s",
                    scope_params=[self.credential_id],
                    condition_sql="state <> 'revoked'",
                    set_sql="state = 'revoked', revoked_at = now()",
                    cause="test.late",
                )
                with connection.cursor() as cursor:
                    cursor.execute("SELECT pg_current_xact_id()::text::bigint")
                    self.position = (cursor.fetchone()[0], change.id)
                self.written.set()
                assert self.commit.wait(300)
        except BaseException as exc:  # surfaced by the test
            self.error = exc
            self.written.set()
        finally:
            connection.close()


def _relay_until(target: Target, done, timeout: float = 120) -> None:
    """Run the relay until ``done()``; other transactions on the server may hold it back."""
    deadline = time.monotonic() + timeout
    while True:
        relay_run(target_id=target.pk)
        if done() or time.monotonic() > deadline:
            return
        time.sleep(0.2)


def _cursor(target: Target) -> tuple[int, int]:
    target.refresh_from_db()
    return target.cursor_xid, target.cursor_id


def _row(change_id: int) -> tuple[int, int]:
    return Change.objects.values_list("xid", "id").get(pk=change_id)


def _two_delivered_credentials() -> tuple[Target, FakeTarget, Credential, Credential]:
    """A fake target holding two credentials of one grant, delivered: (target, fake, 1st, 2nd)."""
    target, fake = fake_target()
    grant = active_grant()
    first = issue(grant).credential
    second = issue(grant).credential
    _relay_until(target, lambda: {first.pk, second.pk} <= set(fake.held))
    return target, fake, first, second


def test_a_change_that_commits_late_is_not_skipped_and_is_delivered_after_commit():
    target, fake, early, later = _two_delivered_credentials()

    # given a change written first (lower id) whose transaction stays open
    late = OpenChange(early.pk)
    late.start()
    assert late.written.wait(30) and late.error is None
    # when a later change commits and the relay runs
    credential_revoke(actor=None, credential=later)
    relay_run(target_id=target.pk)

    # then the cursor has not passed the open change, and the target still has the old state
    assert later.pk not in {cid for cid, s in fake.held.items() if s.revoked}
    assert _cursor(target) < _row(Change.objects.filter(credential=later).latest("id").pk)
    assert fake.held[early.pk].revoked is False

    late.commit.set()
    late.join(30)
    assert late.error is None
    _relay_until(target, lambda: fake.held[early.pk].revoked and fake.held[later.pk].revoked)

    assert fake.held[early.pk].revoked is True
    assert fake.held[later.pk].revoked is True
    assert _cursor(target) >= late.position


def test_a_change_from_an_older_transaction_that_inserts_later_is_still_delivered():
    target, fake, open_one, committed = _two_delivered_credentials()
    late = OpenChange(open_one.pk)

    # given a transaction that took its id first but writes its change last
    with transaction.atomic():
        Target.objects.filter(pk=target.pk).update(last_error="")  # takes a transaction id
        late.start()
        assert late.written.wait(30) and late.error is None
        credential_revoke(actor=None, credential=committed)
    # when it commits while the other (lower change id, younger transaction) is still open
    _relay_until(target, lambda: fake.held[committed.pk].revoked)

    # then what committed is delivered and the open change is still ahead of the cursor
    assert fake.held[committed.pk].revoked is True
    assert fake.held[open_one.pk].revoked is False
    assert _cursor(target) < late.position

    late.commit.set()
    late.join(30)
    assert late.error is None
    _relay_until(target, lambda: fake.held[open_one.pk].revoked)

    assert fake.held[open_one.pk].revoked is True


def _other_database_dsn() -> str:
    """The server's ``postgres`` database, with this connection's host and user."""
    params = connection.get_connection_params()
    parts = [f"{k}={params[k]}" for k in ("host", "port", "user", "password") if params.get(k)]
    return " ".join([*parts, "dbname=postgres"])


def test_a_transaction_left_open_in_another_database_does_not_delay_delivery():
    import psycopg

    target, fake = fake_target()
    grant = active_grant()
    credential = issue(grant).credential
    _relay_until(target, lambda: credential.pk in fake.held)

    # given a transaction in another database of the same server that holds an xid, open
    with psycopg.connect(_other_database_dsn()) as elsewhere:
        elsewhere.execute("SELECT pg_current_xact_id()")  # psycopg opened a transaction
        # when a revocation commits here and the relay runs once
        started = time.monotonic()
        credential_revoke(actor=None, credential=credential)
        relay_run(target_id=target.pk)
        latency = time.monotonic() - started

        # then it is delivered at once, not when the other database's transaction ends
        assert fake.held[credential.pk].revoked is True, "delivery waited on another database"
        assert latency < 5, f"delivery took {latency:.2f}s"
        elsewhere.rollback()


def test_the_horizon_widens_a_wrapped_32_bit_xid_into_the_previous_epoch():
    from provisioning.deliveries.relay import widen_xid

    next_full = (7 << 32) | 100
    assert widen_xid(90, next_full_xid=next_full) == (7 << 32) | 90
    assert widen_xid(4_294_967_000, next_full_xid=next_full) == (6 << 32) | 4_294_967_000
