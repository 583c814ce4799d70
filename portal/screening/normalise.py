# ruff: noqa: RUF001, RUF002 -- apostrophe look-alikes and special letters are matched on purpose.
"""Names to comparable tokens: one function for list names and screened names alike.

The steps, in order: accents stripped and other scripts read in Latin (``transliteration``,
several readings for Han and Hangul), ``LAST, First`` to ``First LAST``, diacritics
and case folded, apostrophes dropped (QAR'AWI = QARAWI), other punctuation to spaces,
leading honorifics and trailing generation suffixes removed. Each name then yields up to
two *forms*: particles (al, bin, van der ...) dropped, and particles glued to the next
token (al rashid → alrashid, abdel-rahman → abdelrahman), so either spelling meets the
other. Tokens are compared as phonetic *skeletons* that forgive the usual transliteration
differences (x/ks, kh/h, y/i, doubled letters).
"""

from __future__ import annotations

import re
import unicodedata
from dataclasses import dataclass
from functools import lru_cache

from rapidfuzz.distance import OSA

from portal.screening.transliteration import Reading, mixed_scripts, readings, scripts

# Letters NFKD does not decompose into a base letter plus accents.
_SPECIAL_LETTERS = str.maketrans(
    {"ß": "ss", "ø": "o", "æ": "ae", "œ": "oe", "đ": "d", "ł": "l", "ı": "i", "þ": "th", "ð": "d"}
)
_APOSTROPHES = re.compile(r"['`´‘’ʼʻ]")
_NON_WORD = re.compile(r"[^a-z0-9\- ]+")

HONORIFICS = frozenset(
    [
        "mr",
        "mrs",
        "ms",
        "miss",
        "mx",
        "dr",
        "prof",
        "professor",
        "sir",
        "dame",
        "lady",
        "lord",
        "sheikh",
        "shaykh",
        "sheik",
        "shaikh",
        "haji",
        "hajji",
        "hadji",
        "al-haj",
        "alhaj",
        "imam",
        "mullah",
        "mulla",
        "maulana",
        "general",
        "gen",
        "col",
        "colonel",
        "maj",
        "major",
        "capt",
        "captain",
        "lt",
        "lieutenant",
        "brig",
        "brigadier",
        "admiral",
        "adm",
        "commander",
        "cmdr",
        "president",
        "minister",
        "rev",
        "reverend",
        "father",
        "engr",
        "eng",
        "hon",
        "honourable",
    ]
)
GENERATION_SUFFIXES = frozenset({"jr", "sr", "ii", "iii", "iv"})
# Dropped in one form, glued to the following token in the other.
PARTICLES = frozenset(
    [
        "al",
        "el",
        "ul",
        "bin",
        "ibn",
        "bint",
        "ben",
        "van",
        "von",
        "der",
        "den",
        "de",
        "del",
        "della",
        "di",
        "da",
        "dos",
        "das",
        "du",
        "la",
        "le",
        "ter",
        "ten",
        "y",
        "e",
    ]
)
# Not dropped (they carry meaning: "Abu Bakr" is not "Bakr") but glued in the merged form.
GLUE_ONLY = frozenset({"abu", "abd", "abdel", "abdul", "abdal", "bou", "mac", "mc", "st"})

