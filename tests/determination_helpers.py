"""The world the determination tests decide over: two models, a trusted cyber-defence
partner and an untrusted energy company, each person holding a key on both models."""

from __future__ import annotations

from typing import Any

from provisioning.catalog.models import CoveredModel
from provisioning.credentials.models import Credential
from tests.factories import (
    CompletePersonFactory,
    CoveredModelFactory,
    OrganisationFactory,
    StageFactory,
)
from tests.provisioning_fakes import active_grant, issue


def partners_on_two_models(
    *, dual: bool = False
) -> tuple[CoveredModel, CoveredModel, dict[tuple[str, str], Credential]]:
    """mythos-5 and fable; Trusted Cyber (US) with Ada US, Cy Foreign and, with ``dual``,
    Bo Dual (US and Iranian); Plain Energy with Di Energy. The keys by (model slug, person)."""
    mythos, fable = CoveredModelFactory(slug="mythos-5"), CoveredModelFactory(slug="fable")
    trusted = OrganisationFactory(
        legal_name="Trusted Cyber", verification_state="verified", trusted=True, country="US"
    )
    other = OrganisationFactory(
        legal_name="Plain Energy", verification_state="verified", sector="energy"
    )
    people: dict[str, Any] = {
        "us": CompletePersonFactory(organisation=trusted, legal_name="Ada US"),
    }
    if dual:
        people["dual"] = CompletePersonFactory(
            organisation=trusted,
            legal_name="Bo Dual",
            citizenships=["US", "IR"],
            us_person_status="citizen",
        )
    people["foreign"] = CompletePersonFactory(
        organisation=trusted,
        legal_name="Cy Foreign",
        citizenships=["FR"],
        residence_country="FR",
        us_person_status="none",
    )
    energy = CompletePersonFactory(organisation=other, legal_name="Di Energy")
    keys = {}
    for model in (mythos, fable):
        stage = StageFactory(covered_model=model, seats=10)
        trusted_grant = active_grant(organisation=trusted, stage=stage)
        other_grant = active_grant(organisation=other, stage=stage)
        for name, person in people.items():
            keys[(model.slug, name)] = issue(trusted_grant, person).credential
        keys[(model.slug, "energy")] = issue(other_grant, energy).credential
    return mythos, fable, keys
