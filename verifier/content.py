"""What an evidence bundle holds, whatever carries it: the audit segment, the tables and the
subject. ``bundle`` reads them out of a BagIt bag (format /3); the portal reads the bundles
written before it (formats /1 and /2, a ``manifest.json`` beside the files) with the same
checks, so the two cannot disagree on what a sound bundle is.

Each check takes ``read``, which gives the lines of one of the bundle's files by name, and
``described_by``, how a problem names the file that declares the tables, rows and segment
(``evidence.json``, or the older manifest).
"""

from __future__ import annotations

import csv
import json
from collections.abc import Callable, Iterable, Iterator, Mapping, Sequence
from itertools import zip_longest
from typing import Any

from .bag import (
    AUDIT_CSV,
    AUDIT_JSON,
    EXPORT_FIELDS,
    EXPORTED,
    SUBJECT,
    BundleProblem,
    BundleReport,
    cell,
    changes_digest,
    content_digest,
    csv_unescape,
    decision_digest,
    jsonl_rows,
)
from .events import GENESIS_HASH, row_hash

Read = Callable[[str], Iterator[str]]
"""The lines of one of the bundle's files, by its name (``audit.csv``, ``grants.json`` ...)."""

REQUIRED_TABLES = ("bulk_actions", "grants", "credentials", "acknowledgements")

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


def audit_csv_row(record: Mapping[str, str]) -> dict[str, Any]:
    """An audit export's CSV row (by column) as its JSON Lines row reads: the hash and the
    link need the same values. A missing or malformed cell raises KeyError or ValueError."""
    return {name: _csv_value(name, record[name]) for name in EXPORT_FIELDS}


def _audit_csv_rows(lines: Iterable[str]) -> Iterator[dict[str, Any]]:
    for number, record in enumerate(csv.DictReader(lines), start=1):
        try:
            yield audit_csv_row(record)
        except (KeyError, ValueError, TypeError):
            raise BundleProblem(
                f"{AUDIT_CSV} row {number} has missing or malformed cells"
            ) from None


def _check_chain(rows: list[dict[str, Any]], report: BundleReport) -> None:
    """Every event's hash recomputed, and every link to the one before it."""
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