_SKELETON_STEPS = (
    ("x", "ks"),
    ("kh", "h"),
    ("ph", "f"),
    ("ck", "k"),
    ("q", "k"),
    ("w", "v"),
    ("y", "i"),
    ("ou", "u"),
    ("ee", "i"),
    ("oo", "u"),
    ("dzh", "j"),
)
_DOUBLES = re.compile(r"(.)\1+")
_CONSONANT_STEPS = (
    ("kh", "k"),
    ("sh", "s"),
    ("ch", "c"),
    ("th", "t"),
    ("dh", "d"),
    ("gh", "g"),
    ("ph", "f"),
    ("ck", "k"),
    ("x", "ks"),
    ("c", "k"),
    ("q", "k"),
    ("z", "s"),
    ("p", "f"),  # Hebrew writes p and f with one letter; Arabic writes p as b or f
    ("j", "g"),  # ج is g in Egypt: Gamal / Jamal
)
_VOWELS = re.compile(r"[aeiouyvw]")
# Korean romanisations differ by voicing and vowel spelling, not by sound: McCune-Reischauer
# Chol / DPRK Jol / Revised Cheol, Kwang / Gwang, Il / Ir, Pyong / Byeong.
_KOREAN_STEPS = (
    ("eo", "o"),
    ("eu", "u"),
    ("oo", "u"),
    ("sh", "s"),
    ("ch", "c"),
    ("j", "c"),
    ("g", "k"),
    ("d", "t"),
    ("b", "p"),
    ("l", "r"),
    ("ee", "i"),
)

# Legal forms, by class: compared as a class, never as words of the name. Spaced initials
# ("S.A.", "L.L.C.") are joined before the look-up.
LEGAL_FORM_CLASSES: dict[str, tuple[str, ...]] = {
    "limited": (
        "llc", "ooo", "ltd", "limited", "limited liability company", "limited liability co",
        "ltd liability co", "ltd co", "private limited", "pvt ltd", "pte ltd", "pty ltd",
        "pvt", "pte", "pty", "gmbh", "sarl", "srl", "sprl", "spzoo", "sp zoo", "tov", "too",
        "kft", "sro", "doo", "bv", "pllc", "eirl", "sac", "limitada", "private ltd",
        "pvt limited", "private", "sdn bhd", "bhd", "mchj", "pt", "ltda",
        "obshchestvo s ogranichennoy otvetstvennostyu",
        "obshchestvo s ogranichennoi otvetstvennostiu", "you xian gong si", "youxian gongsi",
        "limited liability partnership", "llp",
    ),
    "joint stock": (
        "jsc", "ao", "oao", "zao", "pao", "pjsc", "ojsc", "cjsc", "joint stock company",
        "joint stock co", "open joint stock company", "closed joint stock company",
        "public joint stock company", "aktsionernoe obshchestvo", "aktsionernoye obshchestvo",
        "otkrytoe aktsionernoe obshchestvo", "zakrytoe aktsionernoe obshchestvo",
        "publichnoe aktsionernoe obshchestvo", "sa", "sociedad anonima", "societe anonyme",
        "sociedade anonima", "spa", "societa per azioni", "ag", "aktiengesellschaft", "nv",
        "naamloze vennootschap", "plc", "public limited company", "ab", "asa", "oyj", "sab",
        "sae", "saog", "saoc", "psc", "pjs", "qsc", "qpsc", "bsc", "kscp", "ksc",
        "sa de cv", "sapi de cv", "s de rl de cv", "de cv", "cv", "sas", "ca", "saic", "saci",
    ),
    "corporation": ("corp", "corporation", "inc", "incorporated", "kk", "kabushiki kaisha"),
    "company": ("co", "company", "cia", "compania", "cie", "compagnie", "gong si", "gongsi"),
    "free zone": (
        "fze", "fzco", "fzc", "fzllc", "fz llc", "fze llc", "free zone establishment",
        "free zone company", "free zone co", "fz co", "free zone", "fz",
    ),
    "partnership": (
        "lp", "limited partnership", "kg", "gbr", "ohg", "snc", "gmbh co kg", "scs", "sca",
    ),
    "establishment": ("est", "establishment", "etablissement"),
}  # fmt: skip
# Short forms that are also syllables of people's names: a legal form only at either end.
_AMBIGUOUS_FORMS = frozenset(
    {
        "sa",
        "ag",
        "ao",
        "co",
        "nv",
        "pt",
        "kk",
        "ab",
        "bv",
        "est",
        "too",
        "fz",
        "lp",
        "kg",
        "cv",
        "ca",
        "sas",
        "sac",
        "sca",
    }
)
_LEGAL_FORMS: dict[tuple[str, ...], str] = {
    tuple(phrase.split()): cls for cls, phrases in LEGAL_FORM_CLASSES.items() for phrase in phrases
}
_LONGEST_FORM = max(len(k) for k in _LEGAL_FORMS)
# Vessel and aircraft prefixes: noise at the start of a name (M/V, MV, M.T., MT, ...).
VESSEL_PREFIXES = frozenset({"mv", "mt", "ms", "mts", "ss", "my", "fv", "mvs", "tb", "rv"})
_JOINABLE = frozenset({k[0] for k in _LEGAL_FORMS if len(k) == 1}) | VESSEL_PREFIXES
_HAS_DIGIT = re.compile(r"\d")
_ID_LABELS = frozenset({"imo", "msn", "no", "nr", "passport", "id", "reg", "registration"})
MAX_NAME_LENGTH = 300
CANNOT_SCREEN = "cannot screen this name"


