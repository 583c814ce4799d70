"""Offline verification of a Clearance evidence bundle: a BagIt bag (RFC 8493) in a ZIP.

Checks, stopping at the first problem, in this order:

1. the bag: ``bagit.txt`` declares BagIt 1.0; ``manifest-sha256.txt`` lists every file
   under ``data/`` and nothing else, each with the SHA-256 it has (one byte changed or one
   file missing fails here); the tag manifest, when present, matches the tag files;
2. ``data/evidence.json`` declares a known format, the tables and the audit segment;
3. the audit segment: every event's hash recomputed and linked to the one before, in the
   JSON Lines and the CSV alike; it ends with the bundle's export event, whose digest
   covers the data files;
4. every table's CSV and JSON hold the same rows; each bulk action's credential rows,
   hashed per chunk, give the digest its ``bulk_action.executed`` event recorded;
5. the subject agrees with the audit segment;
6. the proof: ``data/proof/checkpoint.txt`` is signed by the log's key (``--key``), for its
   origin, and is no smaller than a checkpoint seen before; every audit event has an
   inclusion proof into it at consecutive leaf indexes (so no event of the log is missing
   between them); a witnessed checkpoint, if any, is consistent with it, and its
   cosignatures verify for the witness keys given.
"""

from __future__ import annotations

import base64
import csv
import json
import zipfile
from collections.abc import Iterable, Iterator, Sequence
from itertools import zip_longest
from typing import IO, Any

from .bag import (
    AUDIT_CSV,
    AUDIT_JSON,
    CHECKPOINT,
    CONSISTENCY,
    EVIDENCE,
    EXPORT_FIELDS,
    EXPORTED,
    INCLUSION,
    SUBJECT,
    WITNESSED,
    Bag,
    BundleProblem,
    BundleReport,
    cell,
    changes_digest,
    check_bag,
    content_digest,
    csv_unescape,
    decision_digest,
    jsonl_rows,
    read_evidence,
)
from .events import GENESIS_HASH, row_hash, row_leaf
from .merkle import ProofError, verify_consistency, verify_inclusion
from .note import (
    COSIGNATURE_V1,
    Checkpoint,
    NoteError,
    VerifierKey,
    open_checkpoint,
    parse_note,
    verify_cosignature,
)

_JSON_FIELDS = frozenset({"before", "after"})
_INT_FIELDS = frozenset({"id", "actor_id", "organisation_id"})


# --- the audit segment -----------------------------------------------------------------


def _csv_value(name: str, text: str) -> Any:
    text = csv_unescape(text)
    if name in _JSON_FIELDS:
        return json.loads(text)
    if name in _INT_FIELDS:
        return int(text) if text else None
    if name == "ip":
        return text or None
    return text


def _audit_csv_rows(lines: Iterable[str]) -> Iterator[dict[str, Any]]:
    for number, record in enumerate(csv.DictReader(lines), start=1):
        try:
            yield {name: _csv_value(name, record[name]) for name in EXPORT_FIELDS}
        except (KeyError, ValueError, TypeError):
            raise BundleProblem(
                f"{AUDIT_CSV} row {number} has missing or malformed cells"
            ) from None


def _check_audit(
    bag: Bag, evidence: dict[str, Any], hashes: dict[str, str], report: BundleReport
) -> list[dict[str, Any]]:
    rows = list(jsonl_rows(bag.data(AUDIT_JSON), AUDIT_JSON))
    if not rows:
        raise BundleProblem(f"{AUDIT_JSON} holds no audit events")
    previous: dict[str, Any] | None = None
    for line, row in enumerate(rows, start=1):
        missing = [name for name in EXPORT_FIELDS if name not in row]
        if missing:
            raise BundleProblem(f"{AUDIT_JSON} line {line}: missing field(s) {', '.join(missing)}")
        where = f"{AUDIT_JSON} line {line}, event #{row['id']}"
        if row_hash(row) != row["hash"]:
            raise BundleProblem(f"{where}: its content does not match its hash (edited)")
        if previous is None:
            if row["id"] == 1 and row["prev_hash"] != GENESIS_HASH:
                raise BundleProblem(f"{where}: the first event does not start the chain")
        else:
            report.audit_links += 1
            if row["prev_hash"] != previous["hash"]:
                raise BundleProblem(
                    f"{where}: its link to the previous row does not match "
                    "(a row before it was removed, reordered or edited)"
                )
        previous = row
    csv_count = 0
    for line, (json_row, csv_row) in enumerate(
        zip_longest(rows, _audit_csv_rows(bag.data(AUDIT_CSV))), start=1
    ):
        if csv_row is None:
            continue
        csv_count += 1
        if json_row is not None and json_row != csv_row:
            raise BundleProblem(
                f"{AUDIT_CSV} row {line} (event #{json_row.get('id')}) differs from {AUDIT_JSON}"
            )
    if csv_count != len(rows):
        raise BundleProblem(f"{AUDIT_CSV} has {csv_count} rows, {AUDIT_JSON} {len(rows)}")
    audit = evidence.get("audit") or {}
    last = rows[-1]
    if (audit.get("first_id"), audit.get("last_id"), audit.get("last_hash")) != (
        rows[0]["id"],
        last["id"],
        last["hash"],
    ):
        raise BundleProblem("the audit segment does not start and end where evidence.json says")
    subject_type, _, subject_id = report.subject.partition(":")
    if not (
        str(last["action"]).endswith(f".{EXPORTED}")
        and last["object_type"] == subject_type
        and last["object_id"] == subject_id
    ):
        raise BundleProblem("the audit segment does not end with this bundle's export event")
    covered = {
        name: digest
        for name, digest in hashes.items()
        if name not in (AUDIT_CSV, AUDIT_JSON, EVIDENCE) and not name.startswith("proof/")
    }
    digest = content_digest(covered)
    if last["digest"] != digest or evidence.get("content_digest") != digest:
        raise BundleProblem(
            "the data files do not match the digest the export event recorded "
            f"(event #{last['id']}): a file was changed after the export"
        )
    report.audit_events = len(rows)
    report.last_hash = last["hash"]
    return rows


