"""Writes on eligibility profiles: one transaction each, audited."""

from __future__ import annotations

import datetime as dt

from django.db import transaction

from portal.accounts.models import User
from portal.audit.services import audit_record
from portal.eligibility.models import Person, USPersonStatus
from portal.partners.models import Organisation


def person_create(
    *,
    actor: User | None,
    organisation: Organisation,
    user: User | None,
    legal_name: str,
    date_of_birth: dt.date | None,
    citizenships: list[str],
    residence_country: str,
    us_person_status: str = USPersonStatus.NONE,
) -> Person:
    with transaction.atomic():
        person = Person.objects.create(
            organisation=organisation,
            user=user,
            legal_name=legal_name,
            date_of_birth=date_of_birth,
            citizenships=sorted({code.upper() for code in citizenships}),
            residence_country=residence_country.upper(),
            us_person_status=us_person_status,
        )
        audit_record(
            actor=actor,
            action="person.created",
            obj=person,
            organisation_id=organisation.pk,
            after={
                "legal_name": legal_name,
                "date_of_birth": date_of_birth,
                "citizenships": person.citizenships,
                "residence_country": person.residence_country,
                "us_person_status": us_person_status,
            },
        )
    return person
