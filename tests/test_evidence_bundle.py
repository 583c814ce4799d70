"""Evidence bundles: what they hold, that they verify offline, and that tampering shows."""

from __future__ import annotations

import datetime as dt
import hashlib
import io
import itertools
import json
import zipfile
from typing import Any

import pytest
from django.core.management import CommandError, call_command
from django.db import connection
from django.test.utils import CaptureQueriesContext
from django.urls import reverse

from foundation.audit.chain import event_hash
from foundation.audit.checkpoints import checkpoint_make
from foundation.audit.export_verify import _event
from foundation.audit.models import AuditEvent
from portal.compliance.evidence import bulk_action_evidence, determination_evidence
from portal.compliance.evidence_verify import verify_bundle_file
from portal.compliance.services import (
    determination_apply,
    determination_approve,
    determination_draft,
    determination_submit,
)
from portal.eligibility.rule import RuleKind
from provisioning.bulk.models import BulkKind
from provisioning.bulk.services import bulk_execute, bulk_plan
from provisioning.connectors.base import PushOutcome
from tests.conftest import client_for
from tests.determination_helpers import partners_on_two_models
from tests.factories import (
    StageFactory,
    staff_user,
)
from tests.provisioning_fakes import active_grant, fake_target, issue
from tests.story import deliver

pytestmark = [pytest.mark.django_db, pytest.mark.usefixtures("fake_connectors")]
pytest_plugins = ["tests.servers"]

BLOCK = {"kind": RuleKind.BLOCKED}
PARTNERS = {
    "kind": RuleKind.PARTNERS_ONLY,
    "allowed_sectors": ["cyber_defence", "energy"],
    "us_persons_only": True,
}


@pytest.fixture
def world(db):
    """mythos-5 and fable; a trusted cyber-defence partner and an untrusted energy firm."""
    mythos, fable, keys = partners_on_two_models()
    return {"mythos": mythos, "fable": fable, "keys": keys}


def _in_force(author, approver, world, reference, mythos):
    determination = determination_draft(
        actor=author,
        reference=reference,
        legal_basis="Export order",
        effective_date=dt.date(2026, 11, 27),
        rules={world["mythos"].pk: mythos, world["fable"].pk: BLOCK},
        document=io.BytesIO(b"%PDF-1.4\n% determination letter\n"),
        document_name="letter.pdf",
    )
    determination_submit(determination=determination, actor=author)
    determination_approve(determination=determination, actor=approver)
    return determination_apply(determination=determination, actor=author)


def _bundle_bytes(bundle) -> bytes:
    data = bundle.file.read()
    bundle.file.close()
    return data


TAG_FILES = ("bagit.txt", "bag-info.txt", "manifest-sha256.txt", "tagmanifest-sha256.txt")


def _files(data: bytes) -> dict[str, bytes]:
    """The bag's files: tag files by name, payload files by their name under data/."""
    with zipfile.ZipFile(io.BytesIO(data)) as zf:
        return {name.removeprefix("data/"): zf.read(name) for name in zf.namelist()}


def _zip(files: dict[str, bytes]) -> bytes:
    out = io.BytesIO()
    with zipfile.ZipFile(out, "w") as zf:
        for name, content in files.items():
            zf.writestr(name if name in TAG_FILES else f"data/{name}", content)
    return out.getvalue()


def _reseal(files: dict[str, bytes]) -> dict[str, bytes]:
    """What a forger does next: recompute the bag's manifests for the edited files."""
    manifest = "".join(
        f"{hashlib.sha256(content).hexdigest()}  data/{name}\n"
        for name, content in sorted(files.items())
        if name not in TAG_FILES
    ).encode()
    files = {**files, "manifest-sha256.txt": manifest}
    tags = "".join(
        f"{hashlib.sha256(files[name]).hexdigest()}  {name}\n"
        for name in ("bagit.txt", "bag-info.txt", "manifest-sha256.txt")
    ).encode()
    return {**files, "tagmanifest-sha256.txt": tags}


def _verify(data: bytes):
    return verify_bundle_file(io.BytesIO(data))


