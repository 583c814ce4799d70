"""Applications waiting in the review queue, ready for the review tests."""

from __future__ import annotations

import datetime as dt

from django.utils import timezone

from portal.accounts.models import User
from portal.applications.models import Application
from portal.applications.services import application_create_draft, application_update_draft
from portal.applications.states import ApplicationState
from portal.eligibility.models import Person, ScreeningState
from portal.eligibility.policies import ATTESTATION_VERSION, AUP_VERSION
from portal.partners.models import Organisation, VerificationState
from provisioning.catalog.models import CoveredModel, Stage
from tests.factories import CoveredModelFactory, PersonFactory, StageFactory, UserFactory


def eligible_person(organisation: Organisation, **kwargs: object) -> Person:
    now = timezone.now()
    return PersonFactory(
        organisation=organisation,
        screening_state=ScreeningState.CLEAR,
        attestation_version=ATTESTATION_VERSION,
        attested_at=now,
        aup_version=AUP_VERSION,
        aup_accepted_at=now,
        **kwargs,
    )


def four_eyes_stage(**kwargs: object) -> Stage:
    return StageFactory(covered_model=CoveredModelFactory(four_eyes=True), **kwargs)


def queued_application(
    organisation: Organisation,
    *,
    stage: Stage | None = None,
    four_eyes: bool = False,
    nominees: int = 1,
    state: str = ApplicationState.IN_REVIEW,
    submitted_days_ago: float = 0,
    created_by: User | None = None,
) -> Application:
    """An application already submitted (as the applications workflow leaves it)."""
    if organisation.verification_state != VerificationState.VERIFIED:
        organisation.verification_state = VerificationState.VERIFIED
        organisation.save(update_fields=["verification_state"])
    if stage is None:
        stage = StageFactory(covered_model=CoveredModelFactory(four_eyes=four_eyes))
    covered_model: CoveredModel = stage.covered_model
    application = Application.objects.create(
        organisation=organisation,
        covered_model=covered_model,
        stage=stage,
        state=state,
        use_case="Triage of incidents for our security operations centre.",
        attests_end_use=True,
        attests_no_transfer=True,
        attests_accuracy=True,
        created_by=created_by or UserFactory(),
        submitted_at=timezone.now() - dt.timedelta(days=submitted_days_ago),
    )
    application.nominees.set([eligible_person(organisation) for _ in range(nominees)])
    return application


def ready_draft(
    admin: User, organisation: Organisation, stage: Stage, people: list[Person]
) -> Application:
    """A draft with everything a submission needs: nominees, a use case, the attestations."""
    application = application_create_draft(
        actor=admin, organisation=organisation, covered_model=stage.covered_model, stage=stage
    )
    return application_update_draft(
        actor=admin,
        application=application,
        nominees=people,
        use_case="Red-team our SCADA detection rules against model-written exploits.",
        attestations={
            "attests_end_use": True,
            "attests_no_transfer": True,
            "attests_accuracy": True,
        },
    )
