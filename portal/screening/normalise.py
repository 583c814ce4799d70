# ruff: noqa: RUF001 -- apostrophe look-alikes and special letters are matched on purpose.
"""Names to comparable tokens: one function for list names and screened names alike.

The steps, in order: other scripts to Latin, ``LAST, First`` to ``First LAST``, diacritics
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

from portal.screening.transliteration import to_latin

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


def fold(text: str) -> str:
    """Latin script, lower case, no diacritics, no apostrophes, single spaces."""
    text = to_latin(text)
    text = unicodedata.normalize("NFKD", text)
    text = "".join(c for c in text if not unicodedata.combining(c)).lower()
    text = text.translate(_SPECIAL_LETTERS)
    text = _APOSTROPHES.sub("", text)
    text = _NON_WORD.sub(" ", text.replace("_", " "))
    return " ".join(text.split())


def unreverse(name: str) -> str:
    """``LAST, First`` → ``First LAST``; a trailing ``, Jr.`` is dropped on the way."""
    parts = [part.strip() for part in name.split(",")]
    parts = [p for p in parts if p and fold(p) not in GENERATION_SUFFIXES]
    if len(parts) != 2:
        return name if len(parts) != 1 else parts[0]
    last, first = parts
    return f"{first} {last}"


def base_tokens(name: str) -> list[str]:
    """Folded tokens of ``name`` without honorifics; hyphens kept inside tokens."""
    tokens = fold(unreverse(name)).split()
    while tokens and tokens[0].strip("-") in HONORIFICS and len(tokens) > 1:
        tokens.pop(0)
    while tokens and tokens[-1] in GENERATION_SUFFIXES and len(tokens) > 1:
        tokens.pop()
    return [t for t in (t.strip("-") for t in tokens) if t]


def normalised(name: str) -> str:
    """The stored, human-readable normal form: folded tokens in list order."""
    return " ".join(base_tokens(name))


def forms(name: str) -> list[tuple[str, ...]]:
    """The token forms ``name`` is matched by: particles dropped, and particles glued."""
    tokens = base_tokens(name)
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
    result = []
    for form in (tuple(dropped), tuple(merged)):
        if form and form not in result:
            result.append(form)
    if not result and tokens:
        # A name made only of particles ("DE LA") still deserves one form.
        result.append(tuple(t.replace("-", "") for t in tokens))
    return result


def skeleton(token: str) -> str:
    """The token as it sounds, roughly: transliteration variants collapse to one spelling."""
    for old, new in _SKELETON_STEPS:
        token = token.replace(old, new)
    return _DOUBLES.sub(r"\1", token)