def fold(text: str) -> str:
    """Latin script, lower case, no diacritics, no apostrophes, single spaces."""
    return _fold_latin(readings(text)[0].text)


def _fold_latin(text: str) -> str:
    text = unicodedata.normalize("NFKD", text)
    text = "".join(c for c in text if not unicodedata.combining(c)).lower()
    text = text.translate(_SPECIAL_LETTERS)
    text = _APOSTROPHES.sub("", text)
    text = _NON_WORD.sub(" ", text.replace("_", " "))
    return " ".join(text.split())


def unreverse(name: str) -> str:
    """``LAST, First`` → ``First LAST``; a trailing ``, Jr.`` is dropped on the way."""
    parts = [part.strip() for part in name.replace("，", ",").split(",")]
    parts = [p for p in parts if p and _fold_latin(p) not in GENERATION_SUFFIXES]
    if len(parts) != 2:
        return name if len(parts) != 1 else parts[0]
    last, first = parts
    return f"{first} {last}"


# What a vowelless reading leaves of an honorific is too short to tell from a name ("mr" is
# عمر, Omar): only the honorifics the reading spells out are removed.
_VOWELLESS_HONORIFICS = frozenset({"haji", "sheikh"})


def _clean_tokens(text: str, *, vowelless: bool = False) -> list[str]:
    tokens = _fold_latin(text).split()
    honorifics = _VOWELLESS_HONORIFICS if vowelless else HONORIFICS
    while (
        tokens
        and len(tokens) > 1
        and (
            tokens[0].strip("-") in honorifics
            or (not vowelless and len(tokens) > 2 and _misspelt_title(tokens[0]))
        )
    ):
        tokens.pop(0)
    while tokens and tokens[-1] in GENERATION_SUFFIXES and len(tokens) > 1:
        tokens.pop()
    return [t for t in (t.strip("-") for t in tokens) if t]


_LONG_TITLES = tuple(h for h in HONORIFICS if len(h) >= 7 and h.isalpha())


def _misspelt_title(token: str) -> bool:
    """A long title with one typo before a name of two or more words (Colnoel, Gneeral)."""
    return len(token) >= 7 and any(
        abs(len(title) - len(token)) <= 1 and OSA.distance(title, token, score_cutoff=1) <= 1
        for title in _LONG_TITLES
    )


def base_tokens(name: str) -> list[str]:
    """Folded tokens of ``name`` without honorifics; hyphens kept inside tokens."""
    return _clean_tokens(readings(unreverse(name))[0].text)


def normalised(name: str) -> str:
    """The stored, human-readable normal form: folded tokens in list order."""
    return " ".join(base_tokens(name))