@pytest.fixture
def scenario(compliance_officer, second_officer, world):
    """Block both models, deliver; then allow mythos-5 for trusted US persons, deliver."""
    target, held = fake_target("directory")
    first = _in_force(compliance_officer, second_officer, world, "BIS-1", BLOCK)
    deliver()
    second = _in_force(second_officer, compliance_officer, world, "BIS-2", PARTNERS)
    deliver()
    return {"first": first, "second": second, "target": target, "held": held, **world}


@pytest.fixture
def second_bundle(scenario, auditor) -> bytes:
    return _bundle_bytes(determination_evidence(determination=scenario["second"], actor=auditor))


def test_the_blocking_determination_bundle_lists_every_lost_key_with_its_acknowledgement(
    scenario, auditor
):
    # when
    data = _bundle_bytes(determination_evidence(determination=scenario["first"], actor=auditor))

    # then every customer key was suspended, and the target acknowledged each after the commit
    files = _files(data)
    credentials = json.loads(files["credentials.json"])
    keys = {c.pk for c in scenario["keys"].values()}
    assert {row["credential"] for row in credentials} == keys
    assert {(row["active"], row["revoked"]) for row in credentials} == {(False, False)}
    acks = json.loads(files["acknowledgements.json"])
    assert len(acks) == len(keys)
    assert {a["state"] for a in acks} == {"acknowledged"}
    changed_at = {row["change"]: row["changed_at"] for row in credentials}
    assert all(a["acknowledged_at"] >= changed_at[a["change"]] for a in acks)
    grants = json.loads(files["grants.json"])
    assert len(grants) == 4
    subject = json.loads(files["subject.json"])
    assert subject["reference"] == "BIS-1"
    assert subject["approvals"]["approved_by"] == "compliance-two"
    assert _verify(data).ok


def test_the_restoring_determination_bundle_shows_exactly_the_key_that_came_back(
    scenario, second_bundle
):
    # given / when: the second determination's bundle
    files = _files(second_bundle)

    # then only the trusted US person's mythos-5 key was restored
    restored = [r for r in json.loads(files["credentials.json"]) if r["active"]]
    assert [r["credential"] for r in restored] == [scenario["keys"][("mythos-5", "us")].pk]
    assert restored[0]["person"] == "Ada US"
    assert restored[0]["model"] == "mythos-5"
    actions = json.loads(files["bulk_actions.json"])
    assert {a["kind"] for a in actions} >= {"restore"}
    assert all(a["approved_by"] is None or a["approved_by"] != a["planned_by"] for a in actions)
    subject = json.loads(files["subject.json"])
    assert subject["approvals"]["drafted_by"] == "compliance-two"
    assert subject["approvals"]["approved_by"] == "compliance"


def test_the_csv_and_json_files_hold_the_same_rows(second_bundle):
    files = _files(second_bundle)
    for table in ("bulk_actions", "grants", "credentials", "acknowledgements"):
        json_rows = json.loads(files[f"{table}.json"])
        csv_lines = files[f"{table}.csv"].decode().splitlines()
        assert len(csv_lines) == len(json_rows) + 1, table


def test_the_bulk_actions_table_keeps_the_columns_of_its_format(second_bundle):
    # Its sign-off columns are the API's too (SIGN_OFF_FIELDS): a change made for the API
    # must not change clearance-evidence/3 unnoticed.
    header = _files(second_bundle)["bulk_actions.csv"].decode().splitlines()[0]
    assert header == (
        "id,kind,scope,state,emergency,reason,suspension_kind,reference,determination,filters,"
        "plan_hash,grants,credentials,credentials_changed,chunk_count,chunk_digests,"
        "first_change_id,last_change_id,planned_by,planned_at,approved_by,approved_at,"
        "executed_by,started_at,committed_at,review_required,reviewed_by,reviewed_at,"
        "review_note,error"
    )


def test_the_bag_manifest_lists_the_sha256_of_every_file(second_bundle):
    files = _files(second_bundle)
    assert files["bagit.txt"] == b"BagIt-Version: 1.0\nTag-File-Character-Encoding: UTF-8\n"
    listed = dict(
        reversed(line.split("  ", 1)) for line in files["manifest-sha256.txt"].decode().splitlines()
    )
    assert set(listed) == {f"data/{name}" for name in files if name not in TAG_FILES}
    for name, digest in listed.items():
        assert digest == hashlib.sha256(files[name.removeprefix("data/")]).hexdigest()
    assert {"proof/checkpoint.txt", "proof/inclusion.jsonl", "evidence.json"} <= set(files)


