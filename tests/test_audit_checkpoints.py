"""Signed checkpoints: made by the command and by beat, served in public, and checked by
verify_audit_chain --checkpoint, which catches a deleted tail, a rewritten event and a
second history; a failed check is an alert on the compliance dashboard."""

from __future__ import annotations

import base64
import io

import pytest
from django.core.management import call_command
from django.core.management.base import CommandError
from django.db import connection

from foundation.audit.checkpoints import checkpoint_make, signing_key
from foundation.audit.models import AuditCheckpoint, AuditEvent, AuditLogAlert
from foundation.audit.services import audit_record
from foundation.audit.tasks import checkpoint as checkpoint_task
from foundation.audit.tree import root_hash
from tests.audit_helpers import tamper
from tests.conftest import client_for
from verifier.merkle import verify_consistency, verify_inclusion
from verifier.note import Checkpoint, NoteError, SignerKey, VerifierKey, open_checkpoint

pytestmark = [pytest.mark.django_db, pytest.mark.usefixtures("generated_signing_key")]


def _record(n: int) -> list[AuditEvent]:
    return [
        audit_record(actor=None, action="test.event", object_type="test", object_id=str(i))
        for i in range(n)
    ]


def _command(*args: str) -> str:
    out = io.StringIO()
    call_command(*args, stdout=out)
    return out.getvalue()


def _saved_checkpoint(tmp_path) -> str:
    path = tmp_path / "checkpoint.txt"
    path.write_text(_command("audit_checkpoint"))
    return str(path)


# --- making and serving checkpoints ---------------------------------------------------


def test_the_command_signs_a_c2sp_checkpoint_the_public_key_verifies():
    _record(5)

    note = _command("audit_checkpoint")
    key = VerifierKey.parse(_command("audit_public_key"))
    checkpoint = open_checkpoint(note, key)

    origin, size, root, blank, signature = note.split("\n")[:5]
    assert (origin, size, blank) == ("clearance.localhost/audit", "5", "")
    assert base64.b64decode(root) == root_hash(5) == checkpoint.root_hash
    assert signature.startswith("\u2014 clearance.localhost/audit ")
    assert str(key).startswith(f"clearance.localhost/audit+{key.key_id.hex()}+")


def test_every_checkpoint_is_kept_and_one_per_size():
    _record(2)
    first = checkpoint_make()
    again = checkpoint_make()
    _record(1)
    second = checkpoint_make()

    assert again.pk == first.pk
    assert list(AuditCheckpoint.objects.values_list("size", flat=True)) == [2, 3]
    assert second.size == 3


def test_the_beat_task_signs_the_tree():
    _record(3)

    assert checkpoint_task() == 3


def test_a_bulk_action_or_determination_asks_for_a_checkpoint_after_commit(
    django_capture_on_commit_callbacks, monkeypatch
):
    from foundation.audit import tasks
    from foundation.audit.tasks import checkpoint_on_commit

    calls = []
    monkeypatch.setattr(tasks.checkpoint, "delay", lambda: calls.append(checkpoint_make()))
    _record(2)
    with django_capture_on_commit_callbacks(execute=True):
        checkpoint_on_commit()

    assert [row.size for row in calls] == [2]


def test_the_latest_checkpoint_is_public_plain_text():
    _record(2)
    row = checkpoint_make()

    response = client_for(None).get("/audit/checkpoint")

    assert response.status_code == 200
    assert response["Content-Type"] == "text/plain; charset=utf-8"
    assert response.content.decode() == row.note


def test_checkpoints_are_listed_after_a_size():
    for _ in range(3):
        _record(1)
        checkpoint_make()

    response = client_for(None).get("/audit/checkpoints/?after=1")

    assert response.status_code == 200
    assert [c["size"] for c in response.json()["checkpoints"]] == [2, 3]


def test_a_consistency_proof_is_public_and_verifies():
    _record(3)
    old = checkpoint_make()
    _record(6)
    new = checkpoint_make()

    response = client_for(None).get("/audit/proof/consistency?from=3&to=9")

    assert response.status_code == 200
    verify_consistency(
        old_size=3,
        new_size=9,
        old_root=bytes(old.root_hash),
        new_root=bytes(new.root_hash),
        proof=[base64.b64decode(h) for h in response.json()["proof"]],
    )


