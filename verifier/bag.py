"""A Clearance evidence bundle's format and the BagIt bag (RFC 8493) that carries it: file
names, how a value reads in a table's CSV, the digests the portal records, and reading the
bag's manifests out of the ZIP."""

from __future__ import annotations

import hashlib
import io
import json
import zipfile
from collections.abc import Iterable, Iterator, Sequence
from contextlib import contextmanager
from dataclasses import dataclass, field
from typing import IO, Any

from .events import HASHED_FIELDS
from .note import Checkpoint

FORMAT = "clearance-evidence/3"
EVIDENCE = "evidence.json"
SUBJECT = "subject.json"
AUDIT_CSV = "audit.csv"
AUDIT_JSON = "audit.jsonl"
CHECKPOINT = "proof/checkpoint.txt"
INCLUSION = "proof/inclusion.jsonl"
WITNESSED = "proof/witnessed.txt"
CONSISTENCY = "proof/consistency.json"
EXPORTED = "evidence_exported"
BAGIT = "BagIt-Version: 1.0\nTag-File-Character-Encoding: UTF-8\n"
EXPORT_FIELDS = ("id", *HASHED_FIELDS, "hash")


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
    checkpoint: Checkpoint | None = None
    proofs_checked: int = 0
    witnessed_size: int | None = None
    cosignatures: list[str] = field(default_factory=list)
    cosignatures_unchecked: int = 0
    problem: str = ""

    @property
    def ok(self) -> bool:
        return not self.problem

    def summary(self) -> str:
        tables = ", ".join(f"{n} {name}" for name, n in self.rows.items())
        lines = [
            f"Evidence bundle verified for {self.subject}: {self.files} files match the "
            f"bag manifest; {tables}; {self.audit_events} audit events, {self.audit_links} "
            f"links checked; {self.digests_checked} bulk-action digest(s) recomputed from "
            "the rows."
        ]
        if self.checkpoint is not None:
            lines.append(
                f"Every audit event is in the log {self.checkpoint.origin} at size "
                f"{self.checkpoint.size} ({self.proofs_checked} inclusion proofs against its "
                "signed checkpoint)."
            )
        if self.witnessed_size is not None:
            lines.append(
                f"That tree extends the witnessed checkpoint of size {self.witnessed_size}; "
                f"cosigned by: {', '.join(self.cosignatures) or 'no witness key given'}"
                + (
                    f" ({self.cosignatures_unchecked} cosignature(s) by keys not given)"
                    if self.cosignatures_unchecked
                    else ""
                )
                + "."
            )
        return "\n".join(lines)


@contextmanager
def first_problem(report: BundleReport) -> Iterator[None]:
    """Stop at the first problem and write it in the report: a check's own, an unreadable
    ZIP, or a file whose content is not what its name promises."""
    try:
        yield
    except BundleProblem as exc:
        report.problem = str(exc)
    except (zipfile.BadZipFile, OSError) as exc:
        report.problem = f"not a readable ZIP file ({exc})"
    except (KeyError, TypeError, ValueError) as exc:
        report.problem = f"a file is malformed ({type(exc).__name__}: {exc})"


# --- values as the CSV shows them ------------------------------------------------------


def cell(value: Any) -> str:
    """How a JSON value reads in a table's CSV."""
    if type(value) is str:
        return value
    if value is None:
        return ""
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, list | dict):
        return json.dumps(value, sort_keys=True, separators=(",", ":"), ensure_ascii=False)
    return str(value)


def csv_unescape(text: str) -> str:
    """Cells that a spreadsheet would run as a formula carry a leading quote."""
    return text[1:] if text.startswith("'") else text


def content_digest(file_hashes: dict[str, str]) -> str:
    lines = "".join(f"{name}:{file_hashes[name]}\n" for name in sorted(file_hashes))
    return hashlib.sha256(lines.encode()).hexdigest()


def change_line(row: dict[str, Any]) -> str:
    return (
        f"{row['change']}:{row['credential']}:{row['version']}:"
        f"{int(bool(row['active']))}:{int(bool(row['revoked']))}:{row['cause']}\n"
    )


def changes_digest(rows: Sequence[dict[str, Any]]) -> str:
    ordered = sorted(rows, key=lambda r: int(r["change"]))
    return hashlib.sha256("".join(change_line(r) for r in ordered).encode()).hexdigest()


def decision_digest(chunk_digests: Sequence[str]) -> str:
    return hashlib.sha256("\n".join(chunk_digests).encode()).hexdigest()


# --- reading the bag -------------------------------------------------------------------