def test_the_audit_segment_is_contiguous_and_ends_with_the_export_event(second_bundle):
    files = _files(second_bundle)
    events = [json.loads(line) for line in files["audit.jsonl"].splitlines()]
    assert [e["id"] for e in events] == list(range(events[0]["id"], events[-1]["id"] + 1))
    for previous, event in itertools.pairwise(events):
        assert event["prev_hash"] == previous["hash"]
    last = events[-1]
    assert last["action"] == "determination.evidence_exported"
    assert AuditEvent.objects.get(pk=last["id"]).hash == last["hash"]
    assert {"determination.drafted", "determination.approved", "bulk_action.executed"} <= {
        e["action"] for e in events
    }


def test_the_command_verifies_an_intact_bundle(second_bundle, tmp_path):
    path = tmp_path / "bundle.zip"
    path.write_bytes(second_bundle)
    out = io.StringIO()

    call_command("verify_evidence_bundle", str(path), stdout=out)

    assert "Evidence bundle verified for compliance.determination:" in out.getvalue()
    assert "bulk-action digest(s) recomputed" in out.getvalue()


def _edit_json_row(files: dict[str, bytes], table: str, edit) -> dict[str, bytes]:
    rows = json.loads(files[f"{table}.json"])
    edit(rows)
    lines = [json.dumps(r, ensure_ascii=False, separators=(",", ":")) for r in rows]
    text = "[\n" + ",\n".join(lines) + "\n]\n" if lines else "[\n]\n"
    return {**files, f"{table}.json": text.encode()}


def _rewrite_csv(files: dict[str, bytes], table: str) -> dict[str, bytes]:
    """Write the CSV again from the (edited) JSON, as a careful forger would."""
    import csv

    from portal.compliance.evidence_format import TABLES, cell

    out = io.StringIO()
    writer = csv.writer(out, lineterminator="\n")
    writer.writerow(TABLES[table])
    for row in json.loads(files[f"{table}.json"]):
        writer.writerow([cell(row[c]) for c in TABLES[table]])
    return {**files, f"{table}.csv": out.getvalue().encode()}


def _rehash_last_event(files: dict[str, bytes]) -> dict[str, bytes]:
    """Forge the export event's digest and hash so the chain still links."""
    from portal.compliance.evidence_format import content_digest

    hashes = {
        n: hashlib.sha256(content).hexdigest()
        for n, content in files.items()
        if n not in (*TAG_FILES, "audit.csv", "audit.jsonl", "evidence.json")
        and not n.startswith("proof/")
    }
    manifest = json.loads(files["evidence.json"])
    events = [json.loads(line) for line in files["audit.jsonl"].splitlines()]
    events[-1]["digest"] = content_digest(hashes)
    events[-1]["hash"] = event_hash(_event(events[-1]))
    manifest["content_digest"] = events[-1]["digest"]
    manifest["audit"]["last_hash"] = events[-1]["hash"]
    files["audit.jsonl"] = "".join(
        json.dumps(e, ensure_ascii=False, separators=(",", ":")) + "\n" for e in events
    ).encode()
    from foundation.audit.export import EXPORT_FIELDS, _csv_cell

    out = io.StringIO()
    import csv

    writer = csv.writer(out, lineterminator="\n")
    writer.writerow(EXPORT_FIELDS)
    for e in events:
        writer.writerow([_csv_cell(name, e[name]) for name in EXPORT_FIELDS])
    files["audit.csv"] = out.getvalue().encode()
    files["evidence.json"] = json.dumps(manifest).encode()
    return _reseal(files)


def _flip_first_active(rows: list[dict[str, Any]]) -> None:
    rows[0]["active"] = not rows[0]["active"]


def _drop_first(rows: list[dict[str, Any]]) -> None:
    del rows[0]


def _swap_audit(files: dict[str, bytes]) -> dict[str, bytes]:
    lines = files["audit.jsonl"].splitlines(keepends=True)
    lines[1], lines[2] = lines[2], lines[1]
    return {**files, "audit.jsonl": b"".join(lines)}


