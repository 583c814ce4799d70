# ruff: noqa: RUF001 -- names in other scripts are the point of these tests.
"""Screening reads every script, compares legal forms, vessels and identifiers, ranks
deterministically, shows its evidence, and never clears a name it cannot read."""

from __future__ import annotations

import datetime as dt
import json

import pytest
from django.core.management import call_command
from django.urls import reverse

from portal.eligibility.models import ScreeningState
from portal.screening.data import LIST_DATA
from portal.screening.lists import list_version_load
from portal.screening.matching import Match, rank_key
from portal.screening.models import ListFormat, ScreeningMatch
from portal.screening.normalise import (
    CANNOT_SCREEN,
    consonant_key,
    long_vowels_agree,
    name_forms,
    unscreenable_reason,
)
from portal.screening.services import person_screen
from portal.screening.transliteration import readings
from tests.api_helpers import api_client_for
from tests.conftest import client_for
from tests.factories import PersonFactory
from tests.screening_helpers import THRESHOLD, listed_match, top_match


@pytest.mark.parametrize(
    ("name", "entity_id"),
    [
        pytest.param("Елена Хусяйнова", "26233", id="cyrillic"),
        pytest.param("Ελένα Χουσιάινοβα", "26233", id="greek"),
        pytest.param("حسن نصرالله", "2686", id="arabic"),
        pytest.param("أيمن الظواهري", "2676", id="arabic-article-and-zah"),
        pytest.param("رستم قاسمی", "11786", id="persian"),
        pytest.param("חסן נסראללה", "2686", id="hebrew"),
        pytest.param("李方伟", "11447", id="han-pinyin"),
        pytest.param("김정은", "20157", id="hangul-mccune-reischauer"),
        pytest.param("दाऊद इब्राहिम कासकर", "9758", id="devanagari"),
        pytest.param("Kím Jǒng Ün", "20157", id="latin-diacritics"),
    ],
)
def test_a_listed_name_written_in_another_script_is_found(screening_index, name, entity_id):
    match = listed_match(screening_index, name)

    assert match.entity_id == entity_id
    assert match.evidence["reading"]
    assert match.evidence["aligned"]


@pytest.mark.parametrize(
    ("name", "entity_id"),
    [
        pytest.param("חליד שייח מוהמד", "6928", id="hebrew-het-as-kh"),
        pytest.param("ג'והן נומבי", "20420", id="hebrew-geresh-j"),
        pytest.param("מונייר צ'וקה", "13058", id="hebrew-geresh-ch"),
        pytest.param("مونير تشوكا", "13058", id="arabic-ta-shin-as-ch"),
        pytest.param("قاسم سليماني", "10481", id="arabic-long-vowels-written"),
        pytest.param("Αμαντ Αμνταν", "21905", id="greek-without-h-short-names"),
    ],
)
def test_letters_each_script_spells_foreign_sounds_with_are_read(screening_index, name, entity_id):
    assert listed_match(screening_index, name).entity_id == entity_id


@pytest.mark.parametrize(
    "name",
    [
        pytest.param("שלום כהן", id="shalom-cohen-is-not-kony-salim"),
        pytest.param("אהרון כהן", id="aharon-cohen"),
        pytest.param("אליהו שלום", id="eliyahu-shalom-is-not-ali-salem"),
        pytest.param("משה כהן", id="moshe-cohen"),
        pytest.param("משה דהן", id="moshe-dahan"),
        pytest.param("אפרים קישון", id="ephraim-kishon-is-not-al-qasiun-firm"),
        pytest.param("אסתר חזן", id="esther-hazan-is-not-zuaytir-husayn"),
    ],
)
def test_common_hebrew_names_are_not_hits_on_a_bare_consonant_skeleton(screening_index, name):
    assert top_match(screening_index, name) is None


def test_hebrew_he_after_a_letter_stays_a_consonant():
    # כהן is k-h-n like Cohen, not k-n like Kony; the h of Eliyahu is no final vowel.
    assert consonant_key(readings("כהן")[0].text) == consonant_key("cohen") == "khn"
    assert consonant_key(readings("אליהו")[0].text) == consonant_key("eliyahu") == "alh"
    assert consonant_key(readings("יהודה")[0].text) == consonant_key("yehuda") == "hd"


@pytest.mark.parametrize(
    ("written", "listed", "agree"),
    [
        ("سليم", "salim", True),
        ("سليم", "salma", False),
        ("سلمى", "salma", True),
        ("سلمى", "salim", False),
        ("ليلى", "layla", True),
        ("ليلى", "leo", False),
        ("جواد", "javad", True),
        ("محمد", "mohammed", True),
        ("فاطمة", "fatima", True),
    ],
)
def test_an_arabic_long_vowel_must_be_a_vowel_in_the_list_spelling(written, listed, agree):
    reading = readings(written)[0]

    assert reading.long_vowels
    assert long_vowels_agree(reading.text, listed) is agree


