"""clearance-verify, the verifier a regulator installs: it checks a bundle's bag, chain,
tables and proofs against the log's key, and two checkpoints' consistency, naming each
problem and exiting non-zero; and it agrees with the portal on every digest."""

from __future__ import annotations

import base64
import hashlib
import json
import zipfile

import pytest

from foundation.audit.checkpoints import checkpoint_cosign, checkpoint_make, signing_key
from foundation.audit.checkpoints import witness_key_register as register
from foundation.audit.models import AuditCheckpoint
from foundation.audit.services import audit_record
from foundation.audit.tree import consistency_proof
from portal.compliance.evidence import bulk_action_evidence
from provisioning.bulk.stop import model_emergency_stop
from provisioning.changelog.writer import ChangeRow, changes_digest
from tests.factories import StageFactory
from tests.provisioning_fakes import active_grant, fake_target, issue
from verifier import bag
from verifier.cli import main
from verifier.note import Checkpoint, SignerKey, VerifierKey, cosign, public_bytes

pytestmark = [pytest.mark.django_db, pytest.mark.usefixtures("generated_signing_key")]


@pytest.fixture
def key() -> str:
    return str(signing_key().verifier)


@pytest.fixture
def bundle_path(ops_user, tmp_path):
    stage = StageFactory(seats=5)
    grant = active_grant(stage=stage)
    issue(grant)
    issue(grant)
    fake_target("directory")
    stop = model_emergency_stop(covered_model=stage.covered_model, actor=ops_user, reason="r")
    bundle = bulk_action_evidence(action=stop.bulk_action, actor=ops_user)
    path = tmp_path / "bundle.zip"
    path.write_bytes(bundle.file.read())
    return path


def _run(capsys, *args: str) -> tuple[int, str]:
    status = main(list(args))
    captured = capsys.readouterr()
    return status, captured.out + captured.err


def _rewrite(path, edit) -> None:
    with zipfile.ZipFile(path) as zf:
        files = {name: zf.read(name) for name in zf.namelist()}
    files = edit(files)
    with zipfile.ZipFile(path, "w") as zf:
        for name, content in files.items():
            zf.writestr(name, content)


def test_an_intact_bundle_verifies(bundle_path, key, capsys):
    status, out = _run(capsys, "bundle", str(bundle_path), "--key", key)

    assert status == 0, out
    assert "Evidence bundle verified for bulk.bulkaction:" in out
    assert "inclusion proofs against its signed checkpoint" in out


def test_the_key_may_be_given_as_a_file(bundle_path, key, tmp_path, capsys):
    key_file = tmp_path / "log.vkey"
    key_file.write_text(key + "\n")

    assert _run(capsys, "bundle", str(bundle_path), "--key", str(key_file))[0] == 0


def test_a_bundle_checked_with_another_key_fails(bundle_path, capsys):
    stranger = SignerKey.generate("clearance.localhost/audit").verifier

    status, out = _run(capsys, "bundle", str(bundle_path), "--key", str(stranger))

    assert status == 1
    assert "the checkpoint is not valid: no signature by the key" in out


def test_a_bundle_of_another_log_fails(bundle_path, capsys):
    other = VerifierKey("elsewhere.example/log", 1, signing_key().verifier.public_key)

    status, out = _run(capsys, "bundle", str(bundle_path), "--key", str(other))

    assert status == 1
    assert "no signature by the key elsewhere.example/log" in out


def test_a_wrong_signature_fails(bundle_path, key, capsys):
    def forge(files):
        note = files["data/proof/checkpoint.txt"].decode()
        forged = note.replace("\n", "\nextension\n", 3).replace("extension\n", "", 2)
        files["data/proof/checkpoint.txt"] = forged.encode()
        return _resealed(files)

    _rewrite(bundle_path, forge)
    status, out = _run(capsys, "bundle", str(bundle_path), "--key", key)

    assert status == 1
    assert "the signature by clearance.localhost/audit is wrong" in out