# --- the tables ------------------------------------------------------------------------


def _json_array(bag: Bag, name: str) -> Iterator[dict[str, Any]]:
    lines = bag.data(name)
    if next(lines, "").strip() != "[":
        raise BundleProblem(f"{name} is not a JSON array")
    closed = False
    for number, line in enumerate(lines, start=2):
        text = line.strip()
        if closed:
            if text:
                raise BundleProblem(f"{name} line {number}: text after the end of the array")
            continue
        if text == "]":
            closed = True
            continue
        try:
            row = json.loads(text.removesuffix(","))
        except json.JSONDecodeError as exc:
            raise BundleProblem(f"{name} line {number}: unreadable JSON ({exc})") from exc
        if not isinstance(row, dict):
            raise BundleProblem(f"{name} line {number}: not an object")
        yield row
    if not closed:
        raise BundleProblem(f"{name} is cut short (the array is not closed)")


def _table_rows(bag: Bag, table: str, columns: Sequence[str]) -> Iterator[dict[str, Any]]:
    csv_name, json_name = f"{table}.csv", f"{table}.json"
    reader = csv.reader(bag.data(csv_name))
    if next(reader, None) != list(columns):
        raise BundleProblem(f"{csv_name} does not have the columns evidence.json names")
    number = 0
    for number, row in enumerate(_json_array(bag, json_name), start=1):
        if list(row) != list(columns):
            raise BundleProblem(f"{json_name} row {number} does not have the expected fields")
        cells = next(reader, None)
        if cells is None:
            raise BundleProblem(f"{csv_name} has fewer rows than {json_name} (row {number})")
        if [csv_unescape(c) for c in cells] != [cell(row[name]) for name in columns]:
            raise BundleProblem(f"{csv_name} row {number} differs from {json_name}")
        yield row
    if next(reader, None) is not None:
        raise BundleProblem(f"{csv_name} has more rows than {json_name} ({number})")


