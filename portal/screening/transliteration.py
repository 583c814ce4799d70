# ruff: noqa: RUF001, RUF003 -- letters of other scripts are matched on purpose.
"""Names in any script to the Latin spellings the lists use: readings, not a hand table.

Every script goes through ``anyascii`` (a maintained Unicode-to-ASCII transliterator) after the
accents of Latin and Greek letters are stripped, so ``Κώστας`` reads ``Kostas`` and not a
mangled mix. Two scripts get more than one reading, because the lists spell them in several
systems:

* Han (Chinese characters): pinyin (``李方伟`` → ``LI Fangwei``) and Wade-Giles, derived from
  the pinyin syllable by its rules (``Zhang`` → ``Chang``, ``Xi`` → ``Hsi``).
* Hangul: Revised Romanization (``김정은`` → ``Gim Jeong Eun``) and the McCune-Reischauer
  spelling the DPRK and OFAC use, built from the syllable's jamo (``Kim Jong Un``), plus the
  customary spellings of the common surnames (이 Lee / Ri / Yi, 박 Park / Pak, 최 Choi / Choe).
* Han read as Korean (Hanja): a Korean name written in Han characters is also read in Hangul,
  each character by its Unihan ``kHangul`` readings (``data/hanja-hangul.tsv``), a surname by
  its reading as a name (金 is 김, not 금), and every word-initial syllable both as written and
  by the initial-sound rule (리 / 이, 룡 / 용); the Hangul then gets the readings above
  (``金正恩`` → ``Kim Jong Un``, read "hanja → hangul, mccune-reischauer").

Names in the abjads and abugidas (Arabic, Persian, Hebrew, Devanagari, Thai ...) are written
without most vowels, so their readings are flagged ``vowelless``: the matcher compares them
by consonants (``محمد`` meets ``MUHAMMAD``).
"""

from __future__ import annotations

import re
import unicodedata
from collections.abc import Iterator
from dataclasses import dataclass
from functools import lru_cache

from anyascii import anyascii

from portal.screening.data import HANJA_HANGUL

