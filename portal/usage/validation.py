"""Checking a gateway's usage batch event by event, with reasons a gateway author can act on.

Validation needs the keys and models the batch names; ``validate_events`` fetches them in
two queries whatever the batch size, and returns the good events resolved to their
credential, with a list of reasons for every bad one (by index in the batch).
"""

from __future__ import annotations

import datetime as dt
import re
from dataclasses import dataclass, field
from typing import Any

from django.db.models import Q
from django.utils import timezone
from django.utils.dateparse import parse_datetime

from foundation.countries import country_names
from foundation.input_guard import control_character_fields, datetime_in_range
from provisioning.catalog.models import CoveredModel
from provisioning.credentials.models import Credential

FIELDS = ("key_prefix", "model", "time", "source_country", "requests")
PREFIX_RE = re.compile(r"^[0-9a-f]{16}$")
# Gateways' clocks drift; anything further ahead than this is a mistake, not drift.
MAX_CLOCK_SKEW = dt.timedelta(minutes=5)
MAX_REQUESTS_PER_EVENT = 10_000_000


@dataclass(frozen=True)
class ValidEvent:
    index: int
    credential: Credential
    # The rotated-out key was used: it is valid only until the rotation overlap ends.
    previous_key: bool
    covered_model: CoveredModel
    occurred_at: dt.datetime
    source_country: str
    requests: int


@dataclass
class Validated:
    valid: list[ValidEvent] = field(default_factory=list)
    errors: list[dict[str, Any]] = field(default_factory=list)


def _prefix(value: Any) -> str | None:
    if not isinstance(value, str):
        return None
    value = value.strip()
    if value.startswith("clr_"):
        value = value[4:]
    return value if PREFIX_RE.match(value) else None


def _time(value: Any) -> dt.datetime | None:
    if not isinstance(value, str):
        return None
    try:
        parsed = parse_datetime(value.strip())
    except ValueError:
        return None
    # Range-checked before any arithmetic: 0001-01-01T00:00:00+14:00 cannot be put in UTC.
    if parsed is None or timezone.is_naive(parsed) or not datetime_in_range(parsed):
        return None
    return parsed


def _shape(index: int, raw: Any, now: dt.datetime) -> tuple[dict[str, Any], list[str]]:
    """Field-level checks that need no database."""
    if not isinstance(raw, dict):
        return {}, ["An event must be a JSON object with " + ", ".join(FIELDS) + "."]
    reasons: list[str] = []
    missing = [name for name in FIELDS if name not in raw]
    if missing:
        reasons.append("Missing field(s): " + ", ".join(missing) + ".")
    unknown = sorted(set(raw) - set(FIELDS))
    if unknown:
        reasons.append("Unknown field(s): " + ", ".join(unknown) + ".")
    clean: dict[str, Any] = {}
    controlled = [name for name in control_character_fields(raw) if name]
    if controlled:
        # Nothing with a NUL or other control character reaches a query or a row.
        reasons.append("Control characters (such as NUL) in: " + ", ".join(controlled) + ".")
        return clean, reasons
    if "key_prefix" in raw:
        prefix = _prefix(raw["key_prefix"])
        if prefix is None:
            reasons.append(
                "key_prefix must be the 16 lower-case hex characters after clr_ in the key."
            )
        clean["key_prefix"] = prefix
    if "model" in raw:
        if not isinstance(raw["model"], str) or not raw["model"].strip():
            reasons.append("model must be the covered model's slug, for example frontier-x.")
        clean["model"] = str(raw["model"]).strip()
    if "time" in raw:
        occurred = _time(raw["time"])
        if occurred is None:
            reasons.append(
                "time must be an ISO 8601 date and time with a time zone, "
                "for example 2026-11-27T08:00:00Z."
            )
        elif occurred > now + MAX_CLOCK_SKEW:
            reasons.append("time is in the future; check the gateway's clock.")
        clean["time"] = occurred
    if "source_country" in raw:
        country = raw["source_country"]
        code = country.strip().upper() if isinstance(country, str) else ""
        if code not in country_names():
            reasons.append(
                "source_country must be an ISO 3166-1 alpha-2 code, for example DE or US."
            )
        clean["source_country"] = code
    if "requests" in raw:
        count = raw["requests"]
        if isinstance(count, bool) or not isinstance(count, int):
            reasons.append("requests must be a whole number.")
        elif not 1 <= count <= MAX_REQUESTS_PER_EVENT:
            reasons.append(f"requests must be between 1 and {MAX_REQUESTS_PER_EVENT:,}.")
        clean["requests"] = count
    return clean, reasons


def validate_events(events: list[Any], *, now: dt.datetime | None = None) -> Validated:
    now = now or timezone.now()
    shaped = [_shape(index, raw, now) for index, raw in enumerate(events)]
    prefixes = {clean["key_prefix"] for clean, reasons in shaped if not reasons}
    slugs = {clean["model"] for clean, reasons in shaped if not reasons}
    credentials: dict[str, tuple[Credential, bool]] = {}
    if prefixes:
        rows = Credential.objects.filter(
            Q(key_prefix__in=prefixes) | Q(previous_key_prefix__in=prefixes)
        ).select_related("person", "grant__organisation", "grant__stage", "grant__covered_model")
        for credential in rows:
            credentials[credential.key_prefix] = (credential, False)
            if credential.previous_key_prefix:
                credentials[credential.previous_key_prefix] = (credential, True)
    models = {m.slug: m for m in CoveredModel.objects.filter(slug__in=slugs)} if slugs else {}

    result = Validated()
    for index, (clean, reasons) in enumerate(shaped):
        if not reasons:
            found = credentials.get(clean["key_prefix"])
            model = models.get(clean["model"])
            if found is None:
                reasons.append("No key has this key_prefix.")
            if model is None:
                reasons.append(f"No covered model has the slug {clean['model']!r}.")
            if found is not None and model is not None:
                credential = found[0]
                if credential.grant.covered_model_id != model.pk:
                    reasons.append(
                        f"This key is for {credential.grant.covered_model.slug}, not {model.slug}."
                    )
        if reasons:
            result.errors.append({"index": index, "reasons": reasons})
            continue
        credential, previous = credentials[clean["key_prefix"]]
        result.valid.append(
            ValidEvent(
                index=index,
                credential=credential,
                previous_key=previous,
                covered_model=models[clean["model"]],
                occurred_at=clean["time"],
                source_country=clean["source_country"],
                requests=clean["requests"],
            )
        )
    return result
