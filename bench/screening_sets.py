# ruff: noqa: RUF001, E501 -- the tables write names in other scripts, one row a line.
"""Query sets for the screening quality benchmark, built from the real list entries.

Positive classes (each query is a variant of one real SDN or CSL entry, which must be found):
other scripts (Cyrillic, Greek, Arabic, Persian, Hebrew, Han, Hangul), legal-form variants,
vessels and aircraft with prefixes and identifiers, partial and reordered names, and mixed
noise. Negative classes (nothing listed should be found): generated people in several locales
and scripts, generated companies, and near-misses that share given names with a listed
person. A negative that shares two written tokens with one listed name is left out: it may
well be that person.

The script generators are written independently of the matcher: they spell Latin names the
way each script writes them (Arabic without short vowels, Hebrew with final letters, Han from
the pinyin syllables through a reverse of the Unicode readings, Hangul from the syllable
blocks), so the matcher's own tables are not its examiner.

The Han class also holds Korean names written in Han characters (Hanja). Those are not
generated: a reverse of the Unihan ``kHangul`` readings would be the inverse of the
matcher's own table. They are the Hanja forms under which the listed DPRK officials are
known in published biographies, entered by hand below (``KOREAN_IN_HANJA``, 19 people) and
reported apart as well; the generated negatives add unlisted Korean names in Hanja.
"""

from __future__ import annotations

import random
import re
import unicodedata
from collections.abc import Callable
from dataclasses import dataclass, field

from anyascii import anyascii


@dataclass
class Entry:
    key: str  # "SDN:12345"
    entity_id: str
    entry_type: str
    primary_name: str
    aliases: list[str]
    citizenships: list[str]
    remarks: str
    programs: list[str] = field(default_factory=list)


@dataclass
class Query:
    cls: str
    name: str
    expected: str | None  # entry key, or None for a negative
    schema: str  # FollowTheMoney schema for the peer
    subset: str = ""  # a part of the class reported apart as well


# --- script writers ------------------------------------------------------------------------

_CYRILLIC = [
    ("shch", "щ"), ("kh", "х"), ("zh", "ж"), ("ts", "ц"), ("ch", "ч"), ("sh", "ш"),
    ("yu", "ю"), ("ya", "я"), ("yo", "ё"), ("a", "а"), ("b", "б"), ("v", "в"), ("g", "г"),
    ("d", "д"), ("e", "е"), ("z", "з"), ("i", "и"), ("y", "й"), ("k", "к"), ("l", "л"),
    ("m", "м"), ("n", "н"), ("o", "о"), ("p", "п"), ("r", "р"), ("s", "с"), ("t", "т"),
    ("u", "у"), ("f", "ф"), ("c", "к"), ("h", "х"), ("j", "дж"), ("q", "к"), ("w", "в"),
    ("x", "кс"),
]  # fmt: skip
_GREEK = [
    ("th", "θ"), ("ch", "χ"), ("kh", "χ"), ("ps", "ψ"), ("ks", "ξ"), ("x", "ξ"), ("ou", "ου"),
    ("a", "α"), ("b", "μπ"), ("v", "β"), ("g", "γ"), ("d", "ντ"), ("e", "ε"), ("z", "ζ"),
    ("i", "ι"), ("k", "κ"), ("l", "λ"), ("m", "μ"), ("n", "ν"), ("o", "ο"), ("p", "π"),
    ("r", "ρ"), ("s", "σ"), ("t", "τ"), ("u", "ου"), ("f", "φ"), ("y", "ι"), ("j", "τζ"),
    ("c", "κ"), ("q", "κ"), ("w", "ου"), ("h", ""),
]  # fmt: skip
_ARABIC_CONSONANTS = [
    ("kh", "خ"), ("sh", "ش"), ("th", "ث"), ("dh", "ذ"), ("gh", "غ"), ("ch", "تش"), ("b", "ب"),
    ("t", "ت"), ("j", "ج"), ("h", "ح"), ("d", "د"), ("r", "ر"), ("z", "ز"), ("s", "س"),
    ("f", "ف"), ("q", "ق"), ("k", "ك"), ("l", "ل"), ("m", "م"), ("n", "ن"), ("w", "و"),
    ("y", "ي"), ("g", "ج"), ("p", "ب"), ("v", "و"), ("c", "ك"), ("x", "كس"),
]  # fmt: skip
_PERSIAN = {"ي": "ی", "ك": "ک", "ة": "ه"}
_PERSIAN_CONSONANTS = [("ch", "چ"), ("zh", "ژ"), ("p", "پ"), ("g", "گ"), ("v", "و")]
_HEBREW = [
    ("sh", "ש"), ("ch", "צ'"), ("kh", "ח"), ("ts", "צ"), ("tz", "צ"), ("th", "ת'"), ("dh", "ד'"),
    ("gh", "ע'"), ("ph", "פ"), ("b", "ב"), ("v", "ו"), ("g", "ג"), ("d", "ד"), ("h", "ה"),
    ("z", "ז"), ("t", "ט"), ("y", "י"), ("k", "ק"), ("c", "ק"), ("q", "ק"), ("l", "ל"),
    ("m", "מ"), ("n", "נ"), ("s", "ס"), ("p", "פ"), ("f", "פ"), ("r", "ר"), ("w", "ו"),
    ("j", "ג'"), ("x", "קס"),
]  # fmt: skip
_HEBREW_FINAL = {"כ": "ך", "מ": "ם", "נ": "ן", "פ": "ף", "צ": "ץ"}
_VOWELS = "aeiou"


