"""Where an audited object lives in the UI: ``object_type`` -> the URL name of its page.

The explorer links an event to its object when that page exists. Apps register their
detail pages here (``register_object_url``) or in ``OBJECT_URL_NAMES``; a name whose
URL is not installed yet is simply not linked, so the registry can run ahead of the
pages. Each URL takes the object's id as its only argument.
"""

from __future__ import annotations

from django.urls import NoReverseMatch, reverse

OBJECT_URL_NAMES: dict[str, str] = {
    "partners.organisation": "partners:organisation_detail",
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


def register_object_url(object_type: str, url_name: str) -> None:
    OBJECT_URL_NAMES[object_type] = url_name


def object_url(object_type: str, object_id: str) -> str | None:
    url_name = OBJECT_URL_NAMES.get(object_type)
    if not url_name or not object_id:
        return None
    try:
        return reverse(url_name, args=[object_id])
    except NoReverseMatch:
        return None
