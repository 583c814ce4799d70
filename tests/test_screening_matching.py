"""Matching finds listed people under the spellings they use, and leaves other people alone."""

from __future__ import annotations

import datetime as dt
import json

import pytest
from django.core.management import call_command

from portal.screening.data import LIST_DATA
from portal.screening.lists import list_version_load
from portal.screening.normalise import forms, normalised
from tests.screening_helpers import THRESHOLD, listed_match, top_match

DATA = LIST_DATA


@pytest.mark.parametrize(
    ("name", "entity_id"),
    [
        pytest.param("Elena Alekseevna Khusyaynova", "26233", id="listed-order-swapped"),
        pytest.param("KHUSYAYNOVA, Elena", "26233", id="last-comma-first"),
        pytest.param("Elena Khusyaynova", "26233", id="missing-patronymic"),
        pytest.param("Alexander Malkevich", "26235", id="missing-middle-name"),
        pytest.param("Ms. Élena Khusyaynová", "26233", id="diacritics-and-honorific"),
        pytest.param("Félicidad Sieiro de Noriega", "1910", id="spanish-diacritics-particle"),
        pytest.param("Елена Хусяйнова", "26233", id="cyrillic"),
        pytest.param("Александр Малькевич", "26235", id="cyrillic-other-transliteration"),
        pytest.param("Владислав Леонтьев", "13086", id="cyrillic-soft-sign"),
        pytest.param("Alexander Aleksandrovitch Malkevih", "26235", id="two-typos"),
        pytest.param("Elena Khusyainova", "26233", id="one-typo"),
        pytest.param("Ahmad Ibrahim Almughassil", "6918", id="merged-particle"),
        pytest.param("Ahmad Ibrahim Mughassil", "6918", id="dropped-particle"),
        pytest.param("Ahmad Ibrahim Al-Mughassil", "6918", id="hyphenated-particle"),
        pytest.param("National Bank of Cuba", "306", id="alias"),
        pytest.param("Ryong Nam Rim", "52291", id="csl-entry"),
        pytest.param("Evren Kayak\u0131ran", "26182", id="csl-dotless-i"),
    ],
)
def test_variants_of_a_listed_name_are_found(screening_index, name, entity_id):
    assert listed_match(screening_index, name).entity_id == entity_id


def test_each_result_names_the_entry_the_alias_that_matched_and_the_score(screening_index):
    (match, *_) = screening_index.search("National Bank of Cuba", threshold=THRESHOLD)

    assert (match.source_list, match.entity_id, match.primary_name) == (
        "SDN",
        "306",
        "BANCO NACIONAL DE CUBA",
    )
    assert (match.matched_alias, match.alias_kind) == ("NATIONAL BANK OF CUBA", "aka")
    assert 0.95 <= match.score <= 1
    assert match.reasons


@pytest.mark.parametrize(
    "name",
    [
        pytest.param("Elena Malkevich", id="first-and-last-of-two-entries"),
        pytest.param("Alexander Khusyaynova", id="swapped-first-names"),
        pytest.param("Vladislav Khristoforov", id="first-name-of-a-neighbour"),
        pytest.param("Doku Leontyev", id="two-russian-entries"),
        pytest.param("Felicidad Herrera", id="two-colombian-entries"),
        pytest.param("John Smith", id="common-name"),
        pytest.param("Li Wei", id="short-tokens-of-an-entity-alias"),
    ],
)
def test_names_made_of_real_list_tokens_that_name_nobody_are_not_hits(screening_index, name):
    assert top_match(screening_index, name) is None


def test_a_matching_date_of_birth_raises_the_score_and_a_different_one_lowers_it(screening_index):
    plain = listed_match(screening_index, "Alexander Malkevich")
    same = listed_match(screening_index, "Alexander Malkevich", date_of_birth=dt.date(1975, 6, 14))
    other = screening_index.search("Alexander Malkevich", date_of_birth=dt.date(1990, 1, 1))

    assert same.score > plain.score
    (listed,) = [m for m in other if m.entity_id == "26235"]
    assert listed.score < plain.score - 0.1
    assert any("differs from the listed 1975-06-14" in reason for reason in listed.reasons)


def test_citizenship_raises_or_lowers_confidence(screening_index):
    same = screening_index.search("Ahmad Ibrahim Mughassil", countries=["SA"])
    other = screening_index.search("Ahmad Ibrahim Mughassil", countries=["NO"])

    score = {m.entity_id: m.score for m in same}["6918"]
    assert score > {m.entity_id: m.score for m in other}["6918"]


def test_blocking_aligns_only_a_handful_of_the_names(screening_index):
    screening_index.search("Elena Khusyaynova", threshold=THRESHOLD)

    assert len(screening_index.form_name) > 20_000
    assert 0 < screening_index.last_scored < 50


def test_normalisation_folds_case_diacritics_punctuation_order_and_honorifics():
    assert normalised("Dr. JOSÉ  d'Ávila-Pérez, Jr.") == "jose davila-perez"
    assert normalised("KHUSYAYNOVA, Elena Alekseevna") == "elena alekseevna khusyaynova"
    assert forms("Abd al-Rahman van der Berg") == [
        ("abd", "rahman", "berg"),
        ("abdalrahman", "vanderberg"),
    ]


@pytest.mark.django_db
def test_the_screen_command_prints_ranked_matches_as_json(capsys, monkeypatch):
    # given
    monkeypatch.setattr("portal.screening.lists._enqueue_rescreen", lambda version_id: None)
    list_version_load(list_format="csl", path=DATA / "csl-consolidated-sample.csv", actor=None)

    # when
    call_command("screen", "RIM, Ryong Nam", "--dob", "1978-12-05", "--country", "KP", "--json")

    # then
    (match, *_) = json.loads(capsys.readouterr().out)
    assert match["name"] == "RIM, Ryong Nam"
    assert match["matched_alias"] == "RIM, Ryong Nam"
    assert match["source"] == "SDN" and match["entity_id"] == "52291"
    assert match["score"] == 1.0


@pytest.mark.django_db
def test_the_screen_command_says_so_when_nothing_matches(capsys, monkeypatch):
    monkeypatch.setattr("portal.screening.lists._enqueue_rescreen", lambda version_id: None)
    list_version_load(list_format="csl", path=DATA / "csl-consolidated-sample.csv", actor=None)

    call_command("screen", "Jane Doe")

    assert "No match at or above 0.85" in capsys.readouterr().out