# Scripts whose written form leaves out (most) vowels: compared by consonant skeleton.
VOWELLESS_SCRIPTS = frozenset(
    [
        "ARABIC",
        "HEBREW",
        "SYRIAC",
        "THAANA",
        "DEVANAGARI",
        "BENGALI",
        "GURMUKHI",
        "GUJARATI",
        "ORIYA",
        "TAMIL",
        "TELUGU",
        "KANNADA",
        "MALAYALAM",
        "SINHALA",
        "THAI",
        "LAO",
        "KHMER",
        "MYANMAR",
        "TIBETAN",
    ]
)
# Readings of syllabic scripts: each syllable is a token, and systems differ by reading, not
# by typo, so their tokens meet list tokens only when spelled the same.
_HANGUL_SCHEMES = (
    "revised romanization",
    "mccune-reischauer",
    "customary surname + mccune-reischauer",
)
# A Korean name written in Han characters, read through Hangul: the scheme names both steps.
HANJA_PREFIX = "hanja → hangul, "
KOREAN_SCHEMES = frozenset([*_HANGUL_SCHEMES, *(HANJA_PREFIX + s for s in _HANGUL_SCHEMES)])
SYLLABIC_SCHEMES = frozenset({"pinyin", "wade-giles", *KOREAN_SCHEMES})
# Scripts that legitimately appear together in one person's name.
_SCRIPT_FAMILIES = (
    frozenset({"CJK", "HIRAGANA", "KATAKANA"}),
    frozenset({"CJK", "HANGUL"}),
)
_ACCENT_STRIPPED = frozenset({"LATIN", "GREEK"})
# Greek diphthongs anyascii spells letter by letter (ου → oy); modern names read them so.
_GREEK_DIGRAPHS = (
    ("ου", "ou"),
    ("αυ", "av"),
    ("ευ", "ev"),
    ("ού", "ou"),
    ("αύ", "av"),
    ("εύ", "ev"),
)
# Foreign names written in Greek: μπ, ντ, τζ, γκ spell b, d, j, g (Ντέιβιντ = David).
_GREEK_FOREIGN = (("μπ", "b"), ("ντ", "d"), ("τζ", "j"), ("γκ", "g"), ("χ", "kh"), ("αι", "ai"))
_ARABIC_ARTICLE = re.compile(r"(?<![\w])ال(?=\w{2,})")
# Name particles written as words: read as the lists spell them, so they are handled as
# particles (dropped or glued) rather than as consonant skeletons.
_ARABIC_PARTICLES = (
    (re.compile(r"(?<![\w])(?:ابن)(?![\w])"), "ibn"),
    (re.compile(r"(?<![\w])(?:بن)(?![\w])"), "bin"),
    (re.compile(r"(?<![\w])(?:بنت)(?![\w])"), "bint"),
    (re.compile(r"(?<![\w])(?:ابو|أبو)(?![\w])"), "abu"),
    (re.compile(r"(?<![\w])(?:عبد)(?![\w])"), "abd"),
    (re.compile(r"(?<![\w])(?:الحاج|حاج|حاجي|حاجی|حجی|حجي)(?![\w])"), "haji"),
    (re.compile(r"(?<![\w])(?:الشيخ|شيخ|شیخ)(?![\w])"), "sheikh"),
)
_ARABIC_INITIAL_VOWEL = re.compile(r"(?<![\w])[اأإآع]")
_ARABIC_MEDIAL_ALEF = re.compile(r"(?<=\w)[اآ]")
_HEBREW_INITIAL_VOWEL = re.compile(r"(?<![\w])[אע]")
# anyascii reads the soft forms (kh, v); names written in Hebrew mean k and b by them.
_HEBREW_LETTERS = str.maketrans({"כ": "k", "ך": "k", "ב": "b"})
# A geresh after a letter spells a sound Hebrew lacks: ג' j, צ' ch, ז' zh, ת' th, ד' dh, ע' gh.
_HEBREW_GERESH = re.compile(r"([גצזתדעץ])['\u05f3\u2019]")
# He after a letter is a consonant of its own (כהן is k-h-n, Cohen): kept apart by a vowel so
# that k, s, t, d, g, p and h do not read as one digraph (kh, sh ...) and lose the h.
_HEBREW_MEDIAL_HE = re.compile(r"(?<=\w)ה(?=\w)")
_GERESH_SOUNDS = {"ג": "j", "צ": "ch", "ץ": "ch", "ז": "zh", "ת": "th", "ד": "dh", "ע": "gh"}


def script_of(char: str) -> str:
    """The script of a letter, from its Unicode name (``LATIN``, ``CJK``, ``HANGUL`` ...)."""
    try:
        name = unicodedata.name(char)
    except ValueError:
        return "UNKNOWN"
    first = name.split(" ", 1)[0]
    if first in {"FULLWIDTH", "HALFWIDTH"}:
        return "LATIN" if "LATIN" in name else name.split(" ", 2)[1]
    return first


def scripts(text: str) -> set[str]:
    """The scripts of the letters of ``text``."""
    return {script_of(c) for c in text if c.isalpha()}


def mixed_scripts(found: set[str]) -> bool:
    """More than one script, unless they belong together (Han with Kana, Han with Hangul)."""
    if len(found) <= 1:
        return False
    return not any(found <= family for family in _SCRIPT_FAMILIES)


def strip_accents(text: str) -> str:
    """Accents off Latin and Greek letters; other scripts' marks (Hangul jamo, kana voicing,
    Devanagari vowel signs, Cyrillic й) carry sound and are kept."""
    out: list[str] = []
    base_script = ""
    for char in unicodedata.normalize("NFD", text):
        if unicodedata.combining(char):
            if base_script in _ACCENT_STRIPPED:
                continue
        elif char.isalpha():
            base_script = script_of(char)
        out.append(char)
    return unicodedata.normalize("NFC", "".join(out))


