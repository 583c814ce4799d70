"""Offline verification of an evidence bundle (``manage.py verify_evidence_bundle FILE``).

Bundles in the BagIt layout (format /3, with proofs) are checked by ``verifier.bundle``,
the same code as ``clearance-verify``. What follows here reads the bundles written before
it (formats /1 and /2, a ``manifest.json`` beside the files):

Checks, stopping at the first problem, in this order:

1. the ZIP opens and ``manifest.json`` names exactly the files it holds, each with the
   SHA-256 and size it has (an edited file, or an edited manifest, fails here);
2. the audit segment: every event's hash recomputed and every link to the one before
   it (``audit.export_verify``, contiguous), in the JSON Lines and the CSV alike, and the
   two say the same; it ends with the export event, whose digest covers the data files;
3. every table's CSV and JSON hold the same rows in the same order, with the columns the
   manifest names;
4. each bulk action's credential rows, hashed per chunk as the action hashed them when
   it ran, give the digest its ``bulk_action.executed`` event recorded, and its row
   agrees with that event (plan hash, counts); each acknowledgement names a listed change,
   and each model-wide block (format /2; /1 bundles have none) a listed action.

Reads one line at a time; no database is needed, only Django settings for the hashing.
"""

from __future__ import annotations

import csv
import hashlib
import io
import json
import zipfile
from collections.abc import Iterator, Sequence
from dataclasses import dataclass, field
from itertools import zip_longest
from pathlib import Path
from typing import IO, Any

from foundation.audit.checkpoints import verifier_key
from foundation.audit.export import csv_unescape
from foundation.audit.export_verify import _csv_rows, _jsonl_rows, verify_rows
from portal.compliance.evidence_format import (
    AUDIT_CSV,
    AUDIT_JSON,
    EXPORTED,
    FORMATS,
    MANIFEST,
    SUBJECT,
    TABLES,
    cell,
    content_digest,
)
from provisioning.bulk.services import decision_digest
from provisioning.deliveries.changelog import ChangeRow, changes_digest
from verifier import bag, bundle
from verifier.note import VerifierKey


class BundleProblem(Exception):
    """The first thing found wrong with a bundle."""


@dataclass
class BundleReport:
    subject: str = ""
    files: int = 0
    rows: dict[str, int] = field(default_factory=dict)
    audit_events: int = 0
    audit_links: int = 0
    digests_checked: int = 0
    last_hash: str = ""
    problem: str = ""

    @property
    def ok(self) -> bool:
        return not self.problem

    def summary(self) -> str:
        tables = ", ".join(f"{n} {name}" for name, n in self.rows.items())
        return (
            f"Evidence bundle verified for {self.subject}: {self.files} files match the "
            f"manifest; {tables}; {self.audit_events} audit events, {self.audit_links} links "
            f"checked; {self.digests_checked} bulk-action digest(s) recomputed from the rows. "
            f"Last hash {self.last_hash} (compare it with the portal's chain)."
        )


def _text(zf: zipfile.ZipFile, name: str) -> Iterator[str]:
    with zf.open(name) as raw:
        yield from io.TextIOWrapper(raw, encoding="utf-8", newline="")


def _json_rows(zf: zipfile.ZipFile, name: str) -> Iterator[dict[str, Any]]:
    """Rows of a table's JSON file: a JSON array written one object per line."""
    lines = _text(zf, name)
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


def _check_manifest(zf: zipfile.ZipFile, report: BundleReport) -> dict[str, Any]:
    names = set(zf.namelist())
    if MANIFEST not in names:
        raise BundleProblem("manifest.json is missing")
    try:
        manifest = json.loads(zf.read(MANIFEST))
    except json.JSONDecodeError as exc:
        raise BundleProblem(f"manifest.json is unreadable ({exc})") from exc
    if not isinstance(manifest, dict) or manifest.get("format") not in FORMATS:
        raise BundleProblem(f"manifest.json does not declare a format: {', '.join(FORMATS)}")
    listed = manifest.get("files")
    if not isinstance(listed, dict):
        raise BundleProblem("manifest.json lists no files")
    expected = {SUBJECT, AUDIT_CSV, AUDIT_JSON} | {
        f"{table}.{ext}" for table in FORMATS[manifest["format"]] for ext in ("csv", "json")
    }
    for name in sorted(expected - set(listed)):
        raise BundleProblem(f"manifest.json does not list {name}")
    for name in sorted(set(listed) - names):
        raise BundleProblem(f"{name} is listed in the manifest but missing from the bundle")
    for name in sorted(names - set(listed) - {MANIFEST}):
        raise BundleProblem(f"{name} is in the bundle but not in the manifest")
    for name in sorted(listed):
        entry = listed[name]
        digest, size = hashlib.sha256(), 0
        with zf.open(name) as handle:
            while block := handle.read(1024 * 1024):
                digest.update(block)
                size += len(block)
        if not isinstance(entry, dict) or entry.get("sha256") != digest.hexdigest():
            raise BundleProblem(f"{name} does not match its SHA-256 in the manifest")
        if entry.get("bytes") != size:
            raise BundleProblem(f"{name} does not have the size the manifest gives")
    report.files = len(listed)
    report.subject = str(manifest.get("subject", ""))
    return manifest


