"""The audit chain is append-only, and verify_audit_chain catches any tampering."""

from __future__ import annotations

import threading

import pytest
from django.core.management import call_command
from django.core.management.base import CommandError
from django.db import connection, connections, transaction

from foundation.audit.chain import verify_chain
from foundation.audit.models import GENESIS_HASH, AuditAppendOnlyError, AuditEvent
from foundation.audit.services import audit_record
from tests.audit_helpers import tamper

pytestmark = pytest.mark.django_db


def _record(n: int, actor=None) -> list[AuditEvent]:
    return [
        audit_record(
            actor=actor,
            action="test.event",
            object_type="test",
            object_id=str(i),
            reason=f"event {i}",
            before={"i": i},
            after={"i": i + 1},
        )
        for i in range(n)
    ]


def test_events_link_to_the_previous_one(reviewer):
    first, second = _record(2, actor=reviewer)

    assert first.prev_hash == GENESIS_HASH
    assert second.prev_hash == first.hash
    assert second.actor_label == "reviewer"
    assert verify_chain().ok


def test_the_orm_refuses_updates_and_deletes():
    (event,) = _record(1)
    event.reason = "changed"

    with pytest.raises(AuditAppendOnlyError):
        event.save()
    with pytest.raises(AuditAppendOnlyError):
        event.delete()
    with pytest.raises(AuditAppendOnlyError):
        AuditEvent.objects.filter(pk=event.pk).update(reason="x")
    with pytest.raises(AuditAppendOnlyError):
        AuditEvent.objects.all().delete()


@pytest.mark.skipif(connection.vendor != "postgresql", reason="database trigger is PostgreSQL's")
def test_postgresql_itself_refuses_updates_and_deletes():
    from django.db.utils import DatabaseError

    (event,) = _record(1)
    for sql in (
        "UPDATE audit_auditevent SET reason = 'x' WHERE id = %s",
        "DELETE FROM audit_auditevent WHERE id = %s",
    ):
        with (
            pytest.raises(DatabaseError, match="append-only"),
            transaction.atomic(),
            connection.cursor() as cursor,
        ):
            cursor.execute(sql, [event.pk])


def test_command_passes_on_an_intact_chain(capsys):
    _record(3)

    call_command("verify_audit_chain")

    assert "3 event(s) verified" in capsys.readouterr().out


def test_command_names_an_edited_event():
    events = _record(4)
    tamper("UPDATE audit_auditevent SET reason = %s WHERE id = %s", ["forged", events[2].pk])

    with pytest.raises(CommandError, match=rf"#{events[2].pk}: .*edited"):
        call_command("verify_audit_chain")


def test_command_catches_an_edited_before_after_payload():
    events = _record(3)
    tamper("UPDATE audit_auditevent SET after = %s WHERE id = %s", ['{"i": 99}', events[0].pk])

    report = verify_chain()

    assert report.first_break is not None and report.first_break.event_id == events[0].pk


def test_command_names_the_event_after_a_deleted_one():
    events = _record(4)
    tamper("DELETE FROM audit_auditevent WHERE id = %s", [events[1].pk])

    with pytest.raises(CommandError, match=rf"#{events[2].pk}: .*deleted"):
        call_command("verify_audit_chain")


def test_command_catches_reordered_events():
    events = _record(4)
    a, b = events[1], events[2]
    # Swap the contents of two rows, keeping each row internally consistent.
    columns = [
        "created_at",
        "action",
        "object_id",
        "reason",
        "before",
        "after",
        "prev_hash",
        "hash",
    ]
    rows = {}
    with connection.cursor() as cursor:
        for e in (a, b):
            cursor.execute(
                f"SELECT {', '.join(columns)} FROM audit_auditevent WHERE id = %s",  # noqa: S608
                [e.pk],
            )
            rows[e.pk] = cursor.fetchone()
    tamper("UPDATE audit_auditevent SET hash = %s WHERE id = %s", ["x" * 64, a.pk])
    for target, source in ((b.pk, a.pk), (a.pk, b.pk)):
        assignments = ", ".join(f"{c} = %s" for c in columns)
        tamper(
            f"UPDATE audit_auditevent SET {assignments} WHERE id = %s",  # noqa: S608
            [*rows[source], target],
        )

    report = verify_chain()

    assert report.first_break is not None
    assert report.first_break.event_id == a.pk


def test_command_catches_an_event_inserted_out_of_order():
    events = _record(3)
    forged = AuditEvent(
        created_at=events[0].created_at,
        action="forged",
        prev_hash=events[0].hash,
        hash="f" * 64,
        actor_label="attacker",
    )
    forged.save(force_insert=True)

    with pytest.raises(CommandError, match=rf"#{forged.pk}"):
        call_command("verify_audit_chain")


@pytest.mark.django_db(transaction=True)
def test_concurrent_writers_do_not_fork_the_chain():
    writers, per_writer = 6, 15
    errors: list[BaseException] = []

    def write() -> None:
        try:
            for _ in range(per_writer):
                with transaction.atomic():
                    audit_record(actor=None, action="test.concurrent", object_type="t")
        except BaseException as exc:  # surfaced below
            errors.append(exc)
        finally:
            connections.close_all()

    threads = [threading.Thread(target=write) for _ in range(writers)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()

    assert errors == []
    assert AuditEvent.objects.count() == writers * per_writer
    assert AuditEvent.objects.values("prev_hash").distinct().count() == writers * per_writer
    assert verify_chain().ok
