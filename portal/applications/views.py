"""Access applications for partners: list, wizard, detail, submit and withdraw."""

from __future__ import annotations

from django import forms
from django.contrib import messages
from django.contrib.auth.decorators import login_required
from django.http import Http404, HttpResponse
from django.shortcuts import redirect, render
from django.views.decorators.http import require_POST
from guardian.shortcuts import get_objects_for_user

from foundation.access import get_visible_or_404
from foundation.flashed import flashed
from foundation.form_pages import form_page
from foundation.requests import AuthenticatedRequest
from portal.applications.forms import (
    ApplicationFilterForm,
    AttestationsForm,
    ModelStageForm,
    NomineesForm,
    UseCaseForm,
)
from portal.applications.models import Application, WizardStep
from portal.applications.selectors import (
    applications_visible_to,
    incomplete_people,
    nominable_people,
)
from portal.applications.services import (
    ATTESTATION_FIELDS,
    ATTESTATIONS_MISSING,
    application_create_draft,
    application_missing,
    application_submit,
    application_update_draft,
    application_withdraw,
)
from portal.applications.states import (
    EDITABLE_STATES,
    WITHDRAWABLE_STATES,
    ApplicationError,
    ApplicationState,
)
from portal.partners.forms import add_service_error
from portal.partners.models import Organisation
from portal.partners.paging import paginate, query_without_page

STEPS = list(WizardStep)


def _administered(request: AuthenticatedRequest):  # type: ignore[no-untyped-def]
    return get_objects_for_user(
        request.user,
        "partners.change_organisation",
        klass=Organisation,
        accept_global_perms=False,
    ).order_by("legal_name")


def _application(request: AuthenticatedRequest, pk: int, *, action: str = "view") -> Application:
    return get_visible_or_404(
        request.user,
        Application.objects.select_related("organisation", "covered_model", "stage"),
        action=action,
        pk=pk,
    )


@login_required
def application_list(request: AuthenticatedRequest) -> HttpResponse:
    filters = ApplicationFilterForm(request.GET or None)
    search = state = ""
    if filters.is_valid():
        search, state = filters.cleaned_data["q"], filters.cleaned_data["state"]
    return render(
        request,
        "applications/list.html",
        {
            "page": paginate(
                request, applications_visible_to(request.user, search=search, state=state)
            ),
            "query_string": query_without_page(request),
            "filters": filters,
            "can_apply": _administered(request).exists(),
        },
    )


def _step_context(application: Application, step: WizardStep) -> dict[str, object]:
    index = STEPS.index(step)
    return {
        "application": application,
        "step": step,
        "steps": [
            {"value": s.value, "label": s.label, "current": s == step, "number": i + 1}
            for i, s in enumerate(STEPS)
        ],
        "step_number": index + 1,
        "previous_step": STEPS[index - 1].value if index > 0 else None,
    }


@login_required
def application_new(request: AuthenticatedRequest) -> HttpResponse:
    organisations = _administered(request)
    if not organisations.exists():
        raise Http404("Only an organisation's admins can apply for access.")
    return form_page(
        request,
        ModelStageForm(request.POST or None, organisations=organisations),
        save=lambda data: application_create_draft(
            actor=request.user,
            organisation=data["organisation"],
            covered_model=data["stage"].covered_model,
            stage=data["stage"],
        ),
        refusal=ApplicationError,
        refused=add_service_error,
        success="Draft saved. Next, nominate the people who will use it.",
        done=lambda application: redirect(
            "applications:step", pk=application.pk, step=WizardStep.PEOPLE
        ),
        template="applications/wizard.html",
        context={
            "step": WizardStep.MODEL,
            "steps": [
                {
                    "value": s.value,
                    "label": s.label,
                    "current": s == WizardStep.MODEL,
                    "number": i + 1,
                }
                for i, s in enumerate(STEPS)
            ],
            "step_number": 1,
        },
    )


