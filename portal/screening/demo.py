"""The demo's screening: the real lists shipped in the repository, and people screened for real.

``seed_screening`` loads the OFAC SDN list with its aliases and the Consolidated Screening
List sample from ``portal/screening/data`` (once: a file already in force is not loaded again),
adds one nominee whose legal name is a listed person's, written in Cyrillic, and screens
everyone through the same service a list load's re-screen uses. That nominee is held as a
potential match, with the transliteration and aligned tokens as evidence for the officer.
"""

from __future__ import annotations

import datetime as dt
import hashlib
from dataclasses import dataclass

from portal.accounts.models import User
from portal.eligibility.models import Person
from portal.eligibility.services import person_create
from portal.partners.models import Organisation
from portal.screening.data import CSL_SAMPLE, OFAC_ALT, OFAC_SDN
from portal.screening.lists import list_version_load
from portal.screening.models import ListFormat, ListVersion
from portal.screening.services import people_rescreen

# MALKEVICH, Alexander Aleksandrovich (SDN 26235), as a Russian passport would spell him.
LISTED_NOMINEE = ("Александр Малькевич", dt.date(1975, 6, 14), ["RU"])
NOMINEE_ORGANISATION = "albion-secure"


@dataclass(frozen=True)
class DemoScreening:
    loaded: list[str]
    people: int
    held: int


def _in_force(list_format: str, sha256: str) -> bool:
    return ListVersion.objects.filter(
        list_format=list_format, is_current=True, sha256=sha256
    ).exists()


def seed_screening(*, actor: User | None) -> DemoScreening:
    """Load the shipped lists if they are not in force, add the listed nominee, screen all."""
    loaded = []
    sdn_hash = hashlib.sha256(OFAC_SDN.read_bytes()).hexdigest()
    if not _in_force(ListFormat.OFAC_SDN, sdn_hash):
        list_version_load(
            list_format=ListFormat.OFAC_SDN, path=OFAC_SDN, alt_path=OFAC_ALT, actor=actor
        )
        loaded.append(f"{OFAC_SDN.name} + {OFAC_ALT.name}")
    csl_hash = hashlib.sha256(CSL_SAMPLE.read_bytes()).hexdigest()
    if not _in_force(ListFormat.CSL, csl_hash):
        list_version_load(list_format=ListFormat.CSL, path=CSL_SAMPLE, actor=actor)
        loaded.append(CSL_SAMPLE.name)
    # A nominee of a partner that is verified but not trusted, with no sign-in of their own.
    organisation = (
        Organisation.objects.filter(slug=NOMINEE_ORGANISATION).first()
        or Organisation.objects.order_by("-pk").first()
    )
    name, born, citizenships = LISTED_NOMINEE
    if organisation is not None and not Person.objects.filter(legal_name=name).exists():
        person_create(
            actor=actor,
            organisation=organisation,
            user=None,
            legal_name=name,
            date_of_birth=born,
            citizenships=citizenships,
            residence_country=citizenships[0],
        )
    totals = people_rescreen(actor=actor)
    return DemoScreening(loaded=loaded, people=totals["people"], held=totals["held"])