@dataclass(frozen=True)
class Reading:
    """One Latin spelling of a name and how it was obtained."""

    text: str
    scheme: str  # "latin", "anyascii", "pinyin", "wade-giles", "revised romanization", ...
    vowelless: bool = False
    # Arabic script writes its long vowels (ا و ي): the reading keeps them as a, w, y, and a
    # list spelling must have a vowel where the name writes one (Salim is not Salma).
    long_vowels: bool = False


# --- Hangul --------------------------------------------------------------------------

_HANGUL_BASE = 0xAC00
# McCune-Reischauer without breves, as the DPRK and the lists write it.
_MR_INITIAL = ["k", "kk", "n", "t", "tt", "r", "m", "p", "pp", "s", "ss", "", "j", "jj", "ch",
               "k", "t", "p", "h"]  # fmt: skip
_MR_VOWEL = ["a", "ae", "ya", "yae", "o", "e", "yo", "ye", "o", "wa", "wae", "oe", "yo", "u",
             "wo", "we", "wi", "yu", "u", "ui", "i"]  # fmt: skip
_MR_FINAL = ["", "k", "kk", "ks", "n", "nj", "nh", "t", "l", "lk", "lm", "lp", "ls", "lt", "lp",
             "lh", "m", "p", "ps", "t", "t", "ng", "t", "t", "k", "t", "p", "t"]  # fmt: skip
# Customary spellings of the commonest surnames, as passports and the lists write them.
_KOREAN_SURNAMES = {
    "이": ("lee", "ri", "yi", "rhee"),
    "리": ("ri", "lee"),
    "박": ("park", "pak"),
    "최": ("choi", "choe"),
    "정": ("jung", "jong", "chung"),
    "김": ("kim",),
    "조": ("cho", "jo"),
    "강": ("kang",),
    "윤": ("yoon", "yun"),
    "장": ("jang", "chang"),
    "임": ("lim", "im", "rim"),
    "림": ("rim", "lim"),
    "한": ("han",),
    "오": ("oh", "o"),
    "신": ("shin", "sin"),
    "서": ("seo", "so", "suh"),
    "권": ("kwon",),
    "황": ("hwang",),
    "안": ("ahn", "an"),
    "송": ("song",),
    "류": ("ryu", "yoo", "yu"),
    "유": ("yoo", "yu"),
    "홍": ("hong",),
    "전": ("jeon", "jon", "chon"),
    "고": ("ko", "go"),
    "문": ("moon", "mun"),
    "양": ("yang",),
    "손": ("son",),
    "배": ("bae", "pae"),
    "백": ("baek", "paek"),
    "허": ("heo", "ho"),
    "노": ("noh", "ro", "no"),
    "로": ("ro", "noh"),
    "현": ("hyun", "hyon"),
    "주": ("ju", "joo", "chu"),
}


def _is_hangul_syllable(char: str) -> bool:
    return 0xAC00 <= ord(char) <= 0xD7A3


def _mr_syllable(char: str) -> str:
    offset = ord(char) - _HANGUL_BASE
    initial, rest = divmod(offset, 21 * 28)
    vowel, final = divmod(rest, 28)
    return _MR_INITIAL[initial] + _MR_VOWEL[vowel] + _MR_FINAL[final]


def _syllable_groups(text: str, syllable: object) -> list[list[str]]:
    """Each space-separated chunk as its list of syllable spellings."""
    groups = []
    for chunk in text.split():
        spelled = [syllable(c) for c in chunk]  # type: ignore[operator]
        groups.append([s for s in spelled if s])
    return [g for g in groups if g]