@login_required
def application_step(request: AuthenticatedRequest, pk: int, step: str) -> HttpResponse:
    application = _application(request, pk, action="change")
    try:
        current = WizardStep(step)
    except ValueError:
        raise Http404("No such step.") from None
    if application.state not in EDITABLE_STATES:
        messages.info(request, "This application was submitted and can no longer be edited.")
        return redirect("applications:detail", pk=application.pk)
    data = request.POST or None
    organisation = application.organisation
    context = _step_context(application, current)
    form: forms.Form
    if current == WizardStep.MODEL:
        form = ModelStageForm(
            data,
            organisations=Organisation.objects.filter(pk=organisation.pk),
            initial={"organisation": organisation, "stage": application.stage},
        )
    elif current == WizardStep.PEOPLE:
        form = NomineesForm(
            data,
            people=nominable_people(organisation),
            initial={"nominees": list(application.nominees.all())},
        )
        context["incomplete_people"] = incomplete_people(organisation)
    elif current == WizardStep.USE_CASE:
        form = UseCaseForm(data, initial={"use_case": application.use_case})
    else:
        form = AttestationsForm(
            data, initial={name: getattr(application, name) for name in ATTESTATION_FIELDS}
        )
    if request.method == "POST" and form.is_valid():
        cleaned = form.cleaned_data
        try:
            if current == WizardStep.MODEL:
                stage = cleaned["stage"]
                application_update_draft(
                    actor=request.user,
                    application=application,
                    covered_model=stage.covered_model,
                    stage=stage,
                )
            elif current == WizardStep.PEOPLE:
                application_update_draft(
                    actor=request.user, application=application, nominees=cleaned["nominees"]
                )
            elif current == WizardStep.USE_CASE:
                application_update_draft(
                    actor=request.user, application=application, use_case=cleaned["use_case"]
                )
            else:
                application_update_draft(
                    actor=request.user,
                    application=application,
                    attestations={name: cleaned[name] for name in ATTESTATION_FIELDS},
                )
        except ApplicationError as error:
            add_service_error(form, error)
        else:
            index = STEPS.index(current)
            if current != WizardStep.ATTESTATIONS:
                messages.success(request, "Draft saved.")
                return redirect("applications:step", pk=application.pk, step=STEPS[index + 1])
            messages.success(request, "Draft saved. Check the summary, then submit.")
            return redirect("applications:step", pk=application.pk, step=current)
    if current == WizardStep.ATTESTATIONS:
        nominees = list(application.nominees.order_by("legal_name"))
        context["nominees"] = nominees
        missing = application_missing(application, nominees)
        context["missing"] = missing
        # Ticking the boxes is all that is left: the page's script may enable Submit.
        context["attestations_only"] = [m for m in missing if m != ATTESTATIONS_MISSING] == []
        context["attestations_missing"] = ATTESTATIONS_MISSING
    context["form"] = form
    return render(request, "applications/wizard.html", context)


@login_required
@require_POST
def application_submit_view(request: AuthenticatedRequest, pk: int) -> HttpResponse:
    application = _application(request, pk, action="change")
    try:
        if request.POST.get("with_attestations") and application.state in EDITABLE_STATES:
            # Submit sits in the attestations form: the boxes as ticked are saved first, so
            # one click both confirms and submits (and an unticked box still stops it).
            attestations = AttestationsForm(request.POST)
            attestations.is_valid()
            ticked = {
                name: bool(attestations.cleaned_data.get(name)) for name in ATTESTATION_FIELDS
            }
            if any(getattr(application, name) != value for name, value in ticked.items()):
                application_update_draft(
                    actor=request.user, application=application, attestations=ticked
                )
        application = application_submit(actor=request.user, application=application)
    except ApplicationError as error:
        messages.error(request, str(error))
        if application.state in EDITABLE_STATES:
            return redirect("applications:step", pk=application.pk, step=WizardStep.ATTESTATIONS)
        return redirect("applications:detail", pk=application.pk)
    messages.success(request, "Your application is submitted. The eligibility checks are below.")
    return redirect("applications:detail", pk=application.pk)


@login_required
@require_POST
def application_withdraw_view(request: AuthenticatedRequest, pk: int) -> HttpResponse:
    application = _application(request, pk, action="change")
    return flashed(
        request,
        lambda: application_withdraw(
            actor=request.user, application=application, reason=request.POST.get("reason", "")
        ),
        refusal=ApplicationError,
        success="The application is withdrawn.",
        then=redirect("applications:detail", pk=application.pk),
    )


@login_required
def application_detail(request: AuthenticatedRequest, pk: int) -> HttpResponse:
    application = _application(request, pk)
    can_change = (
        get_objects_for_user(
            request.user,
            "partners.change_organisation",
            klass=Organisation,
            accept_global_perms=False,
        )
        .filter(pk=application.organisation_id)
        .exists()
    )
    return render(
        request,
        "applications/detail.html",
        {
            "application": application,
            "nominees": application.nominees.order_by("legal_name"),
            "snapshot": application.eligibility_snapshot,
            "can_edit": can_change and application.state in EDITABLE_STATES,
            "can_withdraw": can_change and application.state in WITHDRAWABLE_STATES,
            "states": ApplicationState,
        },
    )
