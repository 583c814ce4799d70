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

Steps 3 to 5 are ``content``'s, which the portal also runs on the bundles written before
the BagIt layout.
"""

from __future__ import annotations

import base64
import json
import zipfile
from collections.abc import Sequence
from typing import IO, Any

from .bag import (
    AUDIT_CSV,
    AUDIT_JSON,
    CHECKPOINT,
    CONSISTENCY,
    EVIDENCE,
    INCLUSION,
    WITNESSED,
    Bag,
    BundleProblem,
    BundleReport,
    check_bag,
    first_problem,
    jsonl_rows,
    read_evidence,
)
from .content import check_audit, check_subject, check_tables
from .events import row_leaf
from .merkle import ProofError, verify_inclusion
from .note import (
    COSIGNATURE_V1,
    Checkpoint,
    NoteError,
    VerifierKey,
    open_checkpoint,
    parse_note,
    verify_cosignature,
)

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
        checkpoint.check_extends(witnessed, _hashes(body.get("proof"), "the consistency proof"))
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
    with first_problem(report), zipfile.ZipFile(handle) as zf:
        bag = Bag(zf)
        hashes = check_bag(bag, report)
        evidence = read_evidence(bag, report)
        covered = {
            name: digest
            for name, digest in hashes.items()
            if name not in (AUDIT_CSV, AUDIT_JSON, EVIDENCE) and not name.startswith("proof/")
        }
        audit = check_audit(bag.data, evidence, covered, report, described_by=EVIDENCE)
        check_tables(
            bag.data,
            evidence["tables"],
            evidence.get("rows") or {},
            report,
            audit,
            described_by=EVIDENCE,
        )
        check_subject(bag.data, report, audit, described_by=EVIDENCE)
        _check_proof(bag, report, audit, key, witnesses, seen_size)
    return report
