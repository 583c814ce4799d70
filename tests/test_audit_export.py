"""Streamed CSV and JSON Lines exports of the audit trail, and their offline verification."""

from __future__ import annotations

import csv
import io
import json
import tracemalloc

import pytest
from django.core.management import call_command
from django.core.management.base import CommandError
from django.http import StreamingHttpResponse
from django.urls import reverse
from django.utils import timezone

from foundation.audit.chain import verify_chain
from foundation.audit.export import EXPORT_FIELDS, csv_escape, csv_unescape
from foundation.audit.export_verify import verify_export, verify_rows
from foundation.audit.models import AuditEvent
from foundation.audit.services import audit_record
from tests.api_helpers import api_client_for
from tests.conftest import client_for

pytestmark = pytest.mark.django_db

CSV_URL = reverse("audit:export_csv")
JSONL_URL = reverse("audit:export_jsonl")


def _events(n: int, **fields) -> list[AuditEvent]:
    fields.setdefault("action", "test.event")
    return [
        audit_record(
            actor=None,
            reason=f"event {i}",
            before={"n": i, "nested": {"ok": True}},
            after={"n": i + 1, "nested": {"ok": i % 2 == 0}},
            **fields,
        )
        for i in range(n)
    ]


def _body(response) -> str:
    return b"".join(response.streaming_content).decode()


def _jsonl_rows(response) -> list[dict]:
    return [json.loads(line) for line in _body(response).splitlines()]


def _write(tmp_path, name: str, text: str):
    path = tmp_path / name
    path.write_text(text, encoding="utf-8")
    return path


# --- who may export ----------------------------------------------------------------


@pytest.mark.parametrize("url", [CSV_URL, JSONL_URL])
def test_anonymous_is_sent_to_sign_in(client, url):
    response = client.get(url)

    assert response.status_code == 302
    assert reverse("account_login") in response["Location"]


@pytest.mark.parametrize("persona", ["outsider", "partner_admin", "reviewer"])
@pytest.mark.parametrize("url", [CSV_URL, JSONL_URL])
def test_people_without_audit_access_cannot_export(request, persona, url):
    response = client_for(request.getfixturevalue(persona)).get(url)

    assert response.status_code == 403
    assert not AuditEvent.objects.filter(action="audit.exported").exists()


@pytest.mark.parametrize("persona", ["compliance_officer", "auditor", "ops_user"])
@pytest.mark.parametrize("url", [CSV_URL, JSONL_URL])
def test_compliance_auditors_and_ops_can_export(request, persona, url):
    _events(2)

    response = client_for(request.getfixturevalue(persona)).get(url)

    assert response.status_code == 200
    assert "event 1" in _body(response)


def test_staff_without_mfa_are_sent_to_set_it_up(staff_without_mfa):
    response = client_for(staff_without_mfa).get(JSONL_URL)

    assert response.status_code == 302
    assert response["Location"] == reverse("mfa_index")


# --- what an export holds ---------------------------------------------------------


def test_an_export_streams_every_matching_event_with_its_hashes(auditor):
    # given
    events = _events(5)

    # when
    response = client_for(auditor).get(JSONL_URL)

    # then
    assert isinstance(response, StreamingHttpResponse)
    assert response["Content-Type"].startswith("application/x-ndjson")
    assert 'filename="audit-' in response["Content-Disposition"]
    rows = _jsonl_rows(response)
    assert [row["id"] for row in rows] == [e.pk for e in events]
    assert all(set(row) == set(EXPORT_FIELDS) for row in rows)
    assert [(row["prev_hash"], row["hash"]) for row in rows] == [
        (e.prev_hash, e.hash) for e in events
    ]
    assert rows[0]["before"] == {"n": 0, "nested": {"ok": True}}