def _letter_at(word: str, i: int, table: list[tuple[str, str]]) -> tuple[str, int]:
    """The letter the table writes for ``word`` at ``i`` (the first entry that matches) and
    how many Latin letters it stands for; none written, one letter skipped, when none does."""
    for latin, letter in table:
        if word.startswith(latin, i):
            return letter, len(latin)
    return "", 1


def _by_table(word: str, table: list[tuple[str, str]]) -> str:
    out, i = [], 0
    while i < len(word):
        letter, used = _letter_at(word, i, table)
        out.append(letter)
        i += used
    return "".join(out)


def cyrillic(text: str) -> str:
    return " ".join(_by_table(w, _CYRILLIC).capitalize() for w in _words(text))


def greek(text: str) -> str:
    words = []
    for word in _words(text):
        written = _by_table(word, _GREEK)
        if written.endswith("σ"):
            written = written[:-1] + "ς"
        words.append(written.capitalize())
    return " ".join(words)


def _abjad_word(word: str, consonants: list[tuple[str, str]], long_i: str, long_u: str) -> str:
    """Consonants written; short vowels left out, long and final ones as letters."""
    out, i = [], 0
    after_vowel = False
    while i < len(word):
        char = word[i]
        if char in _VOWELS:
            after_vowel = True
            nxt = word[i + 1] if i + 1 < len(word) else ""
            if i == 0:
                out.append("ا" if char in "ae" else ("إ" if char == "i" else "أ"))
            elif (char in "ie" and (nxt == char or nxt == "" or nxt in "e")) or (
                char == "i" and nxt not in _VOWELS
            ):
                out.append(long_i)
            elif char in "ou" and (nxt in "ou" or nxt == "" or word[i - 1] not in _VOWELS):
                out.append(long_u)
            elif char == "a" and (nxt == "a" or nxt == ""):
                out.append("ا")
            i += 2 if nxt == char else 1
            continue
        letter, used = _letter_at(word, i, consonants)
        if letter:
            # A doubled letter (Haddad) is written once; one repeated across a vowel
            # (Khanani, Bilal) is written twice.
            if not out or out[-1] != letter or after_vowel:
                out.append(letter)
            after_vowel = False
        i += used
    return "".join(out)


def arabic(text: str) -> str:
    words = _words(text)
    out: list[str] = []
    prefix = ""
    for word in words:
        if word in {"al", "el"}:
            prefix = "ال"
            continue
        if word.startswith(("al", "el")) and len(word) > 4 and "-" not in word:
            pass
        out.append(prefix + _abjad_word(word, _ARABIC_CONSONANTS, "ي", "و"))
        prefix = ""
    return " ".join(out)