class Bag:
    def __init__(self, zf: zipfile.ZipFile) -> None:
        self.zf = zf
        names = [n for n in zf.namelist() if not n.endswith("/")]
        roots = {n[: -len("bagit.txt")] for n in names if n.endswith("bagit.txt")}
        roots = {r for r in roots if r == "" or (r.endswith("/") and r.count("/") == 1)}
        if len(roots) != 1:
            raise BundleProblem("bagit.txt is missing: this is not a BagIt bag")
        self.root = roots.pop()
        self.names = {n[len(self.root) :] for n in names if n.startswith(self.root)}

    def open(self, name: str) -> IO[bytes]:
        return self.zf.open(self.root + name)

    def read(self, name: str) -> bytes:
        return self.zf.read(self.root + name)

    def text(self, name: str) -> Iterator[str]:
        with self.open(name) as raw:
            yield from io.TextIOWrapper(raw, encoding="utf-8", newline="")

    def data(self, name: str) -> Iterator[str]:
        return self.text(f"data/{name}")


def sha256_of(bag: Bag, name: str) -> str:
    digest = hashlib.sha256()
    with bag.open(name) as handle:
        while block := handle.read(1024 * 1024):
            digest.update(block)
    return digest.hexdigest()


def read_manifest(bag: Bag, name: str) -> dict[str, str]:
    listed: dict[str, str] = {}
    for number, line in enumerate(bag.read(name).decode("utf-8").splitlines(), start=1):
        digest, _, path = line.partition(" ")
        path = path.lstrip(" ")
        if len(digest) != 64 or not path:
            raise BundleProblem(f"{name} line {number} is not '<sha256> <path>'")
        listed[path] = digest.lower()
    return listed


def check_bag(bag: Bag, report: BundleReport) -> dict[str, str]:
    if bag.read("bagit.txt").decode("utf-8", "replace") != BAGIT:
        raise BundleProblem("bagit.txt does not declare BagIt-Version 1.0 in UTF-8")
    if "manifest-sha256.txt" not in bag.names:
        raise BundleProblem("manifest-sha256.txt is missing")
    listed = read_manifest(bag, "manifest-sha256.txt")
    payload = {n for n in bag.names if n.startswith("data/")}
    for name in sorted(set(listed) - payload):
        raise BundleProblem(f"{name} is listed in manifest-sha256.txt but missing from the bag")
    for name in sorted(payload - set(listed)):
        raise BundleProblem(f"{name} is in the bag but not in manifest-sha256.txt")
    tags = bag.names - payload
    for name in sorted(tags):
        if "/" in name or not name.endswith(".txt"):
            raise BundleProblem(f"{name} is outside data/ and is not a tag file")
    for name in sorted(listed):
        if sha256_of(bag, name) != listed[name]:
            raise BundleProblem(f"{name} does not match its SHA-256 in manifest-sha256.txt")
    if "tagmanifest-sha256.txt" in bag.names:
        tag_listed = read_manifest(bag, "tagmanifest-sha256.txt")
        for name in sorted(tag_listed):
            if name not in bag.names:
                raise BundleProblem(f"{name} is listed in tagmanifest-sha256.txt but missing")
            if sha256_of(bag, name) != tag_listed[name]:
                raise BundleProblem(f"{name} does not match its SHA-256 in tagmanifest-sha256.txt")
    report.files = len(listed)
    return {name.removeprefix("data/"): digest for name, digest in listed.items()}


def read_evidence(bag: Bag, report: BundleReport) -> dict[str, Any]:
    try:
        evidence = json.loads(bag.read(f"data/{EVIDENCE}"))
    except KeyError:
        raise BundleProblem(f"data/{EVIDENCE} is missing") from None
    except json.JSONDecodeError as exc:
        raise BundleProblem(f"data/{EVIDENCE} is unreadable ({exc})") from exc
    if not isinstance(evidence, dict) or evidence.get("format") != FORMAT:
        raise BundleProblem(f"data/{EVIDENCE} does not declare the format {FORMAT}")
    tables = evidence.get("tables")
    if not isinstance(tables, dict) or not tables:
        raise BundleProblem(f"data/{EVIDENCE} names no tables")
    report.subject = str(evidence.get("subject", ""))
    return evidence


def jsonl_rows(lines: Iterable[str], name: str) -> Iterator[dict[str, Any]]:
    for number, line in enumerate(lines, start=1):
        if not line.strip():
            continue
        try:
            value = json.loads(line)
        except json.JSONDecodeError as exc:
            raise BundleProblem(f"{name} line {number}: unreadable JSON ({exc})") from exc
        if not isinstance(value, dict):
            raise BundleProblem(f"{name} line {number}: not an object")
        yield value