def test_the_csv_export_has_a_header_and_the_hashes(auditor):
    events = _events(3)

    response = client_for(auditor).get(CSV_URL)

    assert isinstance(response, StreamingHttpResponse)
    assert response["Content-Type"].startswith("text/csv")
    rows = list(csv.DictReader(io.StringIO(_body(response))))
    assert [int(row["id"]) for row in rows] == [e.pk for e in events]
    assert [row["hash"] for row in rows] == [e.hash for e in events]
    assert json.loads(rows[2]["after"]) == {"n": 3, "nested": {"ok": True}}


def test_an_export_applies_the_explorer_filters(auditor, organisation, other_organisation):
    ours = _events(2, organisation_id=organisation.pk)
    _events(2, organisation_id=other_organisation.pk)

    response = client_for(auditor).get(JSONL_URL, {"organisation": "northwind"})

    assert [row["id"] for row in _jsonl_rows(response)] == [e.pk for e in ours]


def test_exporting_is_itself_audited_with_the_filters(auditor, organisation):
    # given
    _events(2)

    # when
    response = client_for(auditor).get(
        CSV_URL, {"organisation": "northwind", "q": "breach", "date_from": "2026-01-01"}
    )

    # then
    record = AuditEvent.objects.get(action="audit.exported")
    assert record.actor == auditor
    assert record.after == {
        "format": "csv",
        "filters": {"organisation": "northwind", "q": "breach", "date_from": "2026-01-01"},
    }
    assert response["X-Audit-Export-Event"] == str(record.pk)
    assert verify_chain().ok


def test_an_export_covers_the_events_before_its_own_record(auditor):
    events = _events(2)

    rows = _jsonl_rows(client_for(auditor).get(JSONL_URL))
    record = AuditEvent.objects.get(action="audit.exported")

    assert [row["id"] for row in rows] == [e.pk for e in events]
    assert record.pk > events[-1].pk


def test_invalid_filters_refuse_the_export_with_a_message_and_record_nothing(auditor):
    response = client_for(auditor).get(CSV_URL, {"organisation": "nobody"})

    assert response.status_code == 400
    assert "No organisation has the slug “nobody”" in response.content.decode()
    assert not AuditEvent.objects.filter(action="audit.exported").exists()


# --- formula injection -------------------------------------------------------------


def test_csv_cells_that_a_spreadsheet_would_run_are_escaped(auditor):
    # given
    audit_record(
        actor=None,
        action="test.event",
        object_type="test",
        object_id="-1",
        reason='=HYPERLINK("http://evil.example","click")',
        after={"note": "+1"},
    )
    audit_record(actor=None, action="@SUM(A1:A9)", reason="-2+3")
    audit_record(actor=None, action="test.event", reason="'quoted already")

    # when
    rows = list(csv.DictReader(io.StringIO(_body(client_for(auditor).get(CSV_URL)))))

    # then
    assert rows[0]["reason"] == '\'=HYPERLINK("http://evil.example","click")'
    assert rows[0]["object_id"] == "'-1"
    assert rows[1]["action"] == "'@SUM(A1:A9)"
    assert rows[1]["reason"] == "'-2+3"
    assert rows[2]["reason"] == "''quoted already"
    dangerous = ("=", "+", "-", "@")
    assert not any(cell.startswith(dangerous) for row in rows for cell in row.values())


def test_the_escape_is_reversible():
    for cell in ["=1+1", "+x", "-x", "@x", "'x", "plain", "", "\tx"]:
        assert csv_unescape(csv_escape(cell)) == cell


def test_an_escaped_csv_export_still_verifies(auditor, tmp_path):
    audit_record(actor=None, action="test.event", reason="=cmd|' /C calc'!A0")
    audit_record(actor=None, action="test.event", reason="plain", after={"x": "-1"})

    path = _write(tmp_path, "audit.csv", _body(client_for(auditor).get(CSV_URL)))

    report = verify_export(path)
    assert report.ok, report.problems
    assert report.rows == 2


# --- offline verification ----------------------------------------------------------


