"""Korean names written in Han characters (Hanja) are read as Korean, against the real lists:
金正恩 is 김정은, KIM Jong Un, not only the pinyin Jin Zhengen."""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

import pytest
from django.core.management import call_command

from portal.eligibility.models import ScreeningState
from portal.screening.data import HANJA_HANGUL, LIST_DATA
from portal.screening.lists import list_version_load
from portal.screening.models import ListFormat, ScreeningMatch
from portal.screening.services import person_screen
from portal.screening.transliteration import (
    HANJA_PREFIX,
    MAX_HANJA_CHARACTERS,
    MAX_HANJA_SPELLINGS,
    hanja_spellings,
    hanja_table,
    initial_sound_rule,
    readings,
)
from tests.factories import PersonFactory
from tests.screening_helpers import THRESHOLD, listed_match


@pytest.mark.parametrize(
    ("name", "entity_id", "listed"),
    [
        pytest.param("金正恩", "20157", "KIM, Jong Un", id="kim-jong-un"),
        pytest.param("金與正", "21444", "KIM, Yo Jong", id="kim-yo-jong"),
        pytest.param("崔龍海", "23213", "CHOE, Ryong Hae", id="choe-ryong-hae-north"),
        pytest.param("李炳哲", "23215", "RI, Pyong Chol", id="ri-pyong-chol-surname-ri"),
        pytest.param("黃炳瑞", "19496", "HWANG, Pyong So", id="hwang-pyong-so"),
        pytest.param("朴永植", "19497", "PAK, Yong Sik", id="pak-yong-sik"),
        pytest.param("金 正恩", "20157", "KIM, Jong Un", id="written-apart"),
        pytest.param("金与正", "21444", "KIM, Yo Jong", id="simplified-characters"),
    ],
)
def test_a_listed_korean_name_written_in_hanja_is_found(screening_index, name, entity_id, listed):
    match = listed_match(screening_index, name)

    assert (match.entity_id, match.primary_name) == (entity_id, listed)
    assert match.evidence["reading"].startswith(HANJA_PREFIX)
    assert all(
        pair["how"].startswith("transliterated (hanja → hangul")
        for pair in match.evidence["aligned"]
    )


@pytest.mark.parametrize(
    ("name", "entity_id"),
    [
        pytest.param("김정은", "20157", id="hangul"),
        pytest.param("李方伟", "11447", id="chinese-pinyin"),
        pytest.param("Kim Jong Un", "20157", id="latin"),
    ],
)
def test_the_other_readings_still_find_their_entries(screening_index, name, entity_id):
    assert listed_match(screening_index, name).entity_id == entity_id


def test_a_chinese_name_keeps_its_chinese_reading_first():
    spelled = readings("李方伟")

    assert spelled[0].scheme == "pinyin"
    assert spelled[0].text == "li fang wei"
    assert {"i bang wi", "ri pang wi"} <= {
        r.text for r in spelled if r.scheme.startswith(HANJA_PREFIX)
    }


# Common Chinese names, none of them on the shipped lists in any reading.
@pytest.mark.parametrize("name", ["王秀兰", "李娜", "刘洋", "陈静", "王伟", "杨丽", "黄敏"])
def test_an_unlisted_chinese_name_stays_clear(screening_index, name):
    assert screening_index.search(name, threshold=THRESHOLD) == []


@pytest.fixture
def sdn(db):
    list_version_load(
        list_format=ListFormat.OFAC_SDN,
        path=LIST_DATA / "ofac-sdn.csv",
        alt_path=LIST_DATA / "ofac-alt.csv",
        actor=None,
    )


def test_a_person_whose_legal_name_is_written_in_hanja_is_held(sdn, compliance_officer):
    person = PersonFactory(legal_name="金正恩")

    person_screen(person=person, actor=compliance_officer)

    person.refresh_from_db()
    assert person.screening_state == ScreeningState.POTENTIAL_MATCH
    match = ScreeningMatch.objects.get(person=person, entry__entity_id="20157")
    assert "reading used: hanja → hangul, mccune-reischauer" in match.reasons