def test_a_checkpoint_smaller_than_one_seen_fails(bundle_path, key, tmp_path, capsys):
    audit_record(actor=None, action="test.later", object_type="test")
    later = tmp_path / "later.txt"
    later.write_text(checkpoint_make().note)

    status, out = _run(capsys, "bundle", str(bundle_path), "--key", key, "--seen", str(later))

    assert status == 1
    assert "is smaller than one seen before" in out


def test_one_byte_changed_fails(bundle_path, key, capsys):
    def flip(files):
        data = bytearray(files["data/grants.csv"])
        data[0] ^= 0x20
        return {**files, "data/grants.csv": bytes(data)}

    _rewrite(bundle_path, flip)
    status, out = _run(capsys, "bundle", str(bundle_path), "--key", key)

    assert status == 1
    assert "data/grants.csv does not match its SHA-256 in manifest-sha256.txt" in out


def test_one_file_missing_fails(bundle_path, key, capsys):
    _rewrite(bundle_path, lambda f: {k: v for k, v in f.items() if k != "data/audit.csv"})
    status, out = _run(capsys, "bundle", str(bundle_path), "--key", key)

    assert status == 1
    assert "data/audit.csv is listed in manifest-sha256.txt but missing from the bag" in out


def test_a_missing_file_on_the_command_line_is_named(key, tmp_path, capsys):
    status, out = _run(capsys, "bundle", str(tmp_path / "nope.zip"), "--key", key)

    assert status == 1
    assert "no file at" in out


def _resealed(files: dict[str, bytes]) -> dict[str, bytes]:
    manifest = "".join(
        f"{hashlib.sha256(c).hexdigest()}  {n}\n"
        for n, c in sorted(files.items())
        if n[:5] == "data/"
    )
    files = {**files, "manifest-sha256.txt": manifest.encode()}
    return {k: v for k, v in files.items() if k != "tagmanifest-sha256.txt"}


# --- consistency ---------------------------------------------------------------------


def _checkpoints(tmp_path) -> tuple[str, str]:
    audit_record(actor=None, action="test.a", object_type="test")
    old = tmp_path / "old.txt"
    old.write_text(checkpoint_make().note)
    for _ in range(5):
        audit_record(actor=None, action="test.b", object_type="test")
    new = tmp_path / "new.txt"
    new.write_text(checkpoint_make().note)
    return str(old), str(new)


def _proof_file(tmp_path, old: int, new: int) -> str:
    body = {
        "from": old,
        "to": new,
        "proof": [
            base64.b64encode(h).decode() for h in consistency_proof(old_size=old, new_size=new)
        ],
    }
    path = tmp_path / "proof.json"
    path.write_text(json.dumps(body))
    return str(path)


def test_two_consistent_checkpoints_verify_with_a_given_proof(key, tmp_path, capsys):
    old, new = _checkpoints(tmp_path)
    sizes = sorted(AuditCheckpoint.objects.values_list("size", flat=True))
    proof = _proof_file(tmp_path, *sizes)

    status, out = _run(capsys, "consistency", old, new, "--key", key, "--proof", proof)

    assert status == 0, out
    assert f"contains, unchanged, the {sizes[0]} events" in out


def test_a_new_checkpoint_smaller_than_the_old_fails(key, tmp_path, capsys):
    old, new = _checkpoints(tmp_path)

    status, out = _run(capsys, "consistency", new, old, "--key", key, "--proof", old)

    assert status == 1
    assert "is smaller than the" in out and "seen before" in out


def test_a_second_history_fails(key, tmp_path, capsys):
    old, _new = _checkpoints(tmp_path)
    sizes = sorted(AuditCheckpoint.objects.values_list("size", flat=True))
    fork = tmp_path / "fork.txt"
    fork.write_text(
        signing_key().sign(Checkpoint(signing_key().name, sizes[1], b"\x01" * 32).body())
    )
    proof = _proof_file(tmp_path, *sizes)

    status, out = _run(capsys, "consistency", old, str(fork), "--key", key, "--proof", proof)

    assert status == 1
    assert "not append-only between the checkpoints" in out