def persian(text: str) -> str:
    table = _PERSIAN_CONSONANTS + _ARABIC_CONSONANTS
    written = " ".join(_abjad_word(w, table, "ی", "و") for w in _words(text) if w not in {"al"})
    return "".join(_PERSIAN.get(c, c) for c in written)


def hebrew(text: str) -> str:
    """As Hebrew writes a foreign name: an initial vowel on alef (אי, או), o/u as vav and
    i/ee/ai as yod inside the word, a and e left out, a final a as he, final letter forms."""
    words = []
    for word in _words(text):
        word = word.replace("-", "")
        out, i = [], 0
        while i < len(word):
            char = word[i]
            if char in _VOWELS:
                run = char
                while i + len(run) < len(word) and word[i + len(run)] in _VOWELS:
                    run += word[i + len(run)]
                last = i + len(run) == len(word)
                if i == 0:
                    out.append("או" if run[0] in "ou" else "אי" if run[0] == "i" else "א")
                elif any(c in "ou" for c in run):
                    out.append("ו")
                elif "i" in run or "ee" in run:
                    out.append("יי" if run in {"ai", "ei", "ay"} else "י")
                elif last and run[-1] == "a":
                    out.append("ה")
                i += len(run)
                continue
            for latin, letter in _HEBREW:
                if word.startswith(latin, i):
                    if not out or out[-1] != letter:
                        out.append(letter)
                    i += len(latin)
                    break
            else:
                i += 1
        written = "".join(out)
        if written and written[-1] in _HEBREW_FINAL:
            written = written[:-1] + _HEBREW_FINAL[written[-1]]
        words.append(written)
    return " ".join(w for w in words if w)


_PINYIN_TO_HAN: dict[str, str] = {}
_HANGUL_BY_MR: dict[str, str] = {}
_MR_INITIAL = ["k", "kk", "n", "t", "tt", "r", "m", "p", "pp", "s", "ss", "", "ch", "tch", "ch",
               "k", "t", "p", "h"]  # fmt: skip
_MR_VOWEL = ["a", "ae", "ya", "yae", "o", "e", "yo", "ye", "o", "wa", "wae", "oe", "yo", "u",
             "wo", "we", "wi", "yu", "u", "ui", "i"]  # fmt: skip
_MR_FINAL = {0: "", 1: "k", 4: "n", 8: "l", 16: "m", 17: "p", 21: "ng"}
_SURNAMES_KO = {"kim": "김", "ri": "리", "lee": "이", "pak": "박", "park": "박", "choe": "최",
                "jong": "정", "chong": "정", "jang": "장", "han": "한", "o": "오", "yun": "윤",
                "kang": "강", "paek": "백", "ko": "고", "mun": "문", "hwang": "황", "hyon": "현",
                "kwon": "권", "song": "송", "jon": "전", "chon": "전", "so": "서", "rim": "림"}  # fmt: skip


def _reverse_tables() -> None:
    if _PINYIN_TO_HAN:
        return
    # Common characters first: the CJK Unified Ideographs block in code-point order.
    for code in range(0x4E00, 0x9FA6):
        reading = anyascii(chr(code)).lower()
        if reading.isalpha():
            _PINYIN_TO_HAN.setdefault(reading, chr(code))
    for code in range(0xAC00, 0xD7A4):
        offset = code - 0xAC00
        initial, rest = divmod(offset, 21 * 28)
        vowel, final = divmod(rest, 28)
        if final not in _MR_FINAL:
            continue
        # The DPRK writes ㅈ as j and unaspirated stops voiced inside a name; accept both.
        spelled = _MR_INITIAL[initial] + _MR_VOWEL[vowel] + _MR_FINAL[final]
        _HANGUL_BY_MR.setdefault(spelled, chr(code))
        if initial == 12:
            _HANGUL_BY_MR.setdefault("j" + spelled[2:], chr(code))


