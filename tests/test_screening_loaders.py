"""Screening lists load from their real published layouts; bad files change nothing."""

from __future__ import annotations

import csv
from pathlib import Path

import pytest
from django.core.management import call_command
from django.core.management.base import CommandError

from foundation.audit.models import AuditEvent
from portal.screening.data import LIST_DATA
from portal.screening.errors import ListFormatError
from portal.screening.lists import list_version_load
from portal.screening.models import EntryName, ListEntry, ListVersion, NameKind

pytestmark = pytest.mark.django_db(transaction=False)

DATA = LIST_DATA
CSL = DATA / "csl-consolidated-sample.csv"
SDN = DATA / "ofac-sdn.csv"
ALT = DATA / "ofac-alt.csv"


def _nothing_written() -> bool:
    return not (
        ListVersion.objects.exists() or ListEntry.objects.exists() or EntryName.objects.exists()
    )


@pytest.fixture(autouse=True)
def _no_broker(monkeypatch):
    # The re-screen a load enqueues is tested in the workflow module.
    monkeypatch.setattr("portal.screening.lists._enqueue_rescreen", lambda version_id: None)


def test_the_full_sdn_list_loads_every_entry_and_alias():
    # given: the counts, taken independently with the csv module
    with SDN.open(newline="", encoding="utf-8") as handle:
        entries = [row for row in csv.reader(handle) if row]
    with ALT.open(newline="", encoding="utf-8") as handle:
        aliases = [row for row in csv.reader(handle) if row]

    # when
    outcome = list_version_load(list_format="ofac-sdn", path=SDN, alt_path=ALT, actor=None)

    # then
    version = outcome.version
    assert version.entry_count == len(entries) == ListEntry.objects.count()
    assert version.alias_count == len(aliases)
    assert EntryName.objects.exclude(kind=NameKind.PRIMARY).count() == len(aliases)
    assert EntryName.objects.filter(kind=NameKind.PRIMARY).count() == len(entries)
    assert version.skipped_count == 0 and version.is_current
    assert len(version.sha256) == 64 and len(version.alt_sha256) == 64


def test_sdn_remarks_give_dates_of_birth_and_iso_citizenships():
    list_version_load(list_format="ofac-sdn", path=SDN, alt_path=ALT, actor=None)

    malkevich = ListEntry.objects.get(entity_id="26235")
    assert malkevich.entry_type == "individual"
    assert malkevich.primary_name == "MALKEVICH, Alexander Aleksandrovich"
    assert malkevich.dates_of_birth == ["1975-06-14"]
    assert malkevich.programs == ["CYBER2"]
    bank = ListEntry.objects.get(entity_id="306")
    assert bank.entry_type == "entity"
    assert list(bank.names.values_list("name", "kind")) == [
        ("BANCO NACIONAL DE CUBA", "primary"),
        ("NATIONAL BANK OF CUBA", "aka"),
    ]
    codes = [c for row in ListEntry.objects.values_list("citizenships", flat=True) for c in row]
    assert len(codes) > 1000
    assert all(len(code) == 2 and code.isupper() for code in codes)
    assert "KP" in codes and "RU" in codes  # "Korea, North" and "Russia" as the list spells them


def test_the_csl_sample_loads_by_header_names_with_every_alias():
    # given
    with CSL.open(newline="", encoding="utf-8") as handle:
        rows = list(csv.DictReader(handle))
    expected_aliases = sum(
        1
        for row in rows
        for alias in row["alt_names"].split("; ")
        if alias.strip() and not alias.startswith("and any")
    )

    # when
    version = list_version_load(list_format="csl", path=CSL, actor=None).version

    # then
    assert version.entry_count == len(rows) == ListEntry.objects.count()
    assert version.alias_count == expected_aliases
    rim = ListEntry.objects.get(entity_id="52291")
    assert (rim.source_list, rim.dates_of_birth, rim.citizenships) == (
        "SDN",
        ["1978-12-05"],
        ["KP"],
    )
    assert ListEntry.objects.get(entity_id="9673").dates_of_birth == ["1955"]


def test_an_older_csl_export_without_the_id_column_loads_too(tmp_path):
    # given: the same rows without "_id", columns in another order
    with CSL.open(newline="", encoding="utf-8") as handle:
        rows = list(csv.DictReader(handle))
    older = tmp_path / "csl-old.csv"
    columns = ["name", "source", "entity_number", "type", "alt_names", "dates_of_birth"]
    with older.open("w", newline="", encoding="utf-8") as handle:
        writer = csv.DictWriter(handle, fieldnames=columns, extrasaction="ignore")
        writer.writeheader()
        writer.writerows(rows)

    # when
    version = list_version_load(list_format="csl", path=older, actor=None).version

    # then
    assert version.entry_count == len(rows)
    assert ListEntry.objects.filter(primary_name="I. ASH", source_list="DPL").exists()