def _edit_audit_reason(files: dict[str, bytes]) -> dict[str, bytes]:
    events = [json.loads(line) for line in files["audit.jsonl"].splitlines()]
    events[1]["reason"] = "nothing to see here"
    text = "".join(json.dumps(e, separators=(",", ":")) + "\n" for e in events)
    return {**files, "audit.jsonl": text.encode()}


def _edit_manifest(files: dict[str, bytes]) -> dict[str, bytes]:
    text = files["manifest-sha256.txt"].decode()
    digest = hashlib.sha256(files["credentials.csv"]).hexdigest()
    return {**files, "manifest-sha256.txt": text.replace(digest, "0" * 64).encode()}


def _edit_manifest_rows(files: dict[str, bytes]) -> dict[str, bytes]:
    manifest = json.loads(files["evidence.json"])
    manifest["rows"]["credentials"] += 1
    return _reseal({**files, "evidence.json": json.dumps(manifest).encode()})


def _flip_one_byte(files: dict[str, bytes]) -> dict[str, bytes]:
    data = bytearray(files["grants.csv"])
    data[-2] ^= 0x01
    return {**files, "grants.csv": bytes(data)}


def _drop_event_and_relink(files: dict[str, bytes]) -> dict[str, bytes]:
    """Drop an event from the middle and re-hash the rest so the chain still links."""
    events = [json.loads(line) for line in files["audit.jsonl"].splitlines()]
    del events[1]
    proofs = [json.loads(line) for line in files["proof/inclusion.jsonl"].splitlines()]
    del proofs[1]
    for previous, event in itertools.pairwise(events):
        event["prev_hash"] = previous["hash"]
        event["hash"] = event_hash(_event(event))
    text = "".join(json.dumps(e, ensure_ascii=False, separators=(",", ":")) + "\n" for e in events)
    manifest = json.loads(files["evidence.json"])
    manifest["audit"]["first_id"] = events[0]["id"]
    proof_text = "".join(json.dumps(p) + "\n" for p in proofs)
    return {
        **files,
        "audit.jsonl": text.encode(),
        "evidence.json": json.dumps(manifest).encode(),
        "proof/inclusion.jsonl": proof_text.encode(),
    }


def _edit_csv_cell(files: dict[str, bytes]) -> dict[str, bytes]:
    text = files["credentials.csv"].decode().replace("Ada US", "Ada Other", 1)
    return {**files, "credentials.csv": text.encode()}


def _remove_csv_row(files: dict[str, bytes]) -> dict[str, bytes]:
    lines = files["credentials.csv"].splitlines(keepends=True)
    return {**files, "credentials.csv": b"".join(lines[:1] + lines[2:])}


TAMPERING = {
    "an edited CSV cell": (_edit_csv_cell, "credentials.csv does not match its SHA-256"),
    "a removed CSV row": (_remove_csv_row, "credentials.csv does not match its SHA-256"),
    "an edited CSV cell, manifest resealed": (
        lambda f: _reseal(_edit_csv_cell(f)),
        "do not match the digest the export event recorded",
    ),
    "reordered audit events": (
        lambda f: _reseal(_swap_audit(f)),
        "link to the previous row does not match",
    ),
    "an edited audit event": (
        lambda f: _reseal(_edit_audit_reason(f)),
        "does not match its hash (edited)",
    ),
    "an edited manifest hash": (_edit_manifest, "credentials.csv does not match its SHA-256"),
    "an edited manifest row count": (
        _edit_manifest_rows,
        "credentials has",
    ),
    "a removed file": (
        lambda f: {k: v for k, v in f.items() if k != "grants.json"},
        "data/grants.json is listed in manifest-sha256.txt but missing from the bag",
    ),
    "one byte changed": (
        _flip_one_byte,
        "data/grants.csv does not match its SHA-256 in manifest-sha256.txt",
    ),
    "an added file": (
        lambda f: {**f, "extra.csv": b"a,b\n"},
        "data/extra.csv is in the bag but not in manifest-sha256.txt",
    ),
    "a removed inclusion proof file, resealed": (
        lambda f: _reseal({k: v for k, v in f.items() if k != "proof/inclusion.jsonl"}),
        "There is no item named 'data/proof/inclusion.jsonl'",
    ),
    "an event removed from the segment, chain relinked, resealed": (
        lambda f: _rehash_last_event(_drop_event_and_relink(f)),
        "not right after leaf",
    ),
    "a CSV that no longer matches its JSON, export event forged": (
        lambda f: _rehash_last_event(_remove_csv_row(f)),
        "credentials.csv",
    ),
    "an edited key in CSV and JSON, export event forged": (
        lambda f: _rehash_last_event(
            _rewrite_csv(_edit_json_row(f, "credentials", _flip_first_active), "credentials")
        ),
        "do not match the digest its executed event",
    ),
    "a removed key in CSV and JSON, export event forged": (
        lambda f: _rehash_last_event(
            _rewrite_csv(_edit_json_row(f, "credentials", _drop_first), "credentials")
        ),
        "do not match the digest its executed event",
    ),
}