def _join_initials(tokens: list[str]) -> list[str]:
    """``s a r l`` → ``sarl``, ``m v`` → ``mv``: runs of single letters that spell a form."""
    out: list[str] = []
    i = 0
    while i < len(tokens):
        if len(tokens[i]) == 1:
            j = i
            while j < len(tokens) and len(tokens[j]) == 1:
                j += 1
            joined = "".join(tokens[i:j])
            # The longest prefix of the run that is a known form or prefix.
            for end in range(j, i + 1, -1):
                candidate = "".join(tokens[i:end])
                if candidate in _JOINABLE or (candidate,) in _LEGAL_FORMS:
                    out.append(candidate)
                    i = end
                    break
            else:
                out.append(tokens[i])
                i += 1
            del joined
            continue
        out.append(tokens[i])
        i += 1
    return out


def split_legal_forms(tokens: list[str]) -> tuple[list[str], list[tuple[str, str]]]:
    """The name's tokens without legal forms and vessel prefixes, and the forms found
    (as ``(written, class)``; a vessel prefix has the class ``vessel prefix``)."""
    tokens = _join_initials(
        [p for t in tokens for p in (t.split("-") if _is_form_part(t) else [t])]
    )
    found: list[tuple[str, str]] = []
    if len(tokens) > 1 and tokens[0] in VESSEL_PREFIXES:
        found.append((tokens[0], "vessel prefix"))
        tokens = tokens[1:]
    kept: list[str] = []
    i = 0
    while i < len(tokens):
        for size in range(min(_LONGEST_FORM, len(tokens) - i), 0, -1):
            phrase = tuple(tokens[i : i + size])
            cls = _LEGAL_FORMS.get(phrase)
            if cls is None:
                continue
            at_edge = i == 0 or i + size == len(tokens) or tokens[i + size] in {"and"}
            if size == 1 and phrase[0] in _AMBIGUOUS_FORMS and not at_edge:
                continue
            if len(tokens) - size < 1:
                continue  # a name that is only a legal form keeps it as its name
            found.append((" ".join(phrase), cls))
            i += size
            break
        else:
            fuzzy = _fuzzy_legal_form(tokens[i]) if i == len(tokens) - 1 and kept else None
            if fuzzy is not None:
                found.append((tokens[i], fuzzy))
            else:
                kept.append(tokens[i])
            i += 1
    return kept, found


_LONG_FORMS = {k[0]: v for k, v in _LEGAL_FORMS.items() if len(k) == 1 and len(k[0]) >= 6}


def _fuzzy_legal_form(token: str) -> str | None:
    """A long legal-form word with one typo at the end of a name (LIMTED, CORPORAITON)."""
    if len(token) < 6:
        return None
    for form, cls in _LONG_FORMS.items():
        if abs(len(form) - len(token)) <= 1 and OSA.distance(form, token, score_cutoff=1) <= 1:
            return cls
    return None


def _is_form_part(token: str) -> bool:
    return "-" in token and all(
        (p,) in _LEGAL_FORMS or p in VESSEL_PREFIXES for p in token.split("-") if p
    )


@dataclass(frozen=True)
class NameForm:
    """One way a name is compared: its word tokens, numbers, legal forms and reading."""

    tokens: tuple[str, ...]
    numbers: frozenset[str]
    legal_forms: frozenset[str]  # classes
    scheme: str
    vowelless: bool
    written_forms: tuple[str, ...] = ()
    long_vowels: bool = False


def _forms_of_tokens(tokens: list[str]) -> list[tuple[str, ...]]:
    dropped: list[str] = []
    for token in tokens:
        dropped.extend(p for p in token.split("-") if p and p not in PARTICLES)
    merged: list[str] = []
    pending = ""
    for token in tokens:
        joined = token.replace("-", "")
        if token in PARTICLES or token in GLUE_ONLY:
            pending += joined
            continue
        merged.append(pending + joined)
        pending = ""
    if pending:
        merged.append(pending)
    result: list[tuple[str, ...]] = []
    for form in (tuple(dropped), tuple(merged)):
        if form and form not in result:
            result.append(form)
    if not result and tokens:
        # A name made only of particles ("DE LA") still deserves one form.
        result.append(tuple(t.replace("-", "") for t in tokens))
    return result