def _check_tables(
    bag: Bag, evidence: dict[str, Any], report: BundleReport, audit: list[dict[str, Any]]
) -> None:
    tables: dict[str, list[str]] = evidence["tables"]
    for name in ("bulk_actions", "grants", "credentials", "acknowledgements"):
        if name not in tables:
            raise BundleProblem(f"evidence.json does not name the table {name}")
    executed = {
        int(e["object_id"]): e
        for e in audit
        if e["action"] == "bulk_action.executed" and e["object_type"] == "bulk.bulkaction"
    }
    actions = {row["id"]: row for row in _table_rows(bag, "bulk_actions", tables["bulk_actions"])}
    report.rows["bulk_actions"] = len(actions)
    report.rows["grants"] = sum(1 for _ in _table_rows(bag, "grants", tables["grants"]))

    chunk_hashes: dict[int, dict[int, str]] = {}
    changes: set[tuple[int, int, int]] = set()
    current: tuple[int, int] | None = None
    rows: list[dict[str, Any]] = []
    count = 0
    for count, row in enumerate(  # noqa: B007 — the count is read after the loop
        _table_rows(bag, "credentials", tables["credentials"]), start=1
    ):
        key = (row["action"], row["chunk"])
        if key != current:
            if current is not None:
                chunk_hashes.setdefault(current[0], {})[current[1]] = changes_digest(rows)
            current, rows = key, []
        rows.append(row)
        changes.add((row["action"], row["change"], row["credential"]))
    if current is not None:
        chunk_hashes.setdefault(current[0], {})[current[1]] = changes_digest(rows)
    report.rows["credentials"] = count
    empty = changes_digest([])
    for action_id, action in sorted(actions.items()):
        if action["state"] != "done":
            continue
        event = executed.get(action_id)
        if event is None:
            raise BundleProblem(
                f"bulk action #{action_id} is done but its executed event is not in the segment"
            )
        after = event["after"] or {}
        if (action["plan_hash"], action["credentials_changed"]) != (
            after.get("plan_hash"),
            after.get("credentials_changed"),
        ):
            raise BundleProblem(
                f"bulk action #{action_id} does not match its executed event #{event['id']}"
            )
        mine = chunk_hashes.pop(action_id, {})
        digests = [mine.pop(chunk, empty) for chunk in range(action["chunk_count"])]
        if mine or decision_digest(digests) != event["digest"]:
            raise BundleProblem(
                f"the credential rows of bulk action #{action_id} do not match the digest its "
                f"executed event #{event['id']} recorded (a row was edited, removed or added)"
            )
        report.digests_checked += 1
    if chunk_hashes:
        raise BundleProblem(
            f"credential rows name bulk action(s) {sorted(chunk_hashes)} that did not run"
        )
    acknowledgements = 0
    for acknowledgements, row in enumerate(
        _table_rows(bag, "acknowledgements", tables["acknowledgements"]), start=1
    ):
        if (row["action"], row["change"], row["credential"]) not in changes:
            raise BundleProblem(
                f"acknowledgements.json row {acknowledgements} names a change that is not listed"
            )
    report.rows["acknowledgements"] = acknowledgements
    if "model_blocks" in tables:
        blocks = 0
        for blocks, row in enumerate(
            _table_rows(bag, "model_blocks", tables["model_blocks"]), start=1
        ):
            if row["action"] not in actions:
                raise BundleProblem(f"model_blocks.json row {blocks} names an unlisted action")
        report.rows["model_blocks"] = blocks
    if "held_back" in tables:
        held = 0
        for held, row in enumerate(_table_rows(bag, "held_back", tables["held_back"]), start=1):
            if row["action"] not in actions:
                raise BundleProblem(f"held_back.json row {held} names an unlisted action")
        report.rows["held_back"] = held
    declared = evidence.get("rows") or {}
    for name in tables:
        if declared.get(name) != report.rows.get(name):
            raise BundleProblem(
                f"{name} has {report.rows.get(name)} rows; evidence.json says otherwise"
            )


def _check_subject(bag: Bag, report: BundleReport, audit: list[dict[str, Any]]) -> None:
    subject = json.loads(bag.read(f"data/{SUBJECT}"))
    if subject.get("object") != report.subject:
        raise BundleProblem("subject.json is about another object than evidence.json")
    if subject.get("type") == "determination":
        applied = [
            e
            for e in audit
            if e["action"] == "determination.applied"
            and f"{e['object_type']}:{e['object_id']}" == report.subject
        ]
        ran = [a["bulk_action"] for a in (subject.get("outcome") or {}).get("bulk_actions", [])]
        if applied and sorted(ran) != sorted(
            a["bulk_action"] for a in (applied[-1]["after"] or {}).get("bulk_actions", [])
        ):
            raise BundleProblem("subject.json lists other bulk actions than its applied event")
        listed = [row["id"] for row in _json_array(bag, "bulk_actions.json")]
        if sorted(ran) != sorted(listed):
            raise BundleProblem("bulk_actions.json does not list the actions the determination ran")


# --- the proof -------------------------------------------------------------------------


def _hashes(values: Any, where: str) -> list[bytes]:
    if not isinstance(values, list):
        raise BundleProblem(f"{where}: the proof is not a list of hashes")
    try:
        return [base64.b64decode(v, validate=True) for v in values]
    except (ValueError, TypeError):
        raise BundleProblem(f"{where}: a proof hash is not base64") from None


