"""Country names as lists spell them → ISO 3166-1 alpha-2 codes."""

from __future__ import annotations

from functools import lru_cache

import pycountry

# Spellings the OFAC and CSL lists use that the ISO names do not.
_LIST_SPELLINGS = {
    "russia": "RU",
    "korea, north": "KP",
    "north korea": "KP",
    "korea, south": "KR",
    "south korea": "KR",
    "turkey": "TR",
    "burma": "MM",
    "congo, democratic republic of the": "CD",
    "democratic republic of the congo": "CD",
    "congo, republic of the": "CG",
    "palestinian": "PS",
    "possibly palestinian": "PS",
    "west bank": "PS",
    "gaza": "PS",
    "the gambia": "GM",
    "gambia": "GM",
    "kosovo": "XK",
    "macedonia, the former yugoslav republic of": "MK",
    "macedonia": "MK",
    "ivory coast": "CI",
    "cote d ivoire": "CI",
    "laos": "LA",
    "vietnam": "VN",
    "syria": "SY",
    "iran": "IR",
    "venezuela": "VE",
    "bolivia": "BO",
    "tanzania": "TZ",
    "moldova": "MD",
    "czech republic": "CZ",
    "swaziland": "SZ",
    "cape verde": "CV",
    "united states of america": "US",
    "usa": "US",
    "uk": "GB",
    "great britain": "GB",
    "soviet union": "",
    "yugoslavia": "",
}


@lru_cache(maxsize=1024)
def country_code(name: str) -> str:
    """The alpha-2 code for ``name``, or "" when it names no country we recognise."""
    key = " ".join(name.replace("'", " ").replace(".", " ").split()).lower().strip()
    if not key:
        return ""
    if key in _LIST_SPELLINGS:
        return _LIST_SPELLINGS[key]
    if len(key) == 2 and pycountry.countries.get(alpha_2=key.upper()) is not None:
        return key.upper()
    try:
        return str(pycountry.countries.lookup(key).alpha_2)
    except LookupError:
        return ""


def is_country_code(code: str) -> bool:
    return len(code) == 2 and (
        code == "XK" or pycountry.countries.get(alpha_2=code.upper()) is not None
    )
