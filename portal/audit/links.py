"""Where an audited object lives in the UI: ``object_type`` -> the URL name of its page.

The explorer links an event to its object when that page exists. Apps register their
detail pages here (``register_object_url``) or in ``OBJECT_URL_NAMES``; a name whose
URL is not installed yet is simply not linked, so the registry can run ahead of the
pages. Each URL takes the object's id as its only argument.
"""

from __future__ import annotations

from collections.abc import Mapping

from django.urls import NoReverseMatch, reverse

from portal.partners.models import Organisation

OBJECT_URL_NAMES: dict[str, str] = {
    "eligibility.person": "eligibility:person_detail",
    "catalog.coveredmodel": "catalog:model_detail",
    "applications.application": "applications:detail",
    "grants.grant": "grants:detail",
    "credentials.credential": "credentials:detail",
    "compliance.determination": "compliance:determination",
    "bulk.bulkaction": "bulk:detail",
    "deliveries.target": "deliveries:target",
    "certification.campaign": "certification:campaign",
}


# Pages addressed by the organisation's slug rather than the object's id: resolved when
# the organisation is among those the page already loaded (no query per row).
ORGANISATION_URL_NAMES: dict[str, str] = {
    "partners.organisation": "partners:staff_detail",
}


def register_object_url(object_type: str, url_name: str) -> None:
    OBJECT_URL_NAMES[object_type] = url_name


def object_url(
    object_type: str, object_id: str, organisations: Mapping[int, Organisation] | None = None
) -> str | None:
    if object_type in ORGANISATION_URL_NAMES:
        organisation = (organisations or {}).get(int(object_id)) if object_id.isdigit() else None
        if organisation is None:
            return None
        return _reverse(ORGANISATION_URL_NAMES[object_type], organisation.slug)
    url_name = OBJECT_URL_NAMES.get(object_type)
    if not url_name or not object_id:
        return None
    return _reverse(url_name, object_id)


def _reverse(url_name: str, argument: str) -> str | None:
    try:
        return reverse(url_name, args=[argument])
    except NoReverseMatch:
        return None
