"""Demo data for the review workflow: one application waiting for a reviewer pair.

Called at the end of ``portal.web.demo.seed_demo``; safe to run twice.
"""

from __future__ import annotations

from django.conf import settings

from portal.accounts.models import User
from portal.applications.models import Application
from portal.applications.services import (
    ATTESTATION_FIELDS,
    application_create_draft,
    application_submit,
    application_update_draft,
)
from portal.eligibility.models import Person, ScreeningState
from portal.eligibility.services import person_save_profile
from portal.partners.models import Organisation
from provisioning.catalog.models import CoveredModel

# Used only when no screening list is loaded yet, so the applicant can be screened at all.
# The one entry is fictitious and matches nobody in the demo.
DEMO_SCREENING_LIST = (
    "source,name,type,programs,alt_names,remarks\n"
    '"Demo list (fictitious)","Kestrel Dynamics Trading LLC","Entity","DEMO","",'
    '"Demo data, not a real listing"\n'
)


def _screened(person: Person, *, screener: User) -> None:
    from portal.screening.lists import list_version_load
    from portal.screening.models import ListFormat, ListVersion
    from portal.screening.services import person_screen

    if not ListVersion.objects.filter(is_current=True).exists():
        path = settings.VAR_DIR / "demo-screening-list.csv"
        path.write_text(DEMO_SCREENING_LIST, encoding="utf-8")
        list_version_load(list_format=ListFormat.CSL, path=path, actor=screener)
    person_screen(person=person, actor=screener)


def seed_review_queue(*, screener: User) -> Application | None:
    """A submitted mythos-5 application of northwind-cyber, nominating its admin."""
    organisation = Organisation.objects.filter(slug="northwind-cyber").first()
    model = CoveredModel.objects.filter(slug="mythos-5").first()
    admin = User.objects.filter(username="nadia.reyes").first()
    if organisation is None or model is None or admin is None:
        return None
    if Application.objects.filter(organisation=organisation, covered_model=model).exists():
        return None
    person = Person.objects.get(user=admin, organisation=organisation)
    if not person.is_complete:
        person = person_save_profile(
            actor=admin,
            organisation=organisation,
            legal_name=person.legal_name,
            date_of_birth=person.date_of_birth,
            citizenships=list(person.citizenships),
            residence_country=person.residence_country,
            us_person_status=person.us_person_status,
            attest=True,
            accept_aup=True,
        )
    if person.screening_state == ScreeningState.UNSCREENED:
        _screened(person, screener=screener)
    application = application_create_draft(
        actor=admin,
        organisation=organisation,
        covered_model=model,
        stage=model.stages.get(name="evaluation"),
    )
    application_update_draft(
        actor=admin,
        application=application,
        nominees=[person],
        use_case=(
            "Triage of intrusion alerts and malware reverse engineering in our security "
            "operations centre."
        ),
        attestations=dict.fromkeys(ATTESTATION_FIELDS, True),
    )
    return application_submit(actor=admin, application=application)