def _split_syllables(word: str, table: dict[str, str]) -> list[str] | None:
    """``word`` cut into syllables of ``table``, longest first; None when it does not cut."""
    if not word:
        return []
    for size in range(min(6, len(word)), 0, -1):
        head = word[:size]
        if head in table:
            rest = _split_syllables(word[size:], table)
            if rest is not None:
                return [head, *rest]
    return None


def han(surname: list[str], given: list[str]) -> str | None:
    _reverse_tables()
    chars = []
    for word in [*surname, *given]:
        syllables = _split_syllables(word.replace("-", ""), _PINYIN_TO_HAN)
        if not syllables:
            return None
        chars += [_PINYIN_TO_HAN[s] for s in syllables]
    return "".join(chars)


def hangul(surname: list[str], given: list[str]) -> str | None:
    _reverse_tables()
    if len(surname) != 1 or surname[0] not in _SURNAMES_KO:
        return None
    chars = [_SURNAMES_KO[surname[0]]]
    for word in given:
        for part in word.split("-"):
            syllables = _split_syllables(part, _HANGUL_BY_MR)
            if not syllables:
                return None
            chars += [_HANGUL_BY_MR[s] for s in syllables]
    return "".join(chars)


# Listed Korean people and the Hanja their names are written in, as published biographies
# give them (entity id → the list's name, checked, and the Hanja). Not derived from any table
# the matcher uses.
KOREAN_IN_HANJA: dict[str, tuple[str, str]] = {
    "20157": ("KIM, Jong Un", "金正恩"),
    "21444": ("KIM, Yo Jong", "金與正"),
    "23213": ("CHOE, Ryong Hae", "崔龍海"),
    "23215": ("RI, Pyong Chol", "李炳哲"),
    "12211": ("KIM, Yong Chol", "金英哲"),
    "19496": ("HWANG, Pyong So", "黃炳瑞"),
    "19497": ("PAK, Yong Sik", "朴永植"),
    "19491": ("RI, Man Gon", "李萬建"),
    "15771": ("O, Kuk-Ryol", "吳克烈"),
    "21443": ("KIM, Won Hong", "金元弘"),
    "20120": ("CHOE, Pu Il", "崔富一"),
    "21303": ("JO, Yong-Won", "趙甬元"),
    "23212": ("JONG, Kyong Thaek", "鄭京擇"),
    "19494": ("RI, Yong Mu", "李勇武"),
    "20126": ("KIM, Ki Nam", "金己男"),
    "21306": ("CHOE, Hwi", "崔輝"),
    "23214": ("KIM, Jong Sik", "金正植"),
    "21735": ("RI, Su Yong", "李洙墉"),
    "20577": ("CHO, Chun-ryong", "趙春龍"),
}
HANJA_SUBSET = "korean names in hanja"
# Unlisted Korean names for the negatives, in common Hanja spellings.
_HANJA_SURNAMES_KO = {"kim": "金", "park": "朴", "choi": "崔", "jung": "鄭", "kang": "姜",
                      "yoon": "尹"}  # fmt: skip
_HANJA_GIVEN_KO = {"minjun": "民俊", "seoyeon": "瑞妍", "jiho": "志浩", "haeun": "夏恩",
                   "doyun": "道允", "sua": "秀雅"}  # fmt: skip


def korean_in_hanja(entry: Entry) -> str | None:
    """The Hanja form of a listed Korean person's name, when it is known."""
    known = KOREAN_IN_HANJA.get(entry.entity_id) if entry.key.startswith("SDN:") else None
    return known[1] if known and known[0] == entry.primary_name else None


def _words(text: str) -> list[str]:
    folded = unicodedata.normalize("NFKD", text)
    folded = "".join(c for c in folded if not unicodedata.combining(c)).lower()
    folded = re.sub(r"['`’]", "", folded)
    return [w for w in re.split(r"[^a-z-]+", folded) if w.strip("-")]


# --- positives -----------------------------------------------------------------------------


def _person(name: str) -> tuple[list[str], list[str]] | None:
    last, sep, first = name.partition(",")
    if not sep or not first.strip() or not last.strip():
        return None
    return _words(first), _words(last)