def test_a_proof_for_other_sizes_fails(key, tmp_path, capsys):
    old, new = _checkpoints(tmp_path)
    proof = _proof_file(tmp_path, 1, 2)

    status, out = _run(capsys, "consistency", old, new, "--key", key, "--proof", proof)

    assert status == 1
    assert "the proof is from size 1 to 2" in out


@pytest.mark.django_db(transaction=True)
def test_the_proof_is_fetched_from_the_portal(live_server, tmp_path, capsys, settings):
    settings.AUDIT_SIGNING_KEY = str(tmp_path / "live.key")
    old, _ = _checkpoints(tmp_path)
    key = str(signing_key().verifier)

    status, out = _run(
        capsys, "consistency", old, f"{live_server.url}/audit/checkpoint", "--key", key
    )

    assert status == 0, out
    assert "Consistent" in out


@pytest.mark.django_db(transaction=True)
def test_a_checkpoint_beyond_the_tree_gets_no_proof(live_server, tmp_path, capsys, settings):
    settings.AUDIT_SIGNING_KEY = str(tmp_path / "live.key")
    old, _ = _checkpoints(tmp_path)
    beyond = tmp_path / "beyond.txt"
    beyond.write_text(signing_key().sign(Checkpoint(signing_key().name, 999, b"\x02" * 32).body()))

    status, out = _run(
        capsys,
        "consistency",
        old,
        str(beyond),
        "--key",
        str(signing_key().verifier),
        "--url",
        live_server.url,
    )

    assert status == 1
    assert "could not fetch" in out
    assert "400 the tree has" in out and "there is no tree of size 999" in out


# --- witnesses -------------------------------------------------------------------------


def test_a_witnessed_checkpoint_and_its_cosignature_travel_in_the_bundle(
    auditor, ops_user, tmp_path, capsys
):
    from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey

    private = Ed25519PrivateKey.generate()
    witness = VerifierKey("auditor.example/w1", 0x04, public_bytes(private.public_key()))
    register(user=auditor, verifier_key_text=str(witness))
    audit_record(actor=None, action="test.a", object_type="test")
    row = checkpoint_make()
    body = row.note.split("\n\n")[0] + "\n"
    signature = cosign(body, name=witness.name, private_key=private, timestamp=1_800_000_000)
    checkpoint_cosign(user=auditor, size=row.size, signature_line=signature.line())

    stage = StageFactory(seats=5)
    issue(active_grant(stage=stage))
    fake_target("directory")
    stop = model_emergency_stop(covered_model=stage.covered_model, actor=ops_user, reason="r")
    path = tmp_path / "bundle.zip"
    path.write_bytes(bulk_action_evidence(action=stop.bulk_action, actor=ops_user).file.read())
    key = str(signing_key().verifier)

    status, out = _run(capsys, "bundle", str(path), "--key", key, "--witness", str(witness))

    assert status == 0, out
    assert f"extends the witnessed checkpoint of size {row.size}" in out
    assert "cosigned by: auditor.example/w1" in out
    other = VerifierKey(
        "auditor.example/w2", 0x04, public_bytes(Ed25519PrivateKey.generate().public_key())
    )
    status, out = _run(capsys, "bundle", str(path), "--key", key, "--witness", str(other))
    assert status == 1
    assert "carries no cosignature by auditor.example/w2" in out


# --- the verifier and the portal agree -----------------------------------------------


def test_the_verifier_computes_the_portals_change_digest():
    rows = [ChangeRow(7, 3, 2, False, False, "suspend"), ChangeRow(5, 1, 9, True, False, "x:y")]
    as_table = [
        {
            "change": r.id,
            "credential": r.credential_id,
            "version": r.version,
            "active": r.active,
            "revoked": r.revoked,
            "cause": r.cause,
        }
        for r in rows
    ]

    assert bag.changes_digest(as_table) == changes_digest(rows)


def test_an_unreadable_zip_is_named(key, tmp_path, capsys):
    path = tmp_path / "x.zip"
    path.write_bytes(b"not a zip")

    status, out = _run(capsys, "bundle", str(path), "--key", key)

    assert status == 1
    assert "not a readable ZIP file" in out