def test_a_clean_export_verifies_offline(auditor, tmp_path, capsys):
    # given
    events = _events(6)
    path = _write(tmp_path, "audit.jsonl", _body(client_for(auditor).get(JSONL_URL)))

    # when
    report = verify_export(path, contiguous=True)
    call_command("verify_audit_export", str(path), "--contiguous")

    # then
    assert report.ok
    assert report.rows == 6
    assert report.links_checked == 5
    assert report.last_hash == events[-1].hash
    assert "6 row(s), 5 link(s) checked" in capsys.readouterr().out


def test_a_tampered_line_fails_verification(auditor, tmp_path):
    # given
    events = _events(4)
    lines = _body(client_for(auditor).get(JSONL_URL)).splitlines()
    row = json.loads(lines[2])
    row["reason"] = "nothing to see here"
    lines[2] = json.dumps(row)
    path = _write(tmp_path, "audit.jsonl", "\n".join(lines) + "\n")

    # when
    report = verify_export(path)

    # then
    assert not report.ok
    assert [(p.event_id, p.problem) for p in report.problems] == [
        (events[2].pk, "its content does not match its hash (edited)")
    ]
    with pytest.raises(CommandError, match="does not verify"):
        call_command("verify_audit_export", str(path))


def test_a_rehashed_tampered_line_breaks_the_next_link(auditor, tmp_path):
    # given: the forger recomputes the edited row's own hash
    events = _events(3)
    rows = _jsonl_rows(client_for(auditor).get(JSONL_URL))
    forged = AuditEvent(**{k: v for k, v in rows[1].items() if k not in ("id", "hash")})
    forged.created_at = timezone.datetime.fromisoformat(rows[1]["created_at"])
    forged.reason = "forged"
    from foundation.audit.chain import event_hash

    rows[1] = {**rows[1], "reason": "forged", "hash": event_hash(forged)}

    # when
    report = verify_rows(rows)

    # then
    assert [p.event_id for p in report.problems] == [events[2].pk]
    assert "link" in report.problems[0].problem


def test_a_removed_line_is_caught_in_an_unfiltered_export(auditor, tmp_path):
    events = _events(4)
    lines = _body(client_for(auditor).get(JSONL_URL)).splitlines()
    del lines[1]
    path = _write(tmp_path, "audit.jsonl", "\n".join(lines) + "\n")

    report = verify_export(path, contiguous=True)

    assert [p.event_id for p in report.problems] == [events[2].pk]


def test_a_filtered_export_with_gaps_verifies_each_row_and_reports_the_gaps(
    auditor, organisation, tmp_path
):
    # given: every other event belongs to the organisation
    ours = []
    for i in range(6):
        event = audit_record(
            actor=None, action="test.event", organisation_id=organisation.pk if i % 2 else None
        )
        if i % 2:
            ours.append(event)
    response = client_for(auditor).get(JSONL_URL, {"organisation": "northwind"})
    path = _write(tmp_path, "audit.jsonl", _body(response))

    # when
    report = verify_export(path)

    # then
    assert report.ok
    assert report.rows == 3
    assert report.links_checked == 0
    assert report.gaps == [(ours[0].pk, ours[1].pk), (ours[1].pk, ours[2].pk)]


def test_garbage_is_reported_not_crashed_on(tmp_path):
    path = _write(tmp_path, "audit.jsonl", 'not json\n{"id": 1}\n')

    report = verify_export(path)

    assert not report.ok
    assert len(report.problems) == 2


def test_the_command_refuses_a_missing_or_empty_file(tmp_path):
    with pytest.raises(CommandError, match="No file"):
        call_command("verify_audit_export", str(tmp_path / "missing.jsonl"))
    with pytest.raises(CommandError, match="no audit events"):
        call_command("verify_audit_export", str(_write(tmp_path, "empty.jsonl", "")))


# --- memory ------------------------------------------------------------------------