def _typo(token: str, rng: random.Random) -> str:
    if len(token) < 5:
        return token
    position = rng.randrange(1, len(token) - 1)
    kind = rng.choice(("swap", "drop", "replace"))
    if kind == "swap":
        return token[:position] + token[position + 1] + token[position] + token[position + 2 :]
    if kind == "drop":
        return token[:position] + token[position + 1 :]
    letters = "abcdefghijklmnopqrstuvwxyz".replace(token[position].lower(), "")
    return token[:position] + rng.choice(letters) + token[position + 1 :]


_ARABIC_WORLD = {"IR", "IQ", "SY", "LB", "SA", "YE", "AF", "PK", "EG", "JO", "KW", "QA", "AE",
                 "BH", "OM", "LY", "SD", "SO", "DZ", "MA", "TN", "PS"}  # fmt: skip
_PERSIAN_WORLD = {"IR", "AF"}
_RUSSIAN_WORLD = {"RU", "UA", "BY", "KZ", "KG", "UZ", "TJ", "MD", "AM", "GE", "AZ"}


def _script_variant(cls: str, entry: Entry) -> str | None:
    parsed = _person(entry.primary_name)
    if parsed is None:
        return None
    given, surname = parsed
    if not given or not surname:
        return None
    if entry.entry_type != "individual":
        # A company's "NAME, INC." is not "Last, First": writing it reordered is not how
        # anyone writes it in another script.
        return None
    plain = " ".join(given + surname)
    countries = set(entry.citizenships)
    if cls == "script-cyrillic":
        return cyrillic(plain) if countries & _RUSSIAN_WORLD else None
    if cls == "script-greek":
        return greek(plain)
    if cls == "script-arabic":
        return arabic(plain) if countries & _ARABIC_WORLD else None
    if cls == "script-persian":
        return persian(plain) if countries & _PERSIAN_WORLD else None
    if cls == "script-hebrew":
        return hebrew(plain)
    if cls == "script-han":
        if (hanja := korean_in_hanja(entry)) is not None:
            return hanja
        return han(surname, given) if countries & {"CN", "TW", "HK", "SG", "MO"} else None
    if cls == "script-hangul":
        return hangul(surname, given) if "KP" in countries or "KR" in countries else None
    raise ValueError(cls)


# Each row: spellings of one legal form, as registries and lists write them.
_LEGAL_FORMS = [
    ["LLC", "L.L.C.", "OOO", "LIMITED LIABILITY COMPANY", "OBSHCHESTVO S OGRANICHENNOY OTVETSTVENNOSTYU"],
    ["LTD", "LTD.", "LIMITED"],
    ["CO., LTD.", "COMPANY LIMITED", "CO LIMITED"],
    ["S.A.", "SA", "SOCIEDAD ANONIMA", "S A"],
    ["JSC", "AO", "JOINT STOCK COMPANY", "AKTSIONERNOE OBSHCHESTVO"],
    ["PJSC", "PAO", "PUBLIC JOINT STOCK COMPANY"],
    ["OJSC", "OAO", "OPEN JOINT STOCK COMPANY"],
    ["CJSC", "ZAO", "CLOSED JOINT STOCK COMPANY"],
    ["FZE", "F.Z.E.", "FREE ZONE ESTABLISHMENT"],
    ["FZCO", "FREE ZONE COMPANY"],
    ["CO", "CO.", "COMPANY"],
    ["CORP", "CORP.", "CORPORATION"],
    ["INC", "INC.", "INCORPORATED"],
    ["GMBH", "G.M.B.H.", "GESELLSCHAFT MIT BESCHRANKTER HAFTUNG"],
    ["S.A. DE C.V.", "SA DE CV"],
    ["LTDA", "LTDA.", "LIMITADA"],
]  # fmt: skip
_PREFIX_FORMS = {"OOO", "AO", "PAO", "OAO", "ZAO"}