def test_a_misspelt_title_before_a_name_is_dropped_not_weighed(screening_index):
    match = listed_match(screening_index, "Colnoel Zoran Marinic")

    assert match.entity_id == "7730"
    assert name_forms("Generali Zoran")[0].tokens == ("generali", "zoran")


def test_accents_are_stripped_before_the_script_is_read():
    assert readings("Κώστας Παπαδόπουλος")[0].text == "kostas papadopoulos"


@pytest.mark.parametrize(
    ("name", "expected"),
    [
        ("李方伟", {"li fangwei", "li fang wei"}),
        ("习近平", {"hsi chinping", "xi jinping"}),
        ("김정은", {"kim jong un", "gim jeong eun"}),
    ],
)
def test_han_and_hangul_get_the_romanisations_the_lists_use(name, expected):
    spelled = {r.text.lower() for r in readings(name)}

    assert expected <= spelled


@pytest.mark.parametrize(
    "name",
    ["Ნინო ბერიძე", "Արամ Պետրոսյան", "สมชาย ใจดี", "やまだ たろう", "Μαρία"],
    ids=["georgian", "armenian", "thai", "kana", "greek-one-word"],
)
def test_every_script_yields_a_comparable_name(name):
    assert unscreenable_reason(name) is None
    assert any(form.tokens for form in name_forms(name))


@pytest.mark.parametrize(
    ("name", "entity_id"),
    [
        pytest.param("ACCIRENT SA", "8731", id="s.a.-as-sa"),
        pytest.param("OOO NEVSKIY NEWS", "26230", id="ooo-for-llc"),
        pytest.param("DENA TANKERS FREE ZONE ESTABLISHMENT", "15145", id="fze-spelled-out"),
        pytest.param("Nevskiy News Limited Liability Company", "26230", id="llc-spelled-out"),
    ],
)
def test_legal_forms_are_compared_as_a_class(screening_index, name, entity_id):
    match = listed_match(screening_index, name)

    assert match.entity_id == entity_id
    assert any(pair["how"] == "legal form" for pair in match.evidence["aligned"])


def test_a_legal_form_is_not_a_name_word():
    (form,) = [f for f in name_forms("NEVSKIY NEWS LLC") if len(f.tokens) == 2]

    assert form.tokens == ("nevskiy", "news")
    assert form.legal_forms == {"limited"}


@pytest.mark.parametrize(
    ("name", "entity_id"),
    [
        pytest.param("MV Behshad", "25371", id="mv-prefix"),
        pytest.param("M/V BEHSHAD", "25371", id="slash-prefix"),
        pytest.param("M.T. AMBER IMO 9357406", "15052", id="prefix-and-imo"),
    ],
)
def test_vessel_prefixes_are_noise(screening_index, name, entity_id):
    assert listed_match(screening_index, name).entity_id == entity_id


def test_an_identifier_matches_exactly_and_outranks_any_fuzzy_name(screening_index):
    # IMO 9357406 is AMBER's; the name given is another vessel's.
    matches = screening_index.search("BEHSHAD IMO 9357406", threshold=THRESHOLD)

    assert matches[0].entity_id == "15052"
    assert matches[0].score == 1.0
    assert matches[0].evidence["identifiers"] == ["9357406"]


def test_a_passport_number_in_the_remarks_is_an_identifier(screening_index):
    match = listed_match(screening_index, "Passport 717637093")

    assert match.entity_id == "26235"
    assert match.score == 1.0


def test_an_aircraft_registration_one_letter_off_ranks_below_the_exact_one(screening_index):
    matches = screening_index.search("EP-GOM", threshold=0.5)

    assert matches[0].entity_id == "15431"
    assert matches[0].score == 1.0
    assert all(m.score < 1.0 for m in matches[1:])


def test_a_differing_number_lowers_the_score(screening_index):
    scores = {m.entity_id: m.score for m in screening_index.search("RUNG RA 1", threshold=0.5)}

    assert scores["23168"] == 1.0  # RUNG RA 1
    assert scores["23169"] < THRESHOLD  # RUNG RA 2


def test_only_an_exact_normalised_name_scores_one(screening_index):
    exact = listed_match(screening_index, "Elena Alekseevna Khusyaynova")
    typo = listed_match(screening_index, "Elena Alekseevna Khusyainova")

    assert exact.score == 1.0 and exact.exact
    assert typo.score < 1.0


