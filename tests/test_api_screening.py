"""Compliance works the screening queue through the API: list potential matches, confirm a
true match or dismiss a false positive with a suppression; nobody else sees the evidence."""

from __future__ import annotations

import pytest
from django.core.files.uploadedfile import SimpleUploadedFile

from foundation.audit.models import AuditEvent
from portal.eligibility.models import ScreeningState
from portal.screening.data import LIST_DATA
from portal.screening.models import (
    ListEntry,
    ListVersion,
    MatchStatus,
    ScreeningMatch,
    Suppression,
)
from tests.api_helpers import api_client_for, post_json
from tests.factories import PersonFactory
from tests.screening_helpers import malkevich_match

pytestmark = pytest.mark.django_db


@pytest.fixture
def match(tmp_path, monkeypatch, organisation) -> ScreeningMatch:
    return malkevich_match(tmp_path, monkeypatch, organisation)


def test_compliance_lists_pending_matches_with_their_evidence(match, compliance_officer):
    response = api_client_for(compliance_officer).get("/api/v1/screening-matches/")

    assert response.status_code == 200
    [row] = response.json()["results"]
    assert row["id"] == match.pk
    assert row["status"] == MatchStatus.PENDING
    assert row["person_name"] == "Alexander Malkevich"
    assert row["source_list"] and row["entity_id"] == "26235"
    assert row["screening_state"] == ScreeningState.POTENTIAL_MATCH


def test_the_queue_searches_and_lists_resolved_matches_by_status(match, compliance_officer):
    client = api_client_for(compliance_officer)

    assert client.get("/api/v1/screening-matches/?q=malkevich").json()["count"] == 1
    assert client.get("/api/v1/screening-matches/?q=nobody").json()["count"] == 0
    assert client.get("/api/v1/screening-matches/?status=dismissed").json()["count"] == 0
    bad = client.get("/api/v1/screening-matches/?status=maybe")
    assert bad.status_code == 400
    assert bad.json()["errors"][0]["field"] == "status"


def test_confirming_blocks_the_person_and_is_audited(match, compliance_officer):
    response = post_json(
        api_client_for(compliance_officer),
        f"/api/v1/screening-matches/{match.pk}/confirm/",
        {"reason": "Date of birth and nationality agree."},
    )

    assert response.status_code == 200
    assert response.json()["status"] == MatchStatus.CONFIRMED
    assert response.json()["resolved_by"] == "compliance"
    match.person.refresh_from_db()
    assert match.person.screening_state == ScreeningState.CONFIRMED_MATCH
    assert AuditEvent.objects.filter(action="screening.match_confirmed").exists()


def test_dismissing_suppresses_the_entry_for_this_person(match, compliance_officer):
    response = post_json(
        api_client_for(compliance_officer),
        f"/api/v1/screening-matches/{match.pk}/dismiss/",
        {"reason": "Different date of birth on the passport copy."},
    )

    assert response.status_code == 200
    assert response.json()["status"] == MatchStatus.DISMISSED
    assert Suppression.objects.filter(person=match.person).count() == 1
    match.person.refresh_from_db()
    assert match.person.screening_state == ScreeningState.FALSE_POSITIVE


def test_a_decision_needs_a_reason(match, compliance_officer):
    response = post_json(
        api_client_for(compliance_officer), f"/api/v1/screening-matches/{match.pk}/confirm/", {}
    )

    assert response.status_code == 400
    assert response.json()["errors"][0]["field"] == "reason"
    match.refresh_from_db()
    assert match.status == MatchStatus.PENDING


def test_a_resolved_match_cannot_be_decided_again(match, compliance_officer):
    client = api_client_for(compliance_officer)
    post_json(client, f"/api/v1/screening-matches/{match.pk}/dismiss/", {"reason": "Not him."})

    again = post_json(
        client, f"/api/v1/screening-matches/{match.pk}/confirm/", {"reason": "Is him."}
    )

    assert again.status_code == 409
    assert again["Content-Type"] == "application/problem+json"
    match.refresh_from_db()
    assert match.status == MatchStatus.DISMISSED