def _legal_form_variant(entry: Entry, rng: random.Random) -> str | None:
    name = entry.primary_name.upper()
    for row in _LEGAL_FORMS:
        for written in sorted(row, key=len, reverse=True):
            pattern = re.compile(rf"(?:^|[\s,]){re.escape(written)}$")
            match = pattern.search(name)
            if match is None:
                pattern = re.compile(rf"^{re.escape(written)}\s")
                match = pattern.search(name)
            if match is None:
                continue
            base = (name[: match.start()] + name[match.end() :]).strip(" ,")
            other = rng.choice([w for w in row if w != written])
            if not base:
                return None
            if other in _PREFIX_FORMS:
                return f"{other} {base}"
            return f"{base}{',' if rng.random() < 0.3 else ''} {other}"
    return None


_VESSEL_PREFIXES = ["MV ", "M/V ", "M.V. ", "MT ", "M.T. ", "M/T "]
_IMO = re.compile(r"IMO (\d{7})")


def _vessel_variant(entry: Entry, rng: random.Random) -> str | None:
    if entry.entry_type == "vessel":
        imo = _IMO.search(entry.remarks)
        name = f"{rng.choice(_VESSEL_PREFIXES)}{entry.primary_name}"
        if imo and rng.random() < 0.5:
            name += f" IMO {imo.group(1)}"
        return name
    if entry.entry_type == "aircraft":
        registration = entry.primary_name
        return rng.choice(
            [registration.replace("-", " "), f"Aircraft {registration}", registration.lower()]
        )
    return None


def _partial_variant(entry: Entry, rng: random.Random) -> str | None:
    parsed = _person(entry.primary_name)
    if parsed is None:
        return None
    given, surname = parsed
    if not given:
        return None
    choice = rng.random()
    if choice < 0.4 and len(given) >= 2:
        return " ".join([given[0], *surname]).title()
    tokens = given + surname
    if len(tokens) < 2:
        return None
    rng.shuffle(tokens)
    return " ".join(tokens).title()


_HONORIFICS = ["Mr.", "Dr.", "Mrs.", "Sheikh", "Colonel", "Haji", "General"]
_ACCENTS = {"a": "á", "e": "é", "i": "í", "o": "ö", "u": "ü", "n": "ñ", "c": "ç", "s": "š"}


def _noise_variant(entry: Entry, rng: random.Random) -> str | None:
    parsed = _person(entry.primary_name)
    if parsed is None:
        name = entry.primary_name
        tokens = name.split()
    else:
        given, surname = parsed
        tokens = [*given, *surname]
        if rng.random() < 0.5:
            tokens.insert(0, rng.choice(_HONORIFICS))
    long_tokens = [i for i, t in enumerate(tokens) if len(t) >= 6]
    if long_tokens:
        i = rng.choice(long_tokens)
        tokens[i] = _typo(tokens[i], rng)
    text = " ".join(tokens)
    text = "".join(_ACCENTS.get(c, c) if c in _ACCENTS and rng.random() < 0.15 else c for c in text)
    text = "".join(c.upper() if rng.random() < 0.5 else c.lower() for c in text)
    return text.replace(" ", rng.choice([" ", "  ", " - ", ". "]), 1)


POSITIVE_CLASSES = (
    "script-cyrillic",
    "script-greek",
    "script-arabic",
    "script-persian",
    "script-hebrew",
    "script-han",
    "script-hangul",
    "legal-form",
    "vessel-aircraft",
    "partial-reordered",
    "mixed-noise",
)
NEGATIVE_CLASSES = (
    "generated-people",
    "generated-people-scripts",
    "generated-companies",
    "near-miss",
)
_SCHEMAS = {
    "individual": "Person",
    "entity": "Organization",
    "vessel": "Vessel",
    "aircraft": "Airplane",
}