def test_a_proof_beyond_the_tree_is_a_400_naming_it():
    _record(3)

    response = client_for(None).get("/audit/proof/consistency?from=2&to=7")

    assert response.status_code == 400
    assert "no tree of size 7" in response.json()["error"]


def test_an_auditor_gets_an_inclusion_proof_that_verifies(auditor):
    events = _record(6)
    row = checkpoint_make()

    response = client_for(auditor).get("/audit/proof/inclusion?index=4&size=6")

    assert response.status_code == 200
    body = response.json()
    assert body["event_id"] == events[4].pk
    verify_inclusion(
        index=4,
        size=6,
        leaf=base64.b64decode(body["leaf_hash"]),
        proof=[base64.b64decode(h) for h in body["proof"]],
        root=bytes(row.root_hash),
    )


def test_an_inclusion_proof_is_refused_to_the_anonymous(db):
    _record(2)

    assert client_for(None).get("/audit/proof/inclusion?index=0&size=2").status_code == 401


def test_an_inclusion_proof_is_refused_to_an_outsider(outsider):
    _record(2)

    assert client_for(outsider).get("/audit/proof/inclusion?index=0&size=2").status_code == 403


def test_an_inclusion_proof_is_refused_to_a_partner_admin(partner_admin):
    _record(2)

    response = client_for(partner_admin).get("/audit/proof/inclusion?index=0&size=2")

    assert response.status_code == 403


def test_a_missing_signing_key_file_fails_closed(settings, tmp_path):
    from django.core.exceptions import ImproperlyConfigured

    settings.AUDIT_SIGNING_KEY = str(tmp_path / "absent.key")
    settings.AUDIT_SIGNING_KEY_GENERATE = False

    with pytest.raises(ImproperlyConfigured, match="AUDIT_SIGNING_KEY"):
        signing_key()


# --- truncation and forks --------------------------------------------------------------


def test_verify_passes_on_a_log_that_holds_the_checkpoint(tmp_path):
    _record(4)
    saved = _saved_checkpoint(tmp_path)
    _record(3)

    out = _command("verify_audit_chain", "--checkpoint", saved)

    assert "holds the signed checkpoint of size 4" in out


def test_verify_catches_a_deleted_tail(tmp_path):
    events = _record(6)
    saved = _saved_checkpoint(tmp_path)
    tamper("DELETE FROM audit_auditevent WHERE id >= %s", [events[4].pk])

    with pytest.raises(CommandError, match=r"holds 4 events, fewer than the 6.*tail was deleted"):
        call_command("verify_audit_chain", "--checkpoint", saved)


def test_verify_catches_a_rewritten_event_even_when_the_chain_is_rehashed(tmp_path):
    events = _record(4)
    saved = _saved_checkpoint(tmp_path)
    # Rewrite event 1 and re-hash it and everything after: the chain verifies again.
    forged = events[1]
    forged.reason = "forged"
    tamper("UPDATE audit_auditevent SET reason = %s WHERE id = %s", ["forged", forged.pk])
    from foundation.audit.chain import event_hash

    previous = events[0].hash
    for event in AuditEvent.objects.filter(pk__gte=forged.pk).order_by("id"):
        event.prev_hash = previous
        new_hash = event_hash(event)
        tamper(
            "UPDATE audit_auditevent SET prev_hash = %s, hash = %s WHERE id = %s",
            [previous, new_hash, event.pk],
        )
        previous = new_hash
    call_command("verify_audit_chain")  # the chain alone no longer shows it

    with pytest.raises(CommandError, match="do not hash to the checkpoint's root"):
        call_command("verify_audit_chain", "--checkpoint", saved)


def test_verify_catches_a_second_history(tmp_path):
    _record(3)
    key = signing_key()
    other = Checkpoint(key.name, 3, b"\x07" * 32).body()
    path = tmp_path / "fork.txt"
    path.write_text(key.sign(other))

    with pytest.raises(CommandError, match="second history"):
        call_command("verify_audit_chain", "--checkpoint", str(path))