def test_a_new_load_becomes_the_version_in_force_for_its_format():
    first = list_version_load(list_format="csl", path=CSL, actor=None).version
    second = list_version_load(list_format="csl", path=CSL, actor=None).version

    first.refresh_from_db()
    assert not first.is_current and second.is_current
    assert ListEntry.objects.filter(version=second).count() == second.entry_count
    # The same entry reads the same in both versions: suppressions can follow it.
    assert set(first.entries.values_list("content_hash", flat=True)) == set(
        second.entries.values_list("content_hash", flat=True)
    )


def test_malformed_rows_are_skipped_and_reported_with_their_line_numbers(tmp_path, capsys):
    # given: a truncated row on line 3 and an alias of an unknown entry on line 2
    sdn = tmp_path / "sdn.csv"
    lines = SDN.read_text(encoding="utf-8").splitlines()[:4]
    lines[2] = '173,"ANGLO-CARIBBEAN CO., LTD.",-0- '
    sdn.write_text("\n".join(lines) + "\n", encoding="utf-8")
    alt = tmp_path / "alt.csv"
    alt.write_text('36,12,"aka","AERO-CARIBBEAN",-0- \n99999,1,"aka","NOBODY",-0- \n')

    # when
    call_command("load_screening_list", "--format", "ofac-sdn", str(sdn), "--alt", str(alt))

    # then
    captured = capsys.readouterr()
    assert "sdn.csv line 3: has 3 fields instead of 12" in captured.err
    assert "alt.csv line 2: is an alias of unknown ent_num '99999'" in captured.err
    assert "3 entries, 1 aliases, 2 rows skipped" in captured.out
    version = ListVersion.objects.get()
    assert version.skipped_count == 2
    event = AuditEvent.objects.get(action="screening.list_loaded")
    assert event.actor is None and event.after["skipped_count"] == 2


def test_the_load_is_audited_with_the_named_actor(compliance_officer):
    call_command("load_screening_list", "--format", "csl", str(CSL), "--actor", "compliance")

    event = AuditEvent.objects.get(action="screening.list_loaded")
    assert event.actor == compliance_officer
    assert event.after["entries"] == ListVersion.objects.get().entry_count


@pytest.mark.parametrize(
    ("list_format", "content", "message"),
    [
        pytest.param("csl", SDN, "not a Consolidated Screening List CSV", id="sdn-as-csl"),
        pytest.param("ofac-sdn", CSL, "rows should have 12 columns", id="csl-as-sdn"),
        pytest.param("ofac-sdn", b"\x89PNG\r\n\x1a\n\x00\x00junk", "binary", id="binary-junk"),
        pytest.param("csl", b"%PDF-1.7\n%\xe2\xe3\n1 0 obj", "binary", id="pdf"),
        pytest.param("csl", b"", "empty", id="empty"),
    ],
)
def test_a_file_of_another_format_is_refused_and_nothing_is_written(
    tmp_path, list_format, content, message
):
    # given
    path = tmp_path / "list.csv"
    path.write_bytes(content.read_bytes() if isinstance(content, Path) else content)

    # when
    with pytest.raises(ListFormatError, match=message):
        list_version_load(list_format=list_format, path=path, actor=None)

    # then
    assert _nothing_written()
    assert not AuditEvent.objects.filter(action="screening.list_loaded").exists()


def test_a_csl_file_without_its_header_row_is_refused(tmp_path):
    headerless = tmp_path / "csl.csv"
    headerless.write_text(
        "".join(CSL.read_text(encoding="utf-8").splitlines(keepends=True)[1:]), encoding="utf-8"
    )

    with pytest.raises(CommandError, match=r"Refused: .* not a Consolidated Screening List"):
        call_command("load_screening_list", "--format", "csl", str(headerless))

    assert _nothing_written()


def test_an_alias_file_of_the_wrong_layout_refuses_the_whole_load(tmp_path):
    with pytest.raises(ListFormatError, match="alias"):
        list_version_load(list_format="ofac-sdn", path=SDN, alt_path=CSL, actor=None)

    assert _nothing_written()


def test_a_file_with_control_characters_is_refused(tmp_path):
    junk = tmp_path / "junk.csv"
    junk.write_bytes(b"36,\x01\x02\x03,\x04\n" * 20)

    with pytest.raises(ListFormatError, match="control characters"):
        list_version_load(list_format="ofac-sdn", path=junk, actor=None)

    assert _nothing_written()