def positives(entries: list[Entry], rng: random.Random, per_class: int) -> list[Query]:
    queries: list[Query] = []
    makers: dict[str, Callable[[Entry], str | None]] = {
        "legal-form": lambda e: _legal_form_variant(e, rng) if e.entry_type == "entity" else None,
        "vessel-aircraft": lambda e: _vessel_variant(e, rng),
        "partial-reordered": lambda e: _partial_variant(e, rng),
        "mixed-noise": lambda e: _noise_variant(e, rng),
    }
    for cls in POSITIVE_CLASSES:
        maker = makers.get(cls) or (lambda e, cls=cls: _script_variant(cls, e))  # type: ignore[misc]
        made = 0
        for entry in rng.sample(entries, len(entries)):
            if made >= per_class:
                break
            name = maker(entry)
            if not name or not name.strip():
                continue
            subset = HANJA_SUBSET if cls == "script-han" and korean_in_hanja(entry) else ""
            queries.append(Query(cls, name, entry.key, _SCHEMAS[entry.entry_type], subset))
            made += 1
    return queries


# --- negatives -----------------------------------------------------------------------------

FIRST = {
    "en": ["james", "mary", "john", "patricia", "robert", "jennifer", "michael", "linda",
           "william", "elizabeth", "david", "barbara", "richard", "susan", "thomas", "sarah"],
    "es": ["alejandro", "lucia", "javier", "carmen", "diego", "valentina", "mateo", "sofia"],
    "de": ["lukas", "anna", "maximilian", "lea", "felix", "johanna", "tobias", "katrin"],
    "fr": ["pierre", "claire", "louis", "camille", "antoine", "chloe", "julien", "manon"],
    "in": ["priya", "arjun", "ananya", "rohan", "kavya", "vikram", "sneha", "aditya"],
    "ru": ["dmitry", "olga", "sergey", "tatiana", "andrei", "natalia", "pavel", "irina"],
    "ar": ["omar", "layla", "yusuf", "fatima", "karim", "noor", "tariq", "salma", "bilal"],
    "zh": ["wei", "fang", "jing", "lei", "min", "yan", "hao", "xin"],
    "ko": ["minjun", "seoyeon", "jiho", "haeun", "doyun", "sua"],
    "el": ["giorgos", "maria", "nikos", "eleni", "kostas", "sofia", "dimitris", "katerina"],
}  # fmt: skip
LAST = {
    "en": ["smith", "johnson", "williams", "brown", "taylor", "wilson", "clarke", "walker",
           "wright", "thompson", "robinson", "hughes", "edwards", "turner"],
    "es": ["garcia", "fernandez", "lopez", "martinez", "sanchez", "romero", "navarro", "ortega"],
    "de": ["muller", "schneider", "fischer", "weber", "wagner", "becker", "hoffmann", "koch"],
    "fr": ["martin", "bernard", "dubois", "laurent", "lefebvre", "moreau", "girard", "fournier"],
    "in": ["sharma", "patel", "iyer", "reddy", "nair", "gupta", "mehta", "joshi"],
    "ru": ["ivanov", "smirnova", "kuznetsov", "popova", "sokolov", "lebedeva", "morozov"],
    "ar": ["haddad", "nasser", "khoury", "saleh", "mansour", "farouk", "najjar", "sabbagh"],
    "zh": ["wang", "chen", "liu", "yang", "huang", "zhao", "zhou", "xu"],
    "ko": ["kim", "park", "choi", "jung", "kang", "yoon"],
    "el": ["papadopoulos", "georgiou", "nikolaidis", "vlachos", "oikonomou", "karalis"],
}  # fmt: skip
_COMPANY_WORDS = ["nordic", "golden", "star", "pacific", "alpine", "harbor", "summit", "crystal",
                  "meridian", "blue", "river", "silver", "eastern", "sunrise", "delta", "orion",
                  "maple", "atlas", "vertex", "cobalt", "lumen", "terra", "aurora", "falcon"]  # fmt: skip
_COMPANY_NOUNS = ["pharma", "logistics", "trading", "software", "textiles", "foods", "energy",
                  "consulting", "robotics", "ceramics", "shipping", "media", "analytics", "labs"]  # fmt: skip
_COMPANY_FORMS = ["LLC", "Ltd", "GmbH", "S.A.", "Inc.", "Co., Ltd.", "AG", "B.V.", "OOO", "JSC"]