@pytest.mark.parametrize("kind", list(TAMPERING))
def test_any_tampering_fails_verification_naming_the_first_problem(second_bundle, tmp_path, kind):
    # given a tampered bundle
    tamper, expected = TAMPERING[kind]
    path = tmp_path / "tampered.zip"
    path.write_bytes(_zip(tamper(_files(second_bundle))))

    # when / then
    with pytest.raises(CommandError) as raised:
        call_command("verify_evidence_bundle", str(path))
    assert expected in str(raised.value)


def test_the_forged_chain_still_verifies_internally_only_when_nothing_else_changed(
    second_bundle,
):
    # Re-hashing the export event without editing anything else is a no-op forgery:
    # the bundle stays consistent (the last hash anchors it against the portal).
    assert _verify(_zip(_rehash_last_event(_files(second_bundle)))).ok


def test_a_file_that_is_not_a_zip_is_refused(tmp_path):
    path = tmp_path / "bundle.zip"
    path.write_bytes(b"not a zip")
    with pytest.raises(CommandError, match="not a readable ZIP file"):
        call_command("verify_evidence_bundle", str(path))


def _emergency_suspend(covered_model_id: int, *, reason: str, actor: Any) -> Any:
    """Plan and run an emergency suspension of every key of one model."""
    action = bulk_plan(
        kind=BulkKind.SUSPEND,
        filters={"covered_model": covered_model_id},
        reason=reason,
        actor=actor,
        emergency=True,
    )
    return bulk_execute(action=action, actor=actor, run_now=True)


def test_an_emergency_bulk_action_bundle_names_who_ran_it_and_verifies(ops_user, world):
    # given an emergency suspension of mythos-5, delivered
    fake_target("directory")
    action = _emergency_suspend(world["mythos"].pk, reason="incident 7", actor=ops_user)
    deliver()

    # when
    data = _bundle_bytes(bulk_action_evidence(action=action, actor=ops_user))

    # then
    files = _files(data)
    subject = json.loads(files["subject.json"])
    assert subject["approvals"]["executed_by"] == ops_user.get_username()
    assert subject["emergency"] is True and subject["review_required"] is True
    assert len(json.loads(files["credentials.json"])) == 3
    report = _verify(data)
    assert report.ok, report.problem
    assert report.digests_checked == 1
    assert AuditEvent.objects.filter(action="bulk_action.evidence_exported").count() == 1


def test_a_key_that_failed_once_is_acknowledged_when_the_retry_delivered_it(ops_user, world):
    # given a target that refuses the Ada's mythos-5 key once
    _target, held = fake_target("directory")
    ada = world["keys"][("mythos-5", "us")].pk
    refused = []

    def once(state):
        if state.credential_id == ada and not refused:
            refused.append(state)
            return PushOutcome(ada, ok=False, error="busy", retryable=True)
        return None

    held.outcome_for = once
    action = _emergency_suspend(world["mythos"].pk, reason="incident 8", actor=ops_user)
    deliver()
    data = _bundle_bytes(bulk_action_evidence(action=action, actor=ops_user))
    acks = {a["credential"]: a for a in json.loads(_files(data)["acknowledgements.json"])}
    assert acks[ada]["state"] == "failed"

    # when the retry delivers it
    from provisioning.deliveries.models import Failure

    Failure.objects.update(next_attempt_at=dt.datetime(2000, 1, 1, tzinfo=dt.UTC))
    deliver()

    # then it reads acknowledged, later than the others
    data = _bundle_bytes(bulk_action_evidence(action=action, actor=ops_user))
    acks = {a["credential"]: a for a in json.loads(_files(data)["acknowledgements.json"])}
    assert acks[ada]["state"] == "acknowledged"
    others = [a["acknowledged_at"] for c, a in acks.items() if c != ada]
    assert acks[ada]["acknowledged_at"] > max(others)
    assert _verify(data).ok