def check_audit(
    read: Read,
    described: Mapping[str, Any],
    covered: Mapping[str, str],
    report: BundleReport,
    *,
    described_by: str,
) -> list[dict[str, Any]]:
    """The audit segment: its hash chain, in the JSON Lines and the CSV alike; it starts and
    ends where ``described`` says, with the bundle's export event, whose digest covers the
    data files whose SHA-256 ``covered`` gives."""
    rows = list(jsonl_rows(read(AUDIT_JSON), AUDIT_JSON))
    if not rows:
        raise BundleProblem(f"{AUDIT_JSON} holds no audit events")
    _check_chain(rows, report)
    csv_count = 0
    for line, (json_row, csv_row) in enumerate(
        zip_longest(rows, _audit_csv_rows(read(AUDIT_CSV))), start=1
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
    audit = described.get("audit") or {}
    last = rows[-1]
    if (audit.get("first_id"), audit.get("last_id"), audit.get("last_hash")) != (
        rows[0]["id"],
        last["id"],
        last["hash"],
    ):
        raise BundleProblem(f"the audit segment does not start and end where {described_by} says")
    subject_type, _, subject_id = report.subject.partition(":")
    if not (
        str(last["action"]).endswith(f".{EXPORTED}")
        and last["object_type"] == subject_type
        and last["object_id"] == subject_id
    ):
        raise BundleProblem("the audit segment does not end with this bundle's export event")
    digest = content_digest(dict(covered))
    if last["digest"] != digest or described.get("content_digest") != digest:
        raise BundleProblem(
            "the data files do not match the digest the export event recorded "
            f"(event #{last['id']}): a file was changed after the export"
        )
    report.audit_events = len(rows)
    report.last_hash = last["hash"]
    return rows


# --- the tables ------------------------------------------------------------------------


def json_array(read: Read, name: str) -> Iterator[dict[str, Any]]:
    """Rows of a table's JSON file: a JSON array written one object per line."""
    lines = read(name)
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


def table_rows(
    read: Read, table: str, columns: Sequence[str], *, described_by: str
) -> Iterator[dict[str, Any]]:
    """The JSON rows of a table, each checked against the CSV row at the same place."""
    csv_name, json_name = f"{table}.csv", f"{table}.json"
    reader = csv.reader(read(csv_name))
    if next(reader, None) != list(columns):
        raise BundleProblem(f"{csv_name} does not have the columns {described_by} names")
    number = 0
    for number, row in enumerate(json_array(read, json_name), start=1):
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


def check_tables(
    read: Read,
    tables: Mapping[str, Sequence[str]],
    declared_rows: Mapping[str, int],
    report: BundleReport,
    audit: list[dict[str, Any]],
    *,
    described_by: str,
) -> None:
    """Every table's CSV and JSON hold the same rows; each bulk action's credential rows,
    hashed per chunk as the action hashed them when it ran, give the digest its
    ``bulk_action.executed`` event recorded, and its row agrees with that event; each
    acknowledgement names a listed change, each model-wide block and held-back key a listed
    action; every table has the rows ``declared_rows`` gives."""
    for name in REQUIRED_TABLES:
        if name not in tables:
            raise BundleProblem(f"{described_by} does not name the table {name}")

    def rows_of(table: str) -> Iterator[dict[str, Any]]:
        return table_rows(read, table, tables[table], described_by=described_by)

    executed = {
        int(e["object_id"]): e
        for e in audit
        if e["action"] == "bulk_action.executed" and e["object_type"] == "bulk.bulkaction"
    }
    actions = {row["id"]: row for row in rows_of("bulk_actions")}
    report.rows["bulk_actions"] = len(actions)
    report.rows["grants"] = sum(1 for _ in rows_of("grants"))

    # Credential rows, in (action, chunk, change) order: re-hash each chunk as it ran.
    chunk_hashes: dict[int, dict[int, str]] = {}
    changes: set[tuple[int, int, int]] = set()
    current: tuple[int, int] | None = None
    rows: list[dict[str, Any]] = []
    count = 0
    for count, row in enumerate(  # noqa: B007 — the count is read after the loop
        rows_of("credentials"), start=1
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
    for acknowledgements, row in enumerate(rows_of("acknowledgements"), start=1):
        if (row["action"], row["change"], row["credential"]) not in changes:
            raise BundleProblem(
                f"acknowledgements.json row {acknowledgements} names a change that is not listed"
            )
    report.rows["acknowledgements"] = acknowledgements
    # Model-wide blocks (format /2 on) and a restore's held-back keys each name an action.
    for table in ("model_blocks", "held_back"):
        if table not in tables:
            continue
        report.rows[table] = 0
        for number, row in enumerate(rows_of(table), start=1):
            if row["action"] not in actions:
                raise BundleProblem(f"{table}.json row {number} names an unlisted action")
            report.rows[table] = number
    for name in tables:
        if declared_rows.get(name) != report.rows.get(name):
            raise BundleProblem(
                f"{name} has {report.rows.get(name)} rows; {described_by} says otherwise"
            )


# --- the subject -----------------------------------------------------------------------


def check_subject(
    read: Read, report: BundleReport, audit: list[dict[str, Any]], *, described_by: str
) -> None:
    """The subject is the bundle's; a determination's lists the bulk actions its applied
    event ran, and the bundle lists the same."""
    subject = json.loads("".join(read(SUBJECT)))
    if subject.get("object") != report.subject:
        raise BundleProblem(f"{SUBJECT} is about another object than {described_by}")
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
        listed = [row["id"] for row in json_array(read, "bulk_actions.json")]
        if sorted(ran) != sorted(listed):
            raise BundleProblem("bulk_actions.json does not list the actions the determination ran")