def _east_asian_names(groups: list[list[str]]) -> list[str]:
    """Surname first, the given name's syllables apart and joined (Jong Un / Jongun)."""
    if not groups:
        return []
    if len(groups) == 1:
        syllables = groups[0]
        if len(syllables) == 1:
            return [syllables[0]]
        surname, given = syllables[0], syllables[1:]
        spelled = [" ".join([surname, *given]), f"{surname} {''.join(given)}"]
        if len(syllables) == 3:
            # A two-syllable surname, or a list that wrote the name run together.
            spelled.append(f"{surname}{given[0]} {given[1]}")
        return spelled
    apart = " ".join(s for g in groups for s in g)
    joined = " ".join("".join(g) for g in groups)
    return [apart, joined] if apart != joined else [apart]


def _hangul_readings(text: str, prefix: str = "") -> list[Reading]:
    readings: list[Reading] = []
    rr_groups = _syllable_groups(text, lambda c: anyascii(c).lower())
    mr_groups = _syllable_groups(
        text, lambda c: _mr_syllable(c) if _is_hangul_syllable(c) else anyascii(c).lower()
    )
    for spelled in _east_asian_names(rr_groups):
        readings.append(Reading(spelled, prefix + "revised romanization"))
    for spelled in _east_asian_names(mr_groups):
        readings.append(Reading(spelled, prefix + "mccune-reischauer"))
    chunks = text.split()
    first = chunks[0][0] if chunks and chunks[0] else ""
    for surname in _KOREAN_SURNAMES.get(first, ()):
        groups = [list(g) for g in mr_groups]
        if groups and groups[0]:
            groups[0][0] = surname
            for spelled in _east_asian_names(groups):
                readings.append(Reading(spelled, prefix + "customary surname + mccune-reischauer"))
    return readings


# --- Hanja: Korean names written in Han characters ----------------------------------------

# At most this many Hangul spellings of one Hanja name are read (a name is two to four
# characters, most with one reading; the first spellings are the likeliest, see below),
# plus the whole name as the North and as the South spell it, when the cap left them out.
MAX_HANJA_SPELLINGS = 8
# At most this many readings of one character are tried, name readings first.
MAX_HANJA_READINGS = 3
# A longer run of Han characters is no one's personal name: it is read in Chinese only.
MAX_HANJA_CHARACTERS = 12
# Surnames read as names, with and without the initial-sound rule (South / North: 이 / 리).
# 金 is 김 as a surname and 금 in words; 車 차 not 거; 沈 심 not 침.
_HANJA_SURNAMES: dict[str, tuple[str, ...]] = {
    "金": ("김",), "李": ("이", "리"), "林": ("임", "림"), "柳": ("유", "류"),
    "劉": ("유", "류"), "羅": ("나", "라"), "盧": ("노", "로"), "魯": ("노", "로"),
    "呂": ("여", "려"), "梁": ("양", "량"), "廉": ("염", "렴"), "陸": ("육", "륙"),
    "龍": ("용", "룡"), "車": ("차",), "沈": ("심",), "卜": ("복",),
    "朴": ("박",), "崔": ("최",), "吳": ("오",), "鄭": ("정",), "趙": ("조",),
}  # fmt: skip
_HANJA_TWO_SYLLABLE_SURNAMES = {
    "南宮": "남궁", "諸葛": "제갈", "鮮于": "선우", "皇甫": "황보", "獨孤": "독고",
    "司空": "사공", "西門": "서문", "東方": "동방",
}  # fmt: skip
# Vowels that begin with i or y (ㅑ ㅒ ㅕ ㅖ ㅛ ㅠ ㅣ): before them a word-initial ㄹ or ㄴ is ㅇ.
_Y_VOWELS = frozenset({2, 3, 6, 7, 12, 17, 20})
_RIEUL, _NIEUN, _IEUNG = 5, 2, 11