def _suspend_all(actor, organisations: int) -> Any:
    stage = StageFactory(seats=10)
    for _ in range(organisations):
        grant = active_grant(stage=stage)
        issue(grant)
        issue(grant)
    return _emergency_suspend(stage.covered_model_id, reason="count", actor=actor)


def test_building_a_bundle_takes_the_same_number_of_queries_whatever_its_size(ops_user):
    fake_target("directory")
    small, large = _suspend_all(ops_user, 2), _suspend_all(ops_user, 20)
    deliver()
    checkpoint_make()  # both bundles then check the log against a checkpoint before theirs
    counts = []
    for action in (small, large):
        with CaptureQueriesContext(connection) as queries:
            bundle = bulk_action_evidence(action=action, actor=ops_user)
        assert _verify(_bundle_bytes(bundle)).ok
        counts.append(len(queries))
    assert counts[0] == counts[1]


def _stopped(ops_user, world):
    """mythos-5 stopped by ops; the blocks sent and every key delivered."""
    from provisioning.bulk.stop import model_emergency_stop

    fake_target("directory")
    fake_target("mirror")
    stop = model_emergency_stop(covered_model=world["mythos"], actor=ops_user, reason="order 9")
    deliver()
    return stop


def test_an_emergency_stop_has_its_own_bundle_with_each_targets_block_and_it_verifies(
    ops_user, world
):
    # given
    stop = _stopped(ops_user, world)

    # when
    data = _bundle_bytes(bulk_action_evidence(action=stop.bulk_action, actor=ops_user))

    # then the model-wide block at each target, with its state and acknowledgement time
    files = _files(data)
    blocks = json.loads(files["model_blocks.json"])
    assert [(b["target"], b["state"], b["event_id"]) for b in blocks] == [
        ("directory", "acknowledged", stop.event_id),
        ("mirror", "acknowledged", stop.event_id),
    ]
    assert all(b["acknowledged_at"] and b["model"] == "mythos-5" for b in blocks)
    # and the keys it suspended, acknowledged by both targets, and who pressed it
    assert len(json.loads(files["credentials.json"])) == 3
    assert {a["state"] for a in json.loads(files["acknowledgements.json"])} == {"acknowledged"}
    subject = json.loads(files["subject.json"])
    assert subject["emergency_stop"] == stop.event_id
    assert subject["approvals"]["executed_by"] == ops_user.get_username()
    audit = [json.loads(line)["action"] for line in files["audit.jsonl"].splitlines()]
    assert audit[0] == "grant.suspended"
    assert {"model.emergency_stop", "bulk_action.executed"} <= set(audit)
    report = _verify(data)
    assert report.ok, report.problem
    assert report.digests_checked == 1
    assert report.rows["model_blocks"] == 2


def test_an_edited_block_acknowledgement_fails_verification(ops_user, world):
    stop = _stopped(ops_user, world)
    data = _bundle_bytes(bulk_action_evidence(action=stop.bulk_action, actor=ops_user))

    def _earlier(rows: list[dict[str, Any]]) -> None:
        rows[0]["acknowledged_at"] = "2026-01-01T00:00:00+00:00"

    edited = _rewrite_csv(_edit_json_row(_files(data), "model_blocks", _earlier), "model_blocks")
    resealed = _verify(_zip(_reseal(edited)))
    forged = _verify(_zip(_rehash_last_event(edited)))

    assert "do not match the digest the export event recorded" in resealed.problem
    # a forger who also re-hashes the export event changes its Merkle leaf: its inclusion
    # proof no longer leads to the root the log signed
    assert f"event #{_export_id(data)} is not in the signed log" in (forged.problem)


