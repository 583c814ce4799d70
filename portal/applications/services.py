"""Writes on access applications: one transaction each, audited.

Reviewers' services (approve, reject, request information) live with the review
workflow and move applications through ``application_transition`` below, so that
every state change checks the one transition table and races lose cleanly.
"""

from __future__ import annotations

from collections.abc import Iterable
from typing import Any

from django.db import transaction
from django.utils import timezone

from foundation.audit.services import audit_record
from portal.accounts.models import User
from portal.applications.models import Application
from portal.applications.selectors import nominee_verdicts
from portal.applications.states import (
    EDITABLE_STATES,
    ApplicationChangedError,
    ApplicationError,
    ApplicationState,
    assert_transition,
)
from portal.eligibility.engine import Outcome
from portal.eligibility.models import Person
from portal.eligibility.rules import rule_in_force
from portal.partners.models import Organisation
from provisioning.catalog.models import CoveredModel, Stage

S = ApplicationState


class IncompleteApplicationError(ApplicationError):
    pass


def application_transition(
    *,
    application: Application,
    to: str,
    actor: User | None,
    action: str,
    reason: str = "",
    extra: dict[str, Any] | None = None,
) -> Application:
    """Move ``application`` from the state it was read in to ``to``, or raise.

    A conditional UPDATE on the state read makes the change; if someone else changed the
    application first, nothing is written and ``ApplicationChangedError`` is raised.
    Call it inside the caller's transaction (it opens its own savepoint).
    """
    current = application.state
    assert_transition(current, to)
    now = timezone.now()
    fields: dict[str, Any] = {"state": to, "updated_at": now, **(extra or {})}
    if current == S.DRAFT and to == S.SUBMITTED:
        fields["submitted_at"] = now
    if to in (S.APPROVED, S.REJECTED, S.WITHDRAWN):
        fields["closed_at"] = now
    with transaction.atomic():
        changed = Application.objects.filter(pk=application.pk, state=current).update(**fields)
        if changed != 1:
            raise ApplicationChangedError()
        for name, value in fields.items():
            setattr(application, name, value)
        audit_record(
            actor=actor,
            action=action,
            obj=application,
            organisation_id=application.organisation_id,
            reason=reason,
            before={"state": current},
            after={"state": to},
        )
    return application


def _require_editable(application: Application) -> None:
    if application.state not in EDITABLE_STATES:
        raise ApplicationError(
            "Only a draft can be changed; this application is "
            f"{S(application.state).label.lower()}."
        )


def _locked(application: Application) -> Application:
    return Application.objects.select_for_update().get(pk=application.pk)


def application_create_draft(
    *, actor: User, organisation: Organisation, covered_model: CoveredModel, stage: Stage
) -> Application:
    if stage.covered_model_id != covered_model.pk:
        raise ApplicationError(f"{stage} is not a stage of {covered_model.name}.")
    with transaction.atomic():
        application = Application.objects.create(
            organisation=organisation, covered_model=covered_model, stage=stage, created_by=actor
        )
        audit_record(
            actor=actor,
            action="application.draft_created",
            obj=application,
            organisation_id=organisation.pk,
            after={"covered_model": covered_model.slug, "stage": stage.name},
        )
    return application


def application_update_draft(
    *,
    actor: User,
    application: Application,
    covered_model: CoveredModel | None = None,
    stage: Stage | None = None,
    nominees: Iterable[Person] | None = None,
    use_case: str | None = None,
    attestations: dict[str, bool] | None = None,
) -> Application:
    """Save one wizard step of a draft; only the parts given change."""
    with transaction.atomic():
        application = _locked(application)
        _require_editable(application)
        before: dict[str, Any] = {}
        after: dict[str, Any] = {}
        if covered_model is not None and stage is not None:
            if stage.covered_model_id != covered_model.pk:
                raise ApplicationError(f"{stage} is not a stage of {covered_model.name}.")
            before.update(model=application.covered_model_id, stage=application.stage_id)
            application.covered_model, application.stage = covered_model, stage
            after.update(model=covered_model.pk, stage=stage.pk)
        if use_case is not None:
            before["use_case"], application.use_case = application.use_case, use_case.strip()
            after["use_case"] = application.use_case
        for name, value in (attestations or {}).items():
            if name not in ATTESTATION_FIELDS:
                raise ApplicationError(f"Unknown attestation {name!r}.")
            before[name] = getattr(application, name)
            setattr(application, name, bool(value))
            after[name] = bool(value)
        application.save()
        if nominees is not None:
            chosen = list(nominees)
            foreign = [p for p in chosen if p.organisation_id != application.organisation_id]
            if foreign:
                raise ApplicationError("Only your organisation's own people can be nominated.")
            before["nominees"] = sorted(application.nominees.values_list("pk", flat=True))
            application.nominees.set(chosen)
            after["nominees"] = sorted(p.pk for p in chosen)
        audit_record(
            actor=actor,
            action="application.draft_saved",
            obj=application,
            organisation_id=application.organisation_id,
            before=before,
            after=after,
        )
    return application