@pytest.mark.parametrize(
    "persona", ["partner_admin", "partner_member", "outsider", "reviewer", "ops_user"]
)
def test_nobody_but_compliance_and_auditors_sees_the_queue(request, persona, match):
    client = api_client_for(request.getfixturevalue(persona))

    assert client.get("/api/v1/screening-matches/").status_code == 403
    assert client.get(f"/api/v1/screening-matches/{match.pk}/").status_code == 403
    response = post_json(client, f"/api/v1/screening-matches/{match.pk}/dismiss/", {"reason": "x"})
    assert response.status_code == 403
    match.refresh_from_db()
    assert match.status == MatchStatus.PENDING


def test_an_auditor_reads_matches_but_cannot_decide(match, auditor):
    client = api_client_for(auditor)

    assert client.get(f"/api/v1/screening-matches/{match.pk}/").status_code == 200
    response = post_json(client, f"/api/v1/screening-matches/{match.pk}/dismiss/", {"reason": "x"})
    assert response.status_code == 403


# --- loading a list file and reading freshness -----------------------------------------------

LISTS = "/api/v1/screening-lists/"
FRESHNESS = "/api/v1/screening-lists/freshness/"


def _slice(name: str, lines: int) -> bytes:
    """The first ``lines`` lines of a shipped list file: real rows, and a fast load."""
    with (LIST_DATA / name).open("rb") as handle:
        return b"".join(handle.readline() for _ in range(lines))


def _upload(client, list_format: str, file: bytes, *, name="list.csv", alt: bytes | None = None):
    body = {"format": list_format, "file": SimpleUploadedFile(name, file, content_type="text/csv")}
    if alt is not None:
        body["alt"] = SimpleUploadedFile("alt.csv", alt, content_type="text/csv")
    return client.post(LISTS, body)


def test_compliance_loads_a_csl_file_as_the_version_in_force(compliance_officer):
    csl = (LIST_DATA / "csl-consolidated-sample.csv").read_bytes()

    response = _upload(api_client_for(compliance_officer), "csl", csl, name="csl-nightly.csv")

    assert response.status_code == 201, response.json()
    data = response.json()
    version = ListVersion.objects.get(is_current=True, list_format="csl")
    assert data["id"] == version.pk
    assert data["file_name"] == "csl-nightly.csv"
    assert data["entry_count"] == version.entry_count == ListEntry.objects.count() > 0
    assert data["loaded_by"] == compliance_officer.username
    assert data["skipped"] == []
    assert AuditEvent.objects.filter(action="screening.list_loaded").exists()


def test_an_ofac_sdn_file_loads_with_its_aliases(compliance_officer):
    sdn = _slice("ofac-sdn.csv", 40)
    wanted = {line.split(b",", 1)[0] for line in sdn.splitlines()}
    alt = b"".join(
        line
        for line in (LIST_DATA / "ofac-alt.csv").read_bytes().splitlines(keepends=True)
        if line.split(b",", 1)[0] in wanted
    )

    response = _upload(api_client_for(compliance_officer), "ofac-sdn", sdn, name="sdn.csv", alt=alt)

    assert response.status_code == 201, response.json()
    assert response.json()["entry_count"] == 40
    assert response.json()["alias_count"] > 0
    assert response.json()["alt_file_name"] == "alt.csv"


def test_bad_rows_are_skipped_and_reported_by_line(compliance_officer):
    sdn = _slice("ofac-sdn.csv", 3) + b'999,"BROKEN ROW"\n'

    response = _upload(api_client_for(compliance_officer), "ofac-sdn", sdn, name="sdn.csv")

    assert response.status_code == 201
    skipped = response.json()["skipped"]
    assert [(row["file"], row["line"]) for row in skipped] == [("sdn.csv", 4)]
    assert response.json()["skipped_count"] == 1
    assert response.json()["entry_count"] == 3


@pytest.mark.parametrize(
    ("list_format", "file", "message"),
    [
        ("csl", _slice("ofac-sdn.csv", 5), "not a Consolidated Screening List CSV"),
        ("ofac-sdn", _slice("csl-consolidated-sample.csv", 5), "rows should have 12 columns"),
        ("csl", b"%PDF-1.7\n%\xe2\xe3\n1 0 obj", "binary"),
    ],
)
def test_a_file_of_another_format_is_a_400_and_nothing_is_written(
    compliance_officer, list_format, file, message
):
    response = _upload(api_client_for(compliance_officer), list_format, file)

    assert response.status_code == 400
    assert response["Content-Type"] == "application/problem+json"
    assert message in response.json()["detail"]
    assert response.json()["errors"][0]["field"] == "file"
    assert not ListVersion.objects.exists()
    assert not AuditEvent.objects.filter(action="screening.list_loaded").exists()