class CoOccurrence:
    """Which written tokens appear together in one listed name (per script writer)."""

    def __init__(self, entries: list[Entry], writer: Callable[[str], str] | None = None) -> None:
        self.writer = writer
        self.postings: dict[str, set[int]] = {}
        for position, entry in enumerate(entries):
            for name in [entry.primary_name, *entry.aliases]:
                for token in self._tokens(name):
                    self.postings.setdefault(token, set()).add(position)

    def _tokens(self, name: str) -> set[str]:
        words = _words(name.replace(",", " "))
        if self.writer is None:
            return {w.replace("-", "") for w in words if len(w) > 1}
        return {t for w in words if (t := self.writer(w))}

    def names_someone(self, name: str, *, written: bool = False) -> bool:
        tokens = self._tokens(name) if not written else set(name.split())
        sets = [self.postings.get(t, set()) for t in tokens]
        if len(sets) < 2:
            return bool(sets and sets[0])
        for i in range(len(sets)):
            for j in range(i + 1, len(sets)):
                if sets[i] & sets[j]:
                    return True
        return False


def _hangul_word(word: str) -> str:
    if word in _SURNAMES_KO:
        return hangul([word], []) or ""
    return (hangul(["kim"], [word]) or "")[1:]


def negatives(entries: list[Entry], rng: random.Random, per_class: int) -> list[Query]:
    latin = CoOccurrence(entries)
    queries: list[Query] = []
    made = 0
    while made < per_class:
        locale = rng.choice(list(FIRST))
        name = f"{rng.choice(FIRST[locale])} {rng.choice(LAST[locale])}".title()
        if latin.names_someone(name):
            continue
        queries.append(Query("generated-people", name, None, "Person"))
        made += 1
    writers: dict[str, tuple[str, Callable[[str], str]]] = {
        "ru": ("cyrillic", cyrillic),
        "el": ("greek", greek),
        "ar": ("arabic", arabic),
        "zh": ("han", lambda w: han([w], []) or ""),
        "ko": ("hangul", _hangul_word),
        "ko-hanja": ("hanja", _hangul_word),
    }
    guards = {locale: CoOccurrence(entries, writer) for locale, (_, writer) in writers.items()}
    made = 0
    while made < per_class:
        locale = rng.choice(list(writers))
        base = "ko" if locale == "ko-hanja" else locale
        first, last = rng.choice(FIRST[base]), rng.choice(LAST[base])
        _, writer = writers[locale]
        if locale == "ko-hanja":
            # Checked against the lists through its Hangul, like the Hangul names.
            name = _HANJA_SURNAMES_KO[last] + _HANJA_GIVEN_KO[first]
            parts = [writer(last), writer(first)]
        elif locale in {"zh", "ko"}:
            name = (han([last], [first]) if locale == "zh" else hangul([last], [first])) or ""
            parts = [writer(last), writer(first)]
        else:
            name = f"{writer(first)} {writer(last)}"
            parts = [writer(first), writer(last)]
        if not name or guards[locale].names_someone(" ".join(parts), written=True):
            continue
        if latin.names_someone(f"{first} {last}"):
            continue
        queries.append(Query("generated-people-scripts", name, None, "Person"))
        made += 1
    made = 0
    while made < per_class:
        words = [rng.choice(_COMPANY_WORDS), rng.choice(_COMPANY_NOUNS)]
        name = f"{' '.join(words).title()} {rng.choice(_COMPANY_FORMS)}"
        if latin.names_someone(" ".join(words)):
            continue
        queries.append(Query("generated-companies", name, None, "Organization"))
        made += 1
    made = 0
    people = [e for e in entries if e.entry_type == "individual" and _person(e.primary_name)]
    surnames = [s for pool in LAST.values() for s in pool]
    while made < per_class:
        entry = rng.choice(people)
        parsed = _person(entry.primary_name)
        assert parsed is not None
        given, _ = parsed
        if not given:
            continue
        surname = rng.choice(surnames)
        name = f"{' '.join(given)} {surname}".title()
        if any(latin.names_someone(f"{g} {surname}") for g in given):
            continue
        queries.append(Query("near-miss", name, None, "Person"))
        made += 1
    return queries