def _export_id(data: bytes) -> int:
    return json.loads(_files(data)["evidence.json"])["audit"]["export_event"]


def _legacy(files: dict[str, bytes]) -> bytes:
    """The same evidence in the layout before BagIt: files at the top and a manifest.json."""
    data = {
        n: c
        for n, c in files.items()
        if n not in (*TAG_FILES, "evidence.json") and not n.startswith("proof/")
    }
    evidence = json.loads(files["evidence.json"])
    evidence["format"] = "clearance-evidence/2"
    evidence["files"] = {
        n: {"sha256": hashlib.sha256(c).hexdigest(), "bytes": len(c)} for n, c in data.items()
    }
    out = io.BytesIO()
    with zipfile.ZipFile(out, "w") as zf:
        zf.writestr("manifest.json", json.dumps(evidence))
        for name, content in data.items():
            zf.writestr(name, content)
    return out.getvalue()


def test_a_bundle_of_the_layout_before_bagit_still_verifies(ops_user, world):
    stop = _stopped(ops_user, world)
    data = _bundle_bytes(bulk_action_evidence(action=stop.bulk_action, actor=ops_user))

    report = _verify(_legacy(_files(data)))

    assert report.ok, report.problem
    assert report.rows["model_blocks"] == 2


# -- the download views ----------------------------------------------------------------------


def test_compliance_and_the_auditor_download_a_determination_bundle(scenario, auditor):
    for user in (auditor, staff_user("compliance", username="compliance-three")):
        response = client_for(user).get(reverse("compliance:evidence", args=[scenario["first"].pk]))
        assert response.status_code == 200
        assert response["Content-Type"] == "application/zip"
        assert "evidence-determination-" in response["Content-Disposition"]
        assert _verify(b"".join(response.streaming_content)).ok
    assert AuditEvent.objects.filter(action="determination.evidence_exported").count() == 2


def test_ops_compliance_and_the_auditor_download_a_bulk_action_bundle(
    scenario, ops_user, auditor, compliance_officer
):
    action_id = scenario["first"].outcome["bulk_actions"][0]["bulk_action"]
    for user in (ops_user, auditor, compliance_officer):
        response = client_for(user).get(reverse("compliance:bulk_evidence", args=[action_id]))
        assert response.status_code == 200
        assert _verify(b"".join(response.streaming_content)).ok


@pytest.mark.parametrize("persona", ["outsider", "partner_admin", "partner_member", "reviewer"])
def test_nobody_else_gets_a_bundle_or_learns_it_exists(scenario, persona, request):
    user = request.getfixturevalue(persona)
    action_id = scenario["first"].outcome["bulk_actions"][0]["bulk_action"]
    before = AuditEvent.objects.count()
    client = client_for(user)
    assert (
        client.get(reverse("compliance:evidence", args=[scenario["first"].pk])).status_code == 404
    )
    assert client.get(reverse("compliance:bulk_evidence", args=[action_id])).status_code == 404
    assert AuditEvent.objects.count() == before


def test_ops_cannot_download_a_determination_bundle(scenario, ops_user):
    response = client_for(ops_user).get(reverse("compliance:evidence", args=[scenario["first"].pk]))
    assert response.status_code == 404


def test_the_pages_offer_the_download_once_applied_or_run(scenario, auditor, ops_user):
    page = client_for(auditor).get(reverse("compliance:detail", args=[scenario["first"].pk]))
    assert reverse("compliance:evidence", args=[scenario["first"].pk]) in page.content.decode()
    action_id = scenario["first"].outcome["bulk_actions"][0]["bulk_action"]
    page = client_for(ops_user).get(reverse("bulk:detail", args=[action_id]))
    assert reverse("compliance:bulk_evidence", args=[action_id]) in page.content.decode()