def _check_audit(
    zf: zipfile.ZipFile, manifest: dict[str, Any], report: BundleReport
) -> list[dict[str, Any]]:
    rows = list(_jsonl_rows(_text(zf, AUDIT_JSON)))
    result = verify_rows(rows, contiguous=True)
    if not result.rows:
        raise BundleProblem(f"{AUDIT_JSON} holds no audit events")
    if result.problems:
        first = result.problems[0]
        raise BundleProblem(
            f"{AUDIT_JSON} line {first.line}, event #{first.event_id}: {first.problem}"
        )
    # One pass over the CSV: compare the rows both files have, count the CSV's.
    csv_count = 0
    for line, (json_row, csv_row) in enumerate(
        zip_longest(rows, _csv_rows(_text(zf, AUDIT_CSV))), start=1
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
    audit = manifest.get("audit") or {}
    first_id, last = rows[0]["id"], rows[-1]
    if (audit.get("first_id"), audit.get("last_id"), audit.get("last_hash")) != (
        first_id,
        last["id"],
        last["hash"],
    ):
        raise BundleProblem("the audit segment does not start and end where the manifest says")
    subject_type, _, subject_id = report.subject.partition(":")
    if not (
        last["action"].endswith(f".{EXPORTED}")
        and last["object_type"] == subject_type
        and last["object_id"] == subject_id
    ):
        raise BundleProblem("the audit segment does not end with this bundle's export event")
    data_hashes = {
        name: entry["sha256"]
        for name, entry in manifest["files"].items()
        if name not in (AUDIT_CSV, AUDIT_JSON)
    }
    digest = content_digest(data_hashes)
    if last["digest"] != digest or manifest.get("content_digest") != digest:
        raise BundleProblem(
            "the data files do not match the digest the export event recorded "
            f"(event #{last['id']}): a file was changed after the export"
        )
    report.audit_events = result.rows
    report.audit_links = result.links_checked
    report.last_hash = result.last_hash
    return rows


def _table_rows(
    zf: zipfile.ZipFile, table: str, columns: tuple[str, ...]
) -> Iterator[dict[str, Any]]:
    """The JSON rows of a table, each checked against the CSV row at the same place."""
    csv_name, json_name = f"{table}.csv", f"{table}.json"
    reader = csv.reader(_text(zf, csv_name))
    header = next(reader, None)
    if header != list(columns):
        raise BundleProblem(f"{csv_name} does not have the columns the manifest names")
    number = 0
    for number, row in enumerate(_json_rows(zf, json_name), start=1):
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
    zf: zipfile.ZipFile, manifest: dict[str, Any], report: BundleReport, audit: list[dict[str, Any]]
) -> None:
    tables = dict(FORMATS[manifest["format"]])
    declared_tables = manifest.get("tables") or {}
    if "held_back" in declared_tables and "held_back" not in tables:
        # A restore's held-back keys: a table newer bundles add; checked like the others.
        tables["held_back"] = TABLES["held_back"]
    if declared_tables != {name: list(columns) for name, columns in tables.items()}:
        raise BundleProblem("manifest.json names other tables or columns than this format has")
    executed = {
        int(e["object_id"]): e
        for e in audit
        if e["action"] == "bulk_action.executed" and e["object_type"] == "bulk.bulkaction"
    }
    actions = {row["id"]: row for row in _table_rows(zf, "bulk_actions", tables["bulk_actions"])}
    report.rows["bulk_actions"] = len(actions)
    report.rows["grants"] = sum(1 for _ in _table_rows(zf, "grants", tables["grants"]))

    # Credential rows, in (action, chunk, change) order: re-hash each chunk as it ran.
    chunk_hashes: dict[int, dict[int, str]] = {}
    changes: set[tuple[int, int, int]] = set()
    current: tuple[int, int] | None = None
    rows: list[ChangeRow] = []
    count = 0
    for count, row in enumerate(  # noqa: B007 — the count is read after the loop
        _table_rows(zf, "credentials", tables["credentials"]), start=1
    ):
        key = (row["action"], row["chunk"])
        if key != current:
            if current is not None:
                chunk_hashes.setdefault(current[0], {})[current[1]] = changes_digest(rows)
            current, rows = key, []
        rows.append(
            ChangeRow(
                row["change"],
                row["credential"],
                row["version"],
                bool(row["active"]),
                bool(row["revoked"]),
                row["cause"],
            )
        )
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
        decision = decision_digest(digests)
        if mine or decision != event["digest"]:
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
        _table_rows(zf, "acknowledgements", tables["acknowledgements"]), start=1
    ):
        if (row["action"], row["change"], row["credential"]) not in changes:
            raise BundleProblem(
                f"acknowledgements.json row {acknowledgements} names a change that is not listed"
            )
    report.rows["acknowledgements"] = acknowledgements
    if "model_blocks" in tables:
        blocks = 0
        for blocks, row in enumerate(
            _table_rows(zf, "model_blocks", tables["model_blocks"]), start=1
        ):
            if row["action"] not in actions:
                raise BundleProblem(f"model_blocks.json row {blocks} names an unlisted action")
        report.rows["model_blocks"] = blocks
    if "held_back" in tables:
        held = 0
        for held, row in enumerate(_table_rows(zf, "held_back", tables["held_back"]), start=1):
            if row["action"] not in actions:
                raise BundleProblem(f"held_back.json row {held} names an unlisted action")
        report.rows["held_back"] = held
    declared = manifest.get("rows") or {}
    for name in tables:
        if declared.get(name) != report.rows[name]:
            raise BundleProblem(f"{name} has {report.rows[name]} rows; the manifest says otherwise")


