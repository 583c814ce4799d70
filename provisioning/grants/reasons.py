"""A suspension reason as the people it affects read it: words, never codes or list details.

One table for the keys page, the partner home and the access notices. A screening hold
says only that a check is not finished: what matched stays with compliance.
"""

from __future__ import annotations

REASON_WORDS = {
    "regulatory": "Restricted by a government determination",
    "compliance": "A compliance check is not finished",
    "ops": "Stopped by our operations team",
    "certification": "Not recertified by the deadline",
}


def reason_words(kind: str, reference: str = "") -> str:
    """``("regulatory", "determination:BIS-2026-17")`` → "Restricted by a government
    determination (BIS-2026-17)". Internal references (a bulk action, an emergency stop's
    event id) are left out: they mean nothing to a partner."""
    words = REASON_WORDS.get(kind, "Suspended")
    if kind == "regulatory":
        named = reference.removeprefix("determination:")
        if named and ":" not in named:
            return f"{words} ({named})"
    return words