@lru_cache(maxsize=1)
def hanja_table() -> dict[str, tuple[str, ...]]:
    """Han character → its Korean readings, name readings first (``data/hanja-hangul.tsv``)."""
    table: dict[str, tuple[str, ...]] = {}
    with HANJA_HANGUL.open(encoding="utf-8") as handle:
        for line in handle:
            if line.startswith("#"):
                continue
            char, _, values = line.rstrip("\n").partition("\t")
            if char and values:
                table[char] = tuple(values.split())
    return table


def initial_sound_rule(syllable: str) -> str:
    """A word-initial syllable as South Korean writes it (두음법칙): ㄹ before i/y is ㅇ,
    other ㄹ is ㄴ, ㄴ before i/y is ㅇ (리 → 이, 룡 → 용, 로 → 노, 녀 → 여)."""
    if not _is_hangul_syllable(syllable):
        return syllable
    initial, rest = divmod(ord(syllable) - _HANGUL_BASE, 21 * 28)
    y_vowel = rest // 28 in _Y_VOWELS
    if initial == _RIEUL:
        initial = _IEUNG if y_vowel else _NIEUN
    elif initial == _NIEUN and y_vowel:
        initial = _IEUNG
    else:
        return syllable
    return chr(_HANGUL_BASE + initial * 21 * 28 + rest)


def _with_initial_rule(options: tuple[str, ...]) -> tuple[str, ...]:
    """Each reading as written (the North's spelling) and by the initial-sound rule."""
    out: list[str] = []
    for option in (*options, *(initial_sound_rule(o) for o in options)):
        if option not in out:
            out.append(option)
    return tuple(out)


def _compositions(sizes: list[int], total: int, start: int = 0) -> Iterator[tuple[int, ...]]:
    """Choices of one option per position (``sizes[i]`` options at ``i``) whose indices add
    up to ``total``, in lexicographic order; only branches that can reach ``total``."""
    if start == len(sizes):
        if total == 0:
            yield ()
        return
    rest = sum(size - 1 for size in sizes[start + 1 :])
    for first in range(max(0, total - rest), min(total, sizes[start] - 1) + 1):
        for tail in _compositions(sizes, total - first, start + 1):
            yield (first, *tail)


def _likeliest(sizes: list[int], cap: int) -> list[tuple[int, ...]]:
    """The ``cap`` choices nearest to every position's first option (fewest steps away)."""
    picks: list[tuple[int, ...]] = []
    for total in range(sum(size - 1 for size in sizes) + 1):
        for choice in _compositions(sizes, total):
            picks.append(choice)
            if len(picks) >= cap:
                return picks
    return picks


