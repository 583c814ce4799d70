"""Dates of birth as lists write them, kept as ISO strings that say their precision.

"1960-01-15" (a day), "1960-02" (a month), "1960" (a year), "1960/1962" (a range, also
for "circa": ±1 year, as lists mean it).
"""

from __future__ import annotations

import datetime as dt
import re

_MONTHS = {
    m: i
    for i, m in enumerate(
        ["jan", "feb", "mar", "apr", "may", "jun", "jul", "aug", "sep", "oct", "nov", "dec"], 1
    )
}
_ONE = r"(?:(\d{1,2}) )?(?:([A-Za-z]{3})[a-z]* )?(\d{4})"
_DAY_MONTH_YEAR = re.compile(rf"^(circa )?{_ONE}(?: to {_ONE})?$", re.IGNORECASE)


def _iso(day: str | None, month: str | None, year: str) -> str | None:
    if month is None:
        return year
    number = _MONTHS.get(month[:3].lower())
    if number is None:
        return None
    if day is None:
        return f"{year}-{number:02d}"
    try:
        return dt.date(int(year), number, int(day)).isoformat()
    except ValueError:
        return None


def parse_list_dob(text: str) -> str | None:
    """One OFAC ``DOB`` value ("15 Jan 1960", "circa 1960", "1960 to 1962") → ISO, or None."""
    text = " ".join(text.strip().rstrip(".").split())
    match = _DAY_MONTH_YEAR.match(text)
    if match is None:
        return None
    circa, day, month, year, _day2, _month2, year2 = match.groups()
    start = _iso(day, month, year)
    if start is None:
        return None
    if year2 is not None:
        return f"{year}/{year2}"
    if circa:
        return f"{int(year) - 1}/{int(year) + 1}"
    return start


def parse_iso_dob(text: str) -> str | None:
    """A CSL date of birth ("1978-12-05", "1955", "1960 to 1962") → ISO, or None."""
    text = text.strip()
    if re.fullmatch(r"\d{4}(-\d{2}(-\d{2})?)?", text):
        return text
    return parse_list_dob(text)


def year_span(value: str) -> tuple[int, int]:
    if "/" in value:
        start, end = value.split("/", 1)
        return int(start[:4]), int(end[:4])
    return int(value[:4]), int(value[:4])


def compare(dob: dt.date, listed: list[str]) -> str | None:
    """How a person's date of birth meets an entry's: "exact", "year", "mismatch" or None."""
    if not listed:
        return None
    best = "mismatch"
    for value in listed:
        if value == dob.isoformat():
            return "exact"
        low, high = year_span(value)
        if (
            value[:4].isdigit() and len(value) == 7 and value == dob.isoformat()[:7]
        ) or low - 1 <= dob.year <= high + 1:
            best = "year"
    return best