def test_a_change_another_transaction_wrote_inside_the_actions_id_range_is_left_out(
    ops_user, world
):
    # given an emergency suspend, then a change by another transaction inside its id range
    # (on PostgreSQL concurrent writers interleave ids; a chunk is always one transaction)
    from provisioning.deliveries.models import Change

    fake_target("directory")
    action = _emergency_suspend(world["mythos"].pk, reason="incident 9", actor=ops_user)
    credential = world["keys"][("mythos-5", "us")]
    foreign = Change.objects.create(
        credential=credential,
        version=99,
        active=False,
        revoked=False,
        cause="screening.hold",
        created_at=action.committed_at,
        xid=424242,
    )
    type(action).objects.filter(pk=action.pk).update(last_change_id=foreign.pk)
    action.refresh_from_db()

    # when
    data = _bundle_bytes(bulk_action_evidence(action=action, actor=ops_user))

    # then the foreign row is not the action's, and the bundle verifies
    rows = json.loads(_files(data)["credentials.json"])
    assert foreign.pk not in {r["change"] for r in rows}
    assert len(rows) == 3
    report = _verify(data)
    assert report.ok, report.problem


# -- the scenario of issue 6 against a real SCIM server, then its bundles ---------------------


@pytest.mark.django_db(transaction=True)
def test_the_scenario_against_a_real_scim_server_and_its_bundles_verify(
    settings, scim_server, tmp_path
):
    from provisioning.bulk.services import bulk_approve
    from provisioning.bulk.stop import model_emergency_stop
    from provisioning.catalog.models import CoveredModel
    from provisioning.deliveries.services import target_create
    from tests.story import RESTORED, active_keys, demo_world, scim_agrees

    # given the demo story delivered to a real scim2-server
    settings.DELIVERY_CONNECTOR_FACTORY = "provisioning.connectors.registry.build_connector"
    staff = demo_world()
    url, token = scim_server
    target_create(actor=None, kind="scim", name="scim-directory", url=url, token=token)
    deliver()
    scim_agrees(url, token)
    ops1, ops2 = staff["ops1"], staff["ops2"]
    mythos = CoveredModel.objects.get(slug="mythos-5")
    fable = CoveredModel.objects.get(slug="fable")

    def in_force(reference: str, mythos_rule: dict) -> Any:
        return _in_force(
            staff["compliance1"],
            staff["compliance2"],
            {"mythos": mythos, "fable": fable},
            reference,
            mythos_rule,
        )

    # when ops stop mythos-5, then a determination blocks both models
    stop = model_emergency_stop(covered_model=mythos, actor=ops1, reason="regulator's call")
    deliver()
    first = in_force("BIS-2026-17", BLOCK)
    deliver()

    # then every customer key is off, at the SCIM server too
    assert active_keys() == set()
    assert scim_agrees(url, token) == set()

    # when the licence allows mythos-5 for trusted cyber-defence and critical-infrastructure
    # partners, US persons only (fable stays blocked), and two ops lift the emergency stop
    second = in_force(
        "BIS-2026-LIC-3",
        {
            "kind": RuleKind.PARTNERS_ONLY,
            "allowed_sectors": ["cyber_defence", "energy", "water"],
            "us_persons_only": True,
        },
    )
    deliver()
    assert active_keys() == set()  # the emergency stop is a reason of its own
    restore = bulk_plan(
        kind=BulkKind.RESTORE,
        filters={"covered_model": mythos.pk},
        reason="licence received",
        actor=ops1,
        reference=f"emergency-stop:{stop.event_id}",
    )
    bulk_approve(action=restore, actor=ops2)
    restore = bulk_execute(action=restore, actor=ops1, run_now=True)
    deliver()

    # then exactly the right keys are back, and the SCIM server matches
    assert active_keys() == RESTORED
    assert len(scim_agrees(url, token)) == len(RESTORED)

    # and every bundle verifies, naming the SCIM target's acknowledgement of each change
    for bundle in (
        determination_evidence(determination=first, actor=staff["compliance1"]),
        determination_evidence(determination=second, actor=staff["compliance2"]),
        bulk_action_evidence(action=restore, actor=ops2),
    ):
        data = _bundle_bytes(bundle)
        report = _verify(data)
        assert report.ok, report.problem
        acks = json.loads(_files(data)["acknowledgements.json"])
        assert {(a["target"], a["state"]) for a in acks} <= {("scim-directory", "acknowledged")}
    restored = json.loads(_files(data)["credentials.json"])
    assert {(r["model"], r["person"]) for r in restored if r["active"]} == RESTORED