def _check_subject(zf: zipfile.ZipFile, report: BundleReport, audit: list[dict[str, Any]]) -> None:
    subject = json.loads(zf.read(SUBJECT))
    if subject.get("object") != report.subject:
        raise BundleProblem("subject.json is about another object than the manifest")
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
        if sorted(ran) != sorted(_listed_actions(zf)):
            raise BundleProblem("bulk_actions.json does not list the actions the determination ran")


def _listed_actions(zf: zipfile.ZipFile) -> list[int]:
    return [row["id"] for row in _json_rows(zf, "bulk_actions.json")]


def verify_bundle_file(
    handle: str | Path | IO[bytes],
    *,
    key: VerifierKey | None = None,
    witnesses: Sequence[VerifierKey] = (),
) -> BundleReport | bag.BundleReport:
    """A BagIt bundle (format /3) is checked by ``verifier.bundle``, the code of
    ``clearance-verify``, against the log's key; an older bundle as it was written."""
    if not _is_legacy(handle):
        return bundle.verify_bundle(handle, key=key or verifier_key(), witnesses=witnesses)
    return _verify_legacy(handle)


def _is_legacy(handle: str | Path | IO[bytes]) -> bool:
    try:
        with zipfile.ZipFile(handle) as zf:
            names = set(zf.namelist())
    except (zipfile.BadZipFile, OSError):
        return False
    finally:
        if not isinstance(handle, str | Path):
            handle.seek(0)
    return MANIFEST in names and "bagit.txt" not in names


def _verify_legacy(handle: str | Path | IO[bytes]) -> BundleReport:
    report = BundleReport()
    try:
        with zipfile.ZipFile(handle) as zf:
            manifest = _check_manifest(zf, report)
            audit = _check_audit(zf, manifest, report)
            _check_tables(zf, manifest, report, audit)
            _check_subject(zf, report, audit)
    except BundleProblem as exc:
        report.problem = str(exc)
    except (zipfile.BadZipFile, OSError) as exc:
        report.problem = f"not a readable ZIP file ({exc})"
    except (KeyError, TypeError, ValueError) as exc:
        report.problem = f"a file is malformed ({type(exc).__name__}: {exc})"
    return report