def test_ties_are_broken_by_exactness_then_entity_id_as_a_number():
    def match(entity_id: str, score: float, exact: bool) -> Match:
        return Match(
            0, "SDN", entity_id, "entity", "X", "X", "primary", score, score, "", [], {}, exact
        )

    ranked = sorted(
        [match("100", 0.9, False), match("20", 0.9, False), match("3", 0.9, True)], key=rank_key
    )

    assert [m.entity_id for m in ranked] == ["3", "20", "100"]


@pytest.mark.parametrize(
    "name",
    [
        pytest.param("", id="empty"),
        pytest.param("   ", id="blank"),
        pytest.param("!!! ... ---", id="punctuation"),
        pytest.param("😀😀", id="emoji"),
        pytest.param("John 😀 Smith", id="emoji-in-a-name"),
        pytest.param("Elena\x00Khusyaynova", id="control-character"),
        pytest.param("x" * 10_000, id="ten-thousand-characters"),
        pytest.param("Еlena Khusyaynova", id="mixed-scripts-look-alike-letter"),
    ],
)
def test_a_name_that_cannot_be_screened_says_so(name):
    reason = unscreenable_reason(name)

    assert reason is not None and reason.startswith(CANNOT_SCREEN)


def test_bad_input_never_crashes_the_matcher(screening_index):
    for name in ["", "😀", "\x00\x01", "x" * 10_000, "金 Smith Хусяйнова ﷺ", "‎‏"]:
        screening_index.search(name, threshold=THRESHOLD)


@pytest.fixture
def lists(db):
    list_version_load(
        list_format=ListFormat.OFAC_SDN,
        path=LIST_DATA / "ofac-sdn.csv",
        alt_path=LIST_DATA / "ofac-alt.csv",
        actor=None,
    )


# A legal name is stored in at most 200 characters (longer ones are refused at input), so the
# too-long case is the matcher's (above), not a person's.
@pytest.mark.parametrize("legal_name", ["😀", "!!!", "Elena\x07K", "Иван Smith", "\u200e\u200f"])
def test_a_person_whose_name_cannot_be_screened_is_held_never_cleared(
    lists, compliance_officer, legal_name
):
    person = PersonFactory(legal_name=legal_name)

    outcome = person_screen(person=person, actor=compliance_officer)

    person.refresh_from_db()
    assert person.screening_state == ScreeningState.POTENTIAL_MATCH
    assert outcome.unscreenable is not None and outcome.unscreenable.startswith(CANNOT_SCREEN)


def test_a_person_with_a_listed_name_in_hangul_is_held_with_the_evidence(lists, compliance_officer):
    person = PersonFactory(legal_name="김정은", date_of_birth=dt.date(1984, 1, 8))

    person_screen(person=person, actor=compliance_officer)

    person.refresh_from_db()
    assert person.screening_state == ScreeningState.POTENTIAL_MATCH
    match = ScreeningMatch.objects.get(person=person, entry__entity_id="20157")
    assert any("mccune-reischauer" in reason for reason in match.reasons)
    assert any(reason.startswith("aligned 'kim'") for reason in match.reasons)


def test_the_screen_command_refuses_to_clear_an_unscreenable_name(lists, capsys):
    with pytest.raises(SystemExit) as exited:
        call_command("screen", "😀", "--json")

    captured = capsys.readouterr()
    assert exited.value.code == 2
    assert json.loads(captured.out) == []
    assert "Cannot screen this name" in captured.err


def test_the_screen_command_json_carries_the_evidence(lists, capsys):
    call_command("screen", "김정은", "--json")

    (first, *_) = json.loads(capsys.readouterr().out)
    assert first["entity_id"] == "20157"
    assert first["evidence"]["reading"] in {
        "mccune-reischauer",
        "customary surname + mccune-reischauer",
    }
    assert {"screened": "kim", "listed": "kim"}.items() <= first["evidence"]["aligned"][0].items()


def test_the_officer_sees_the_evidence_on_the_match_page_and_in_the_api(lists, compliance_officer):
    person = PersonFactory(legal_name="김정은")
    person_screen(person=person, actor=compliance_officer)
    match = ScreeningMatch.objects.get(person=person, entry__entity_id="20157")

    page = client_for(compliance_officer).get(reverse("screening:detail", args=[match.pk]))
    api = api_client_for(compliance_officer).get(f"/api/v1/screening-matches/{match.pk}/")

    assert page.status_code == 200
    assert "reading used: mccune-reischauer" in page.content.decode()
    assert api.status_code == 200
    assert any(reason.startswith("aligned 'kim'") for reason in api.json()["reasons"])