def _check_proof(
    bag: Bag,
    report: BundleReport,
    audit: list[dict[str, Any]],
    key: VerifierKey,
    witnesses: Sequence[VerifierKey],
    seen_size: int | None,
) -> None:
    try:
        raw = bag.read(f"data/{CHECKPOINT}").decode("utf-8")
        checkpoint = open_checkpoint(raw, key)
    except KeyError:
        raise BundleProblem(f"data/{CHECKPOINT} is missing") from None
    except (NoteError, UnicodeDecodeError) as exc:
        raise BundleProblem(f"the checkpoint is not valid: {exc}") from exc
    if seen_size is not None and checkpoint.size < seen_size:
        raise BundleProblem(
            f"the checkpoint's tree (size {checkpoint.size}) is smaller than one seen before "
            f"(size {seen_size}): the log lost events or shows a second history"
        )
    proofs = list(jsonl_rows(bag.data(INCLUSION), INCLUSION))
    if [p.get("id") for p in proofs] != [row["id"] for row in audit]:
        raise BundleProblem(f"{INCLUSION} does not hold one proof per audit event, in order")
    previous_index: int | None = None
    for proof, row in zip(proofs, audit, strict=True):
        index = proof.get("index")
        where = f"event #{row['id']}"
        if not isinstance(index, int):
            raise BundleProblem(f"{INCLUSION}, {where}: no leaf index")
        if previous_index is not None and index != previous_index + 1:
            raise BundleProblem(
                f"{where} is at leaf {index}, not right after leaf {previous_index}: "
                "the segment skips events of the log"
            )
        try:
            verify_inclusion(
                index=index,
                size=checkpoint.size,
                leaf=row_leaf(row),
                proof=_hashes(proof.get("proof"), where),
                root=checkpoint.root_hash,
            )
        except ProofError as exc:
            raise BundleProblem(f"{where} is not in the signed log: {exc}") from exc
        previous_index = index
        report.proofs_checked += 1
    report.checkpoint = checkpoint
    if f"data/{WITNESSED}" in bag.names:
        _check_witnessed(bag, report, checkpoint, key, witnesses)


def _check_witnessed(
    bag: Bag,
    report: BundleReport,
    checkpoint: Checkpoint,
    key: VerifierKey,
    witnesses: Sequence[VerifierKey],
) -> None:
    try:
        raw = bag.read(f"data/{WITNESSED}").decode("utf-8")
        witnessed = open_checkpoint(raw, key)
        note = parse_note(raw)
        body = json.loads(bag.read(f"data/{CONSISTENCY}"))
    except KeyError:
        raise BundleProblem(f"data/{CONSISTENCY} is missing") from None
    except (NoteError, UnicodeDecodeError, json.JSONDecodeError) as exc:
        raise BundleProblem(f"the witnessed checkpoint is not valid: {exc}") from exc
    if (body.get("from"), body.get("to")) != (witnessed.size, checkpoint.size):
        raise BundleProblem("the consistency proof is not between the two checkpoints")
    try:
        verify_consistency(
            old_size=witnessed.size,
            new_size=checkpoint.size,
            old_root=witnessed.root_hash,
            new_root=checkpoint.root_hash,
            proof=_hashes(body.get("proof"), "the consistency proof"),
        )
    except ProofError as exc:
        raise BundleProblem(f"the witnessed checkpoint is not consistent: {exc}") from exc
    report.witnessed_size = witnessed.size
    for signature in note.signatures:
        if signature.name == key.name and signature.key_id == key.key_id:
            continue
        mine = [w for w in witnesses if (w.name, w.key_id) == (signature.name, signature.key_id)]
        if not mine:
            report.cosignatures_unchecked += 1
            continue
        try:
            verify_cosignature(note.text, signature, mine[0])
        except NoteError as exc:
            raise BundleProblem(str(exc)) from exc
        report.cosignatures.append(signature.name)
    for witness in witnesses:
        if witness.name not in report.cosignatures:
            raise BundleProblem(
                f"the witnessed checkpoint carries no cosignature by {witness.name}"
            )


def witness_keys(texts: Sequence[str]) -> list[VerifierKey]:
    keys = [VerifierKey.parse(t) for t in texts]
    for k in keys:
        if k.sig_type != COSIGNATURE_V1:
            raise NoteError(f"{k.name} is not a cosigner key (type 0x04)")
    return keys


def verify_bundle(
    handle: str | IO[bytes] | Any,
    *,
    key: VerifierKey,
    witnesses: Sequence[VerifierKey] = (),
    seen_size: int | None = None,
) -> BundleReport:
    """Verify a bundle file (path or binary file); the report names the first problem."""
    report = BundleReport()
    try:
        with zipfile.ZipFile(handle) as zf:
            bag = Bag(zf)
            hashes = check_bag(bag, report)
            evidence = read_evidence(bag, report)
            audit = _check_audit(bag, evidence, hashes, report)
            _check_tables(bag, evidence, report, audit)
            _check_subject(bag, report, audit)
            _check_proof(bag, report, audit, key, witnesses, seen_size)
    except BundleProblem as exc:
        report.problem = str(exc)
    except (zipfile.BadZipFile, OSError) as exc:
        report.problem = f"not a readable ZIP file ({exc})"
    except (KeyError, TypeError, ValueError) as exc:
        report.problem = f"a file is malformed ({type(exc).__name__}: {exc})"
    return report