def _bulk_events(start: int, count: int) -> None:
    # Benchmark-style rows: the chain does not matter for memory, only the volume.
    now = timezone.now()
    AuditEvent.objects.bulk_create(
        (
            AuditEvent(
                created_at=now,
                actor_label="bulk",
                action="test.bulk",
                reason="x" * 200,
                after={"i": i, "padding": "y" * 100},
                prev_hash=f"{i:064x}",
                hash=f"{i + 1:064x}",
            )
            for i in range(start, start + count)
        ),
        batch_size=2000,
    )


def _streamed_peak(client) -> tuple[int, int]:
    """Bytes sent and the peak memory held while a WSGI server would send them."""
    response = client.get(JSONL_URL)
    tracemalloc.start()
    try:
        # Consuming the whole body closes the response, as the server would.
        total = sum(len(chunk) for chunk in response.streaming_content)
        _, peak = tracemalloc.get_traced_memory()
    finally:
        tracemalloc.stop()
    return total, peak


def test_a_large_export_streams_in_flat_memory(auditor):
    # given
    client = client_for(auditor)
    _bulk_events(0, 2_000)
    small_total, small_peak = _streamed_peak(client)

    # when: four times the rows
    _bulk_events(2_000, 6_000)
    large_total, large_peak = _streamed_peak(client)

    # then: memory does not grow with the export, which is far larger than what is held
    assert large_total > 3.9 * small_total
    assert large_peak < small_peak * 1.5
    assert large_peak < large_total / 2


# --- the same export through the API -----------------------------------------------------

API_EXPORT = "/api/v1/audit-events/export/"


def test_the_api_streams_the_jsonl_export_with_the_explorer_filters(
    auditor, organisation, other_organisation
):
    client = api_client_for(auditor)
    ours = _events(2, organisation_id=organisation.pk)
    _events(2, organisation_id=other_organisation.pk)

    response = client.get(API_EXPORT, {"format": "jsonl", "organisation": organisation.slug})

    assert isinstance(response, StreamingHttpResponse)
    assert response["Content-Type"].startswith("application/x-ndjson")
    rows = _jsonl_rows(response)
    assert [row["id"] for row in rows] == [e.pk for e in ours]
    assert [row["hash"] for row in rows] == [e.hash for e in ours]
    record = AuditEvent.objects.get(action="audit.exported")
    assert response["X-Audit-Export-Event"] == str(record.pk)
    assert record.after["filters"] == {"organisation": organisation.slug}


def test_the_api_export_is_csv_by_default_and_verifies_offline(auditor, tmp_path):
    client = api_client_for(auditor)
    events = _events(3)

    response = client.get(API_EXPORT, {"action": "test.event"})

    assert response["Content-Type"].startswith("text/csv")
    body = _body(response)
    rows = list(csv.DictReader(io.StringIO(body)))
    assert [int(row["id"]) for row in rows] == [e.pk for e in events]
    assert verify_export(_write(tmp_path, "audit.csv", body)).ok


@pytest.mark.parametrize(
    ("params", "field"),
    [
        ({"organisation": "nobody"}, "organisation"),
        ({"date_from": "2026-02-01", "date_to": "2026-01-01"}, "date_to"),
        ({"format": "xlsx"}, "format"),
    ],
)
def test_bad_api_export_parameters_are_a_400_problem_and_record_nothing(auditor, params, field):
    response = api_client_for(auditor).get(API_EXPORT, params)

    assert response.status_code == 400
    assert response["Content-Type"] == "application/problem+json"
    assert field in [error["field"] for error in response.json()["errors"]]
    assert not AuditEvent.objects.filter(action="audit.exported").exists()


@pytest.mark.parametrize("persona", ["outsider", "partner_admin", "reviewer"])
def test_the_api_export_is_for_audit_readers_only(request, persona):
    response = api_client_for(request.getfixturevalue(persona)).get(API_EXPORT)

    assert response.status_code == 403
    assert not AuditEvent.objects.filter(action="audit.exported").exists()