ATTESTATION_FIELDS = ("attests_end_use", "attests_no_transfer", "attests_accuracy")


# The one thing a browser may fix on the page itself, by ticking the boxes (wizard-submit.js).
ATTESTATIONS_MISSING = "Confirm every attestation."


def application_missing(application: Application, nominees: list[Person]) -> list[str]:
    """What a draft still lacks before it can be submitted (no queries)."""
    missing = []
    if not nominees:
        missing.append("Nominate at least one person.")
    incomplete = [p.legal_name for p in nominees if not p.is_complete]
    if incomplete:
        missing.append(
            "These people have incomplete eligibility profiles: " + ", ".join(incomplete) + "."
        )
    if len(nominees) > application.stage.seats:
        missing.append(
            f"The {application.stage.get_name_display()} stage has {application.stage.seats} "
            f"seats; you nominated {len(nominees)}."
        )
    if len(application.use_case.strip()) < 20:
        missing.append("Describe the use case (at least 20 characters).")
    if not all(getattr(application, name) for name in ATTESTATION_FIELDS):
        missing.append(ATTESTATIONS_MISSING)
    return missing


def eligibility_snapshot(application: Application, nominees: list[Person]) -> dict[str, Any]:
    """The engine's verdict on every nominated person, as stored evidence."""
    rule = rule_in_force(application.covered_model)
    people = [
        {"person_id": person.pk, "legal_name": person.legal_name, **result.as_dict()}
        for person, result in nominee_verdicts(application, nominees, rule)
    ]
    outcomes = {entry["outcome"] for entry in people}
    overall = (
        Outcome.FAIL
        if Outcome.FAIL in outcomes
        else Outcome.NEEDS_REVIEW
        if Outcome.NEEDS_REVIEW in outcomes
        else Outcome.PASS
    )
    return {
        "evaluated_at": timezone.now().isoformat(),
        "rule": {"kind": rule.kind, "source": rule.source},
        "outcome": str(overall),
        "people": people,
    }


def _screening_pending(snapshot: dict[str, Any]) -> bool:
    return any(
        check["code"] == "screening" and check["outcome"] == Outcome.NEEDS_REVIEW
        for person in snapshot["people"]
        for check in person["checks"]
    )


def application_submit(*, actor: User, application: Application) -> Application:
    """Submit a draft: judge every nominee, keep the verdicts, and queue it.

    Failing checks do not stop a submission (reviewers see them); an unfinished screening
    sends the application to ``screening`` first, otherwise straight to ``in_review``.
    """
    with transaction.atomic():
        application = (
            Application.objects.select_for_update()
            .select_related("organisation", "covered_model", "stage")
            .get(pk=application.pk)
        )
        _require_editable(application)
        nominees = list(application.nominees.select_related("organisation").order_by("pk"))
        missing = application_missing(application, nominees)
        if missing:
            raise IncompleteApplicationError(" ".join(missing))
        snapshot = eligibility_snapshot(application, nominees)
        application_transition(
            application=application,
            to=S.SUBMITTED,
            actor=actor,
            action="application.submitted",
            extra={"eligibility_snapshot": snapshot},
        )
        next_state = S.SCREENING if _screening_pending(snapshot) else S.IN_REVIEW
        application_transition(
            application=application,
            to=next_state,
            actor=None,
            action="application.screening_started"
            if next_state == S.SCREENING
            else "application.queued_for_review",
        )
    return application


def application_screening_finished(*, application: Application) -> Application:
    """Re-judge an application waiting on screening; queue it for review once no nominee's
    screening is pending. Idempotent: anything not in ``screening`` is left alone.

    The screening workflow calls this when it resolves a person.
    """
    with transaction.atomic():
        application = (
            Application.objects.select_for_update()
            .select_related("organisation", "covered_model", "stage")
            .get(pk=application.pk)
        )
        if application.state != S.SCREENING:
            return application
        nominees = list(application.nominees.select_related("organisation").order_by("pk"))
        snapshot = eligibility_snapshot(application, nominees)
        if _screening_pending(snapshot):
            return application
        application_transition(
            application=application,
            to=S.IN_REVIEW,
            actor=None,
            action="application.queued_for_review",
            reason="Screening of every nominated person finished.",
            extra={"eligibility_snapshot": snapshot},
        )
    return application


def application_withdraw(*, actor: User, application: Application, reason: str = "") -> Application:
    with transaction.atomic(durable=True):
        return application_transition(
            application=application,
            to=S.WITHDRAWN,
            actor=actor,
            action="application.withdrawn",
            reason=reason,
        )