def _reading_forms(reading: Reading) -> list[NameForm]:
    tokens = _clean_tokens(reading.text, vowelless=reading.vowelless)
    words = [t for t in tokens if not _HAS_DIGIT.search(t)]
    if len(words) < len(tokens):
        # The labels of identifiers written into the name ("AMBER IMO 9357406").
        words = [w for w in words if w not in _ID_LABELS] or words
    numbers = frozenset(t.replace("-", "") for t in tokens if _HAS_DIGIT.search(t))
    words, legal = split_legal_forms(words)
    classes = frozenset(cls for _, cls in legal if cls != "vessel prefix")
    written = tuple(w for w, _ in legal)
    return [
        NameForm(
            form,
            numbers,
            classes,
            reading.scheme,
            reading.vowelless,
            written,
            long_vowels=reading.long_vowels,
        )
        for form in _forms_of_tokens(words)
    ]


@lru_cache(maxsize=200_000)
def name_forms(name: str) -> tuple[NameForm, ...]:
    """Every form ``name`` is matched by: each reading, with particles dropped and glued."""
    result: list[NameForm] = []
    seen: set[tuple[tuple[str, ...], frozenset[str]]] = set()
    for reading in readings(unreverse(name[: MAX_NAME_LENGTH * 2])):
        for form in _reading_forms(reading):
            key = (form.tokens, form.numbers)
            if key not in seen:
                seen.add(key)
                result.append(form)
    return tuple(result)


def forms(name: str) -> list[tuple[str, ...]]:
    """The token forms ``name`` is matched by: particles dropped, and particles glued."""
    return [f.tokens for f in name_forms(name)]


def skeleton(token: str) -> str:
    """The token as it sounds, roughly: transliteration variants collapse to one spelling."""
    for old, new in _SKELETON_STEPS:
        token = token.replace(old, new)
    return _DOUBLES.sub(r"\1", _HARD_C.sub("k", token))


_HARD_C = re.compile(r"c(?![hei])")


_LOOSE_STEPS = (("h", ""), ("mp", "b"), ("mb", "b"), ("nt", "d"), ("nd", "d"), ("v", "u"))


def loose_key(token: str) -> str:
    """The skeleton as Greek writes foreign names: no h, b and d spelled μπ and ντ, w as ου
    (Hamad, Amparo, Duran, Waked all meet their Greek spellings)."""
    token = skeleton(token)
    for old, new in _LOOSE_STEPS:
        token = token.replace(old, new)
    return _DOUBLES.sub(r"\1", token)


@lru_cache(maxsize=65536)
def consonant_key(token: str) -> str:
    """The consonants of a token, as a script without written vowels records them
    (``muhammad`` and ``mhmd`` both give ``mhmd``); a final ``h`` is a vowel there too."""
    token = token.replace("`", "").replace("-", "")
    # A written initial vowel (alef, ayin) is kept as one mark: Islam is not Salma.
    initial = "a" if token[:1] in {"a", "e", "i", "o", "u"} else ""
    for old, new in _CONSONANT_STEPS:
        token = token.replace(old, new)
    # Only a written final h: the h of Eliyahu (alyhv) is a consonant, not Ali's vowel.
    final_h = token.endswith("h")
    token = initial + _VOWELS.sub("", token)
    token = _DOUBLES.sub(r"\1", token)
    return token[:-1] if final_h and len(token) > 2 and token.endswith("h") else token


_DIGRAPHS = (("kh", "k"), ("sh", "s"), ("ch", "c"), ("th", "t"), ("dh", "d"), ("gh", "g"))


def _cv_letters(token: str, *, collapse: bool = True) -> str:
    token = token.replace("`", "").replace("'", "").replace("-", "")
    for old, new in _DIGRAPHS:
        token = token.replace(old, new)
    return _DOUBLES.sub(r"\1", token) if collapse else token