def test_verify_refuses_a_checkpoint_with_a_wrong_signature(tmp_path):
    _record(2)
    stranger = SignerKey.generate("clearance.localhost/audit")
    path = tmp_path / "stranger.txt"
    path.write_text(stranger.sign(Checkpoint(stranger.name, 2, root_hash(2)).body()))

    with pytest.raises(CommandError, match="not valid: no signature by the key"):
        call_command("verify_audit_chain", "--checkpoint", str(path))


def test_verify_refuses_a_checkpoint_of_another_origin(tmp_path):
    _record(2)
    key = signing_key()
    path = tmp_path / "other.txt"
    path.write_text(key.sign(Checkpoint("elsewhere.example/log", 2, root_hash(2)).body()))

    with pytest.raises(CommandError, match=r"for the log 'elsewhere.example/log'"):
        call_command("verify_audit_chain", "--checkpoint", str(path))


def test_the_beat_task_refuses_to_sign_a_truncated_log_and_alerts(compliance_officer):
    events = _record(5)
    checkpoint_make()
    tamper("DELETE FROM audit_audittreenode WHERE level = 0 AND event_id = %s", [events[4].pk])
    tamper('DELETE FROM audit_audittreenode WHERE level > 0 AND "index" * (1 << level) >= 4', [])
    tamper("DELETE FROM audit_auditevent WHERE id = %s", [events[4].pk])

    assert checkpoint_task() is None

    alert = AuditLogAlert.objects.get()
    assert "tail was deleted" in alert.problem
    assert AuditCheckpoint.objects.count() == 1
    page = client_for(compliance_officer).get("/compliance/")
    assert page.status_code == 200
    assert "Audit log fails its signed checkpoints" in page.content.decode()
    assert "tail was deleted" in page.content.decode()


def test_the_beat_task_alerts_when_the_last_signed_event_is_gone_from_under_the_tree():
    events = _record(5)
    checkpoint_make()
    tamper("DELETE FROM audit_auditevent WHERE id = %s", [events[4].pk])

    assert checkpoint_task() is None
    assert "was deleted" in AuditLogAlert.objects.get().problem


@pytest.mark.postgres
@pytest.mark.skipif(connection.vendor != "postgresql", reason="tampering with PostgreSQL's log")
def test_postgresql_tail_deleted_by_a_superuser_with_the_trigger_disabled(tmp_path):
    events = _record(8)
    saved = _saved_checkpoint(tmp_path)
    with connection.cursor() as cursor:
        cursor.execute("SET CONSTRAINTS ALL IMMEDIATE")  # no pending checks before ALTER
        cursor.execute("ALTER TABLE audit_auditevent DISABLE TRIGGER audit_event_append_only")
        cursor.execute("ALTER TABLE audit_audittreenode DISABLE TRIGGER audit_tree_append_only")
        cursor.execute("SET session_replication_role = replica")  # past the foreign keys
        cursor.execute('DELETE FROM audit_audittreenode WHERE level = 0 AND "index" >= 5')
        cursor.execute("DELETE FROM audit_auditevent WHERE id >= %s", [events[5].pk])
        cursor.execute("SET session_replication_role = DEFAULT")
        cursor.execute("ALTER TABLE audit_auditevent ENABLE TRIGGER audit_event_append_only")
        cursor.execute("ALTER TABLE audit_audittreenode ENABLE TRIGGER audit_tree_append_only")
    call_command("verify_audit_chain")  # what is left still chains

    with pytest.raises(CommandError, match="holds 5 events, fewer than the 8"):
        call_command("verify_audit_chain", "--checkpoint", saved)


def test_a_malformed_checkpoint_file_is_named(tmp_path):
    path = tmp_path / "junk.txt"
    path.write_text("not a note\n")

    with pytest.raises(CommandError, match="not valid"):
        call_command("verify_audit_chain", "--checkpoint", str(path))
    with pytest.raises(NoteError):
        open_checkpoint("x\n", signing_key().verifier)