def test_the_screen_command_reports_kim_jong_un_written_in_hanja(sdn, capsys):
    call_command("screen", "金正恩")
    text = capsys.readouterr()
    call_command("screen", "金正恩", "--json")
    (first, *_) = json.loads(capsys.readouterr().out)

    assert "No match" not in text.out
    assert " SDN 20157  KIM, Jong Un" in text.out
    assert "reading used: hanja → hangul, mccune-reischauer" in text.out
    assert text.err == ""
    assert first["entity_id"] == "20157" and first["score"] == 1.0
    assert first["evidence"]["reading"] == "hanja → hangul, mccune-reischauer"
    assert [(p["screened"], p["listed"]) for p in first["evidence"]["aligned"]] == [
        ("kim", "kim"),
        ("jong", "jong"),
        ("un", "un"),
    ]


@pytest.mark.parametrize(
    ("name", "expected"),
    [
        pytest.param("金正恩", ["김정은"], id="surname-kim-not-geum"),
        pytest.param("李炳哲", ["이병철", "리병철"], id="surname-i-and-ri"),
        pytest.param("林東", ["임동", "림동"], id="surname-im-and-rim"),
        pytest.param("柳京", ["유경", "류경"], id="surname-yu-and-ryu"),
        pytest.param("羅英", ["나영", "라영"], id="surname-na-and-ra"),
        pytest.param("呂英", ["여영", "려영"], id="surname-yeo-and-ryeo"),
        pytest.param("崔龍海", ["최룡해", "최용해"], id="given-name-initial-sound-rule"),
        pytest.param("南宮民秀", ["남궁 민수"], id="two-syllable-surname"),
        pytest.param("金정은", ["김정은"], id="hanja-inside-hangul"),
        pytest.param("金·正恩", ["김 정은"], id="middle-dot-between-surname-and-given-name"),
    ],
)
def test_hanja_is_read_in_hangul_with_surnames_and_the_initial_sound_rule(name, expected):
    assert hanja_spellings(name) == expected


@pytest.mark.parametrize(
    ("written", "south"),
    [
        ("리", "이"),
        ("룡", "용"),
        ("로", "노"),
        ("라", "나"),
        ("녀", "여"),
        ("뉴", "유"),
        ("김", "김"),
        ("노", "노"),
    ],
)
def test_the_initial_sound_rule(written, south):
    assert initial_sound_rule(written) == south


def test_the_number_of_spellings_is_capped_and_deterministic():
    # Characters with two or three readings each: the product would be in the thousands.
    many = "".join(c for c, values in hanja_table().items() if len(values) >= 2)[
        :MAX_HANJA_CHARACTERS
    ]

    first = hanja_spellings(many)

    assert 1 < len(first) <= MAX_HANJA_SPELLINGS
    assert hanja_spellings(many) == first
    assert hanja_spellings(many + "金") == []  # longer than a person's name: Chinese readings only
    assert readings(many + "金")[0].scheme == "pinyin"


def test_a_character_without_a_korean_reading_gives_no_korean_spelling():
    assert hanja_spellings("金乸") == []  # a Cantonese character: no Korean reading
    assert hanja_table()["金"] == ("김", "금")


def test_the_table_is_the_shipped_file_with_its_licence_notice():
    header = HANJA_HANGUL.read_text(encoding="utf-8").split("\n", 20)[:20]

    assert any("Unicode 15.0.0" in line for line in header)
    assert any("Copyright (c) 1991-2022 Unicode, Inc." in line for line in header)
    assert len(hanja_table()) > 10_000


UNIHAN = Path("/usr/share/unicode/Unihan_Readings.txt.bz2")


@pytest.mark.skipif(not UNIHAN.exists(), reason="Debian's unicode-data is not installed")
def test_the_shipped_table_is_what_the_builder_makes_from_unihan(tmp_path):
    # Provenance: the committed file is exactly the builder's output from Unicode's own data.
    out = tmp_path / "hanja-hangul.tsv"
    builder = Path(__file__).resolve().parent.parent / "scripts" / "build_hanja_table.py"

    subprocess.run(
        [sys.executable, str(builder), "--unihan-dir", str(UNIHAN.parent), "--out", str(out)],
        check=True,
        capture_output=True,
    )

    assert out.read_bytes() == HANJA_HANGUL.read_bytes()


def test_the_norths_and_the_souths_whole_spellings_survive_the_cap():
    # given: a name whose many readings fill the cap before reaching the North's spelling
    spellings = hanja_spellings("李 樂 率")

    # then: Ri Rak Ryul (as written in the North) and I Nak Yul (the South) are both read
    assert "리 락 률" in spellings and "이 낙 율" in spellings
    assert len(spellings) <= MAX_HANJA_SPELLINGS + 2