def hanja_spellings(text: str) -> list[str]:
    """The Hangul spellings of a name written in Hanja (Hangul syllables among them kept),
    likeliest first, at most ``MAX_HANJA_SPELLINGS``; none when a character has no Korean
    reading or the name is longer than a person's name is."""
    table = hanja_table()
    # Punctuation between the parts of a name (金·正恩, 金-正恩) separates them like a space.
    chunks = "".join(c if c.isalpha() else " " for c in text).split()
    if not chunks or sum(len(c) for c in chunks) > MAX_HANJA_CHARACTERS:
        return []
    one_word = len(chunks) == 1
    # Each position: the syllables it may be read as, and the word it belongs to.
    options: list[tuple[str, ...]] = []
    word_of: list[float] = []
    # The whole name in the North's spelling (each first reading as written, 리 for 李) and
    # in the South's (the initial-sound rule at each word's start): always read, whatever
    # the cap leaves out of the rest.
    north: list[int] = []
    south: list[int] = []
    for number, chunk in enumerate(chunks):
        position = 0
        given_start = 1
        word: float = number
        if number == 0 and len(chunk) >= 3 and chunk[:2] in _HANJA_TWO_SYLLABLE_SURNAMES:
            # A two-syllable surname, written apart from the given name: Namgung Min Su.
            options.append((_HANJA_TWO_SYLLABLE_SURNAMES[chunk[:2]],))
            word_of.append(word)
            north.append(0)
            south.append(0)
            word, position, given_start = 0.5, 2, 2
        while position < len(chunk):
            char = chunk[position]
            if _is_hangul_syllable(char):
                found: tuple[str, ...] = (char,)
            elif word == 0 and position == 0 and char in _HANJA_SURNAMES:
                found = _HANJA_SURNAMES[char]
            else:
                found = table.get(char, ())[:MAX_HANJA_READINGS]
                if not found:
                    return []
            # The North writes the reading the initial-sound rule would change (리, not 이).
            written = next((o for o in found if initial_sound_rule(o) != o), found[0])
            # A word starts here: the name, or the given name after the surname.
            starts_word = position == 0 or (one_word and position == given_start)
            if starts_word:
                found = _with_initial_rule(found)
            options.append(found)
            word_of.append(word)
            north.append(found.index(written))
            south.append(found.index(initial_sound_rule(written)) if starts_word else north[-1])
            position += 1
    spellings: list[str] = []
    sizes = [len(o) for o in options]
    likeliest = _likeliest(sizes, MAX_HANJA_SPELLINGS)
    choices = list(dict.fromkeys([*likeliest, tuple(north), tuple(south)]))
    for choice in choices:
        words: dict[float, str] = {}
        for position, pick in enumerate(choice):
            words[word_of[position]] = words.get(word_of[position], "") + options[position][pick]
        spellings.append(" ".join(words[key] for key in sorted(words)))
    return spellings


def _hanja_readings(text: str) -> list[Reading]:
    readings: list[Reading] = []
    for spelled in hanja_spellings(text):
        readings += _hangul_readings(spelled, HANJA_PREFIX)
    return readings


# --- Han -----------------------------------------------------------------------------

_WG_INITIALS = (
    ("zh", "ch"), ("ch", "ch"), ("sh", "sh"), ("z", "ts"), ("c", "ts"), ("j", "ch"), ("q", "ch"),
    ("x", "hs"), ("r", "j"), ("b", "p"), ("p", "p"), ("d", "t"), ("t", "t"), ("g", "k"),
    ("k", "k"),
)  # fmt: skip
_WG_FINALS = (
    ("iong", "iung"), ("ong", "ung"), ("ian", "ien"), ("ie", "ieh"), ("ui", "uei"), ("un", "un"),
    ("uo", "o"), ("you", "yu"), ("yan", "yen"), ("ye", "yeh"),
)  # fmt: skip


@lru_cache(maxsize=4096)
def wade_giles(syllable: str) -> str:
    """A pinyin syllable in Wade-Giles, without apostrophes or tone marks."""
    s = syllable.lower()
    if s in {"zi", "ci", "si"}:
        return {"zi": "tzu", "ci": "tzu", "si": "ssu"}[s]
    if s in {"zhi", "chi", "shi", "ri"}:
        return {"zhi": "chih", "chi": "chih", "shi": "shih", "ri": "jih"}[s]
    initial, rest = "", s
    for pinyin, wg in _WG_INITIALS:
        if s.startswith(pinyin):
            initial, rest = wg, s[len(pinyin) :]
            break
    if initial in {"ch", "hs"} and rest.startswith("u") and s[0] in "jqx":
        rest = "ü" + rest[1:]
    for pinyin, wg in _WG_FINALS:
        if rest.endswith(pinyin):
            rest = rest[: -len(pinyin)] + wg
            break
    if rest == "e" and initial:
        rest = "o" if initial in {"k", "h"} else "e"
    return (initial + rest).replace("ü", "u")


def _han_readings(text: str) -> list[Reading]:
    def pinyin(char: str) -> str:
        return anyascii(char).lower()

    groups = _syllable_groups(text, pinyin)
    readings = [Reading(spelled, "pinyin") for spelled in _east_asian_names(groups)]
    wg_groups = [[wade_giles(s) if s.isalpha() else s for s in g] for g in groups]
    if wg_groups != groups:
        readings += [Reading(spelled, "wade-giles") for spelled in _east_asian_names(wg_groups)]
    return readings