@pytest.mark.parametrize(
    ("body", "field"),
    [
        ({"format": "xls"}, "format"),
        ({"format": "csl"}, "file"),
    ],
)
def test_a_bad_upload_is_a_400_naming_the_field(compliance_officer, body, field):
    response = api_client_for(compliance_officer).post(LISTS, body)

    assert response.status_code == 400
    assert field in [error["field"] for error in response.json()["errors"]]


def test_an_alias_file_is_only_for_ofac(compliance_officer):
    csl = (LIST_DATA / "csl-consolidated-sample.csv").read_bytes()

    response = _upload(api_client_for(compliance_officer), "csl", csl, alt=b'1,2,"aka","X",-0-\n')

    assert response.status_code == 400
    assert response.json()["errors"][0]["field"] == "alt"
    assert not ListVersion.objects.exists()


def test_a_retried_list_upload_under_the_same_key_loads_once(compliance_officer):
    csl = (LIST_DATA / "csl-consolidated-sample.csv").read_bytes()
    client = api_client_for(compliance_officer)

    first, retry = (
        client.post(
            LISTS,
            {"format": "csl", "file": SimpleUploadedFile("csl.csv", csl)},
            HTTP_IDEMPOTENCY_KEY="nightly-2026-11-27",
        )
        for _ in range(2)
    )

    assert first.status_code == retry.status_code == 201
    assert retry["Idempotent-Replayed"] == "true"
    assert retry.json() == first.json()
    assert ListVersion.objects.count() == 1


def test_a_list_file_over_the_size_limit_is_a_400_and_nothing_is_written(
    compliance_officer, settings
):
    settings.SCREENING_LIST_MAX_BYTES = 2048
    csl = (LIST_DATA / "csl-consolidated-sample.csv").read_bytes()
    assert len(csl) > 2048

    response = _upload(api_client_for(compliance_officer), "csl", csl)

    assert response.status_code == 400
    error = response.json()["errors"][0]
    assert error["field"] == "file"
    assert "SCREENING_LIST_MAX_BYTES" in error["message"]
    assert not ListVersion.objects.exists()


@pytest.mark.parametrize("persona", ["auditor", "ops_user", "partner_admin"])
def test_only_compliance_loads_lists(request, persona):
    csl = (LIST_DATA / "csl-consolidated-sample.csv").read_bytes()

    response = _upload(api_client_for(request.getfixturevalue(persona)), "csl", csl)

    assert response.status_code == 403
    assert not ListVersion.objects.exists()


def test_freshness_lists_stale_people_with_the_reason(auditor, match, organisation):
    never = PersonFactory(organisation=organisation, legal_name="Nora Never")

    response = api_client_for(auditor).get(FRESHNESS)

    assert response.status_code == 200
    data = response.json()
    rows = {row["id"]: row for row in data["results"]}
    assert rows[never.pk]["reason"] == "Never screened."
    assert rows[never.pk]["organisation"] == organisation.slug
    assert match.person_id not in rows  # screened after the list in force was loaded
    assert data["count"] == len(rows)
    assert [v["format"] for v in data["rule"]["current_versions"]] == ["ofac-sdn"]
    assert data["rule"]["max_age_days"] > 0


def test_freshness_searches_like_the_page(auditor, organisation):
    PersonFactory(organisation=organisation, legal_name="Nora Never")
    PersonFactory(organisation=organisation, legal_name="Otto Other")

    response = api_client_for(auditor).get(FRESHNESS, {"q": "nora"})

    assert [row["legal_name"] for row in response.json()["results"]] == ["Nora Never"]


@pytest.mark.parametrize("persona", ["ops_user", "partner_admin", "reviewer"])
def test_freshness_is_for_compliance_and_auditors(request, persona):
    response = api_client_for(request.getfixturevalue(persona)).get(FRESHNESS)

    assert response.status_code == 403
