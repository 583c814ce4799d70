"""Offline verification of an evidence bundle (``manage.py verify_evidence_bundle FILE``).

Bundles in the BagIt layout (format /3, with proofs) are checked by ``verifier.bundle``,
the same code as ``clearance-verify``. What follows here reads the bundles written before
it (formats /1 and /2, a ``manifest.json`` beside the files):

Checks, stopping at the first problem, in this order:

1. the ZIP opens and ``manifest.json`` names exactly the files it holds, each with the
   SHA-256 and size it has (an edited file, or an edited manifest, fails here);
2. the audit segment: every event's hash recomputed and every link to the one before
   it, in the JSON Lines and the CSV alike, and the two say the same; it ends with the
   export event, whose digest covers the data files;
3. every table's CSV and JSON hold the same rows in the same order, with the columns the
   manifest names;
4. each bulk action's credential rows, hashed per chunk as the action hashed them when
   it ran, give the digest its ``bulk_action.executed`` event recorded, and its row
   agrees with that event (plan hash, counts); each acknowledgement names a listed change,
   and each model-wide block (format /2; /1 bundles have none) a listed action;
5. the subject agrees with the audit segment.

Steps 2 to 5 are ``verifier.content``'s, the checks ``clearance-verify`` runs on a BagIt
bundle, here given this layout's files and its manifest. Reads one line at a time; no
database is needed.
"""

from __future__ import annotations

import hashlib
import io
import json
import zipfile
from collections.abc import Iterator, Sequence
from functools import partial
from pathlib import Path
from typing import IO, Any

from foundation.audit.checkpoints import verifier_key
from portal.compliance.evidence_format import (
    AUDIT_CSV,
    AUDIT_JSON,
    FORMATS,
    MANIFEST,
    SUBJECT,
    TABLES,
)
from verifier import bag, bundle, content
from verifier.bag import BundleProblem
from verifier.note import VerifierKey

# How the checks name this layout's manifest.json in a problem.
DESCRIBED_BY = "the manifest"


class BundleReport(bag.BundleReport):
    """What a bundle of the layout before BagIt showed: it carries no proofs."""

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


def _tables(manifest: dict[str, Any]) -> dict[str, tuple[str, ...]]:
    """The tables of the manifest's format, which the manifest must name with their columns."""
    tables = dict(FORMATS[manifest["format"]])
    declared_tables = manifest.get("tables") or {}
    if "held_back" in declared_tables and "held_back" not in tables:
        # A restore's held-back keys: a table newer bundles add; checked like the others.
        tables["held_back"] = TABLES["held_back"]
    if declared_tables != {name: list(columns) for name, columns in tables.items()}:
        raise BundleProblem("manifest.json names other tables or columns than this format has")
    return tables


def verify_bundle_file(
    handle: str | Path | IO[bytes],
    *,
    key: VerifierKey | None = None,
    witnesses: Sequence[VerifierKey] = (),
) -> bag.BundleReport:
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
    with bag.first_problem(report), zipfile.ZipFile(handle) as zf:
        manifest = _check_manifest(zf, report)
        read = partial(_text, zf)
        covered = {
            name: entry["sha256"]
            for name, entry in manifest["files"].items()
            if name not in (AUDIT_CSV, AUDIT_JSON)
        }
        audit = content.check_audit(read, manifest, covered, report, described_by=DESCRIBED_BY)
        content.check_tables(
            read,
            _tables(manifest),
            manifest.get("rows") or {},
            report,
            audit,
            described_by=DESCRIBED_BY,
        )
        content.check_subject(read, report, audit, described_by=DESCRIBED_BY)
    return report