# --- everything ----------------------------------------------------------------------


def _prepare(text: str, found: set[str]) -> str:
    if "GREEK" in found:
        lowered = text.lower()
        for greek, latin in _GREEK_DIGRAPHS:
            lowered = lowered.replace(greek, latin)
        text = lowered
    if "ARABIC" in found:
        # The article is written joined (الرحمن); the lists write it apart or drop it.
        # ظ is z in the names the lists spell (Zawahiri, Hafiz, Zarif); anyascii reads dh.
        text = _ARABIC_ARTICLE.sub("al ", text.replace("ظ", "z"))
        # A word-initial alef or ayin is a written vowel: the lists begin such names with one.
        text = _ARABIC_INITIAL_VOWEL.sub("a", text)
        # A medial alef is a long a, which anyascii leaves out (فاطمة reads ftmh).
        text = _ARABIC_MEDIAL_ALEF.sub("a", text)
        # تش spells the ch of foreign names (Chouka, Chiheb).
        text = text.replace("تش", "ch")
        for pattern, latin in _ARABIC_PARTICLES:
            text = pattern.sub(latin, text)
        # Persian: a final he before a zero-width non-joiner is the vowel e (خامنه‌ای).
        text = text.replace("ه\u200c", "\u200c").replace("\u200c", "")
    if "HEBREW" in found:
        text = _HEBREW_GERESH.sub(lambda m: _GERESH_SOUNDS[m.group(1)], text)
        text = _HEBREW_INITIAL_VOWEL.sub("a", text.translate(_HEBREW_LETTERS))
        text = _HEBREW_MEDIAL_HE.sub("eה", text)
    return text


def readings(text: str) -> list[Reading]:
    """Every Latin reading of ``text`` the matcher tries, the plainest first."""
    text = strip_accents(text)
    found = scripts(text)
    if found <= {"LATIN"}:
        return [Reading(text, "latin")]
    text = _prepare(text, found)
    vowelless = bool(found & VOWELLESS_SCRIPTS)
    result: list[Reading] = []
    if "GREEK" in found:
        foreign = text
        for greek, latin in _GREEK_FOREIGN:
            foreign = foreign.replace(greek, latin)
        result.append(Reading(" ".join(anyascii(foreign).split()), "anyascii (foreign name)"))
    if "HANGUL" in found:
        # Han characters inside a Hangul name are Hanja: read them in Hangul first.
        mixed = _hanja_readings(text) if "CJK" in found else []
        result += mixed or _hangul_readings(text)
    elif "CJK" in found and not found & {"HIRAGANA", "KATAKANA"}:
        # Chinese readings first, then the Korean reading of the same characters.
        result += _han_readings(text)
        result += _hanja_readings(text)
    # Syllabic scripts anyascii spells run together (KimJongUn): keep the syllables apart.
    spaced = "".join(
        f" {anyascii(c)} " if script_of(c) in {"CJK", "HANGUL"} else anyascii(c) for c in text
    )
    if "HEBREW" in found and "ח" in text:
        # Het spells both the h of Hassan and the kh of Khalid: read it both ways.
        result.append(
            Reading(" ".join(anyascii(text.replace("ח", "kh")).split()), "anyascii", vowelless)
        )
    result.append(
        Reading(
            " ".join(spaced.split()),
            "anyascii",
            vowelless=vowelless,
            long_vowels="ARABIC" in found and found <= {"ARABIC"},
        )
    )
    unique: list[Reading] = []
    seen: set[str] = set()
    for reading in result:
        if reading.text.lower() not in seen:
            seen.add(reading.text.lower())
            unique.append(reading)
    return unique


def to_latin(text: str) -> str:
    """The first reading of ``text`` in Latin letters."""
    return readings(text)[0].text