@lru_cache(maxsize=65536)
def vowel_shape(token: str) -> str:
    """A Latin spelling as consonants (C), vowels (V, a run counting once) and v/w (v):
    the shape a written long vowel of an Arabic-script name is checked against."""
    shape = "".join("V" if c in "aeiouy" else "v" if c in "vw" else "C" for c in _cv_letters(token))
    return re.sub("V+", "V", shape)


@lru_cache(maxsize=65536)
def long_vowel_pattern(token: str) -> re.Pattern[str]:
    """What an Arabic-script token's reading asks of a Latin spelling: a vowel wherever it
    writes one (alef, ya; waw is a vowel or a w/v), short vowels anywhere in between, and a
    final h (ta marbuta) read as a vowel or a consonant."""
    # Arabic writes a doubled consonant once (shadda): two letters have a vowel between.
    letters = _cv_letters(token, collapse=False)
    elements: list[str] = []
    for position, c in enumerate(letters):
        if c in "aeiouy":
            kind = "V"
        elif c == "w":
            kind = "W"
        elif c == "h" and position == len(letters) - 1 and position > 0:
            kind = "H"
        elif position and letters[position - 1] == c:
            # Two of one letter: a consonant repeated across a vowel (خناني), or the lam of
            # الله that the list spells once (Nasrallah).
            elements[-1] = "D"
            continue
        else:
            kind = "C"
        if kind in "VW" and elements and elements[-1][0] in "VW":
            elements[-1] += kind
        else:
            elements.append(kind)
    parts = []
    for element in elements:
        if element[0] in "VW":
            parts.append("V" if set(element) == {"V"} else "[Vv]+")
        elif element == "H":
            parts.append("(?:C|V)")
        elif element == "D":
            parts.append("C(?:V?C)?")
        else:
            parts.append("C")
    return re.compile("V?" + "V?".join(parts) + "V?")


def long_vowels_agree(query_token: str, list_token: str) -> bool:
    """Whether a Latin list spelling has the long vowels an Arabic-script token writes."""
    return long_vowel_pattern(query_token).fullmatch(vowel_shape(list_token)) is not None


@lru_cache(maxsize=65536)
def korean_key(token: str) -> str:
    """A romanised Korean syllable or name, folded over the romanisation systems."""
    for old, new in _KOREAN_STEPS:
        token = token.replace(old, new)
    return token.replace("-", "")


_NAME_CHARS = frozenset("LMN")
_ALLOWED_PUNCTUATION = frozenset(["Pd", "Ps", "Pe", "Pi", "Pf", "Po", "Zs"])


def unscreenable_reason(name: str) -> str | None:
    """Why ``name`` cannot be screened to a clear result, or None when it can.

    A name that yields nothing comparable, that is too long to be a legal name, that holds
    control characters, symbols or emoji, or that mixes scripts (a look-alike letter from
    another script hides a name from the lists) is never read as clear.
    """
    stripped = name.strip()
    if not stripped:
        return f"{CANNOT_SCREEN}: it is empty"
    if len(stripped) > MAX_NAME_LENGTH:
        return (
            f"{CANNOT_SCREEN}: it is {len(stripped):,} characters long (at most {MAX_NAME_LENGTH})"
        )
    odd = sorted(
        {
            c
            for c in stripped
            if unicodedata.category(c)[0] not in _NAME_CHARS
            and unicodedata.category(c) not in _ALLOWED_PUNCTUATION
            and c not in "\u200c\u200d"
        }
    )
    if odd:
        shown = ", ".join(f"U+{ord(c):04X}" for c in odd[:5])
        return f"{CANNOT_SCREEN}: it holds control characters, symbols or emoji ({shown})"
    found = scripts(stripped)
    if mixed_scripts(found):
        return f"{CANNOT_SCREEN}: it mixes scripts ({', '.join(sorted(found)).lower()})"
    if not any(len(t) > 1 for f in name_forms(stripped) for t in f.tokens):
        return f"{CANNOT_SCREEN}: nothing in it can be compared with the lists"
    return None
