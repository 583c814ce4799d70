"""Partner pages: the organisation, its documents, members and invitations; staff views."""

from __future__ import annotations

from collections.abc import Callable
from functools import wraps
from typing import Any

from django.contrib import messages
from django.contrib.auth.decorators import login_required
from django.http import FileResponse, Http404, HttpResponse
from django.shortcuts import get_object_or_404, redirect, render
from django.utils import timezone
from django.views.decorators.http import require_POST

from foundation.access import get_visible_or_404
from foundation.flashed import flashed
from foundation.form_pages import form_issuing, form_page
from foundation.requests import AuthenticatedRequest
from portal.accounts.roles import is_staff_member
from portal.partners.documents import organisation_document_response, organisation_document_upload
from portal.partners.errors import ConflictOfInterestError, PartnerError
from portal.partners.forms import (
    DocumentUploadForm,
    InvitationForm,
    OrganisationRegisterForm,
    SearchForm,
    TrustedForm,
    VerificationForm,
    add_service_error,
)
from portal.partners.invitations import (
    invitation_accept,
    invitation_check,
    invitation_create,
    invitation_for_token,
    invitation_revoke,
)
from portal.partners.models import (
    Invitation,
    Membership,
    Organisation,
    VerificationState,
)
from portal.partners.paging import paginate, query_without_page
from portal.partners.selectors import (
    documents_visible_to,
    is_admin_of,
    memberships_of,
    open_invitations,
    organisation_documents,
    organisation_for,
    organisation_members,
    staff_organisations,
)
from portal.partners.services import (
    membership_remove,
    organisation_register,
    organisation_set_trusted,
    organisation_set_verification,
)


def staff_required(view: Any) -> Any:
    """Staff pages are invisible (404) to everyone else."""

    @wraps(view)
    def wrapped(request: AuthenticatedRequest, *args: Any, **kwargs: Any) -> HttpResponse:
        if not is_staff_member(request.user):
            raise Http404("No such page.")
        response: HttpResponse = view(request, *args, **kwargs)
        return response

    return login_required(wrapped)


def _organisation_page(request: AuthenticatedRequest, organisation: Organisation) -> HttpResponse:
    is_admin = is_admin_of(request.user, organisation)
    return render(
        request,
        "partners/organisation.html",
        {
            "organisation": organisation,
            "is_admin": is_admin,
            "documents": organisation_documents(organisation) if is_admin else [],
            "upload_form": DocumentUploadForm() if is_admin else None,
            "member_count": organisation.memberships.count(),
        },
    )


@login_required
def organisation(request: AuthenticatedRequest) -> HttpResponse:
    """The signed-in user's organisation (a chooser when they belong to several)."""
    memberships = list(memberships_of(request.user))
    if len(memberships) == 1:
        return _organisation_page(request, memberships[0].organisation)
    return render(request, "partners/organisation_choose.html", {"memberships": memberships})


@login_required
def organisation_detail(request: AuthenticatedRequest, slug: str) -> HttpResponse:
    return _organisation_page(request, organisation_for(request.user, slug))


@login_required
def organisation_register_view(request: AuthenticatedRequest) -> HttpResponse:
    return form_page(
        request,
        OrganisationRegisterForm(request.POST or None),
        save=lambda data: organisation_register(actor=request.user, **data),
        refusal=PartnerError,
        refused=add_service_error,
        success=_registered,
        done=lambda created: redirect("partners:detail", slug=created.slug),
        template="partners/register.html",
        context={},
    )


def _registered(created: Organisation) -> str:
    if created.verification_state == VerificationState.DOMAIN_VERIFIED:
        return f"{created.legal_name} is registered and its domain verified."
    return (
        f"{created.legal_name} is registered. Verify an email address at "
        f"{created.email_domain} to verify the organisation's domain."
    )


@login_required
@require_POST
def document_upload(request: AuthenticatedRequest, slug: str) -> HttpResponse:
    organisation = organisation_for(request.user, slug, action="change")
    form = DocumentUploadForm(request.POST, request.FILES)
    if form.is_valid():
        upload = form.cleaned_data["file"]
        try:
            organisation_document_upload(
                actor=request.user,
                organisation=organisation,
                kind=form.cleaned_data["kind"],
                upload=upload,
                original_name=upload.name,
            )
        except PartnerError as error:
            add_service_error(form, error)
        else:
            messages.success(request, "The document is uploaded.")
            return redirect("partners:detail", slug=organisation.slug)
    return render(
        request,
        "partners/organisation.html",
        {
            "organisation": organisation,
            "is_admin": True,
            "documents": organisation_documents(organisation),
            "upload_form": form,
            "member_count": organisation.memberships.count(),
        },
        status=400,
    )


@login_required
def document_download(request: AuthenticatedRequest, slug: str, pk: int) -> FileResponse:
    """Streams a document to the organisation's admins and to staff with view rights."""
    document = get_object_or_404(documents_visible_to(request.user), organisation__slug=slug, pk=pk)
    return organisation_document_response(actor=request.user, document=document)


@login_required
def members(request: AuthenticatedRequest, slug: str) -> HttpResponse:
    organisation = organisation_for(request.user, slug, action="manage")
    search = SearchForm(request.GET or None)
    query = search.cleaned_data["q"] if search.is_valid() else ""
    form, issued = form_issuing(
        request,
        InvitationForm,
        issue=lambda data: invitation_create(
            actor=request.user,
            organisation=organisation,
            email=data["email"],
            role=data["role"],
        ),
        refusal=PartnerError,
        refused=add_service_error,
    )
    if issued is not None:
        messages.success(request, f"An invitation was emailed to {issued.invitation.email}.")
    return render(
        request,
        "partners/members.html",
        {
            "organisation": organisation,
            "page": paginate(request, organisation_members(organisation, search=query)),
            "query_string": query_without_page(request),
            "search_form": search,
            "invitations": open_invitations(organisation),
            "form": form,
            "issued_link": issued.link if issued is not None else None,
            "now": timezone.now(),
        },
    )


@login_required
@require_POST
def member_remove(request: AuthenticatedRequest, slug: str, pk: int) -> HttpResponse:
    organisation = organisation_for(request.user, slug, action="manage")
    membership = get_visible_or_404(
        request.user,
        Membership.objects.select_related("user", "organisation"),
        action="manage",
        organisation=organisation,
        pk=pk,
    )
    return flashed(
        request,
        lambda: membership_remove(
            actor=request.user, membership=membership, reason="Removed by an admin."
        ),
        refusal=PartnerError,
        success=f"{membership.user.get_username()} was removed.",
        then=redirect("partners:members", slug=organisation.slug),
    )


@login_required
@require_POST
def invitation_revoke_view(request: AuthenticatedRequest, slug: str, pk: int) -> HttpResponse:
    organisation = organisation_for(request.user, slug, action="manage")
    invitation = get_visible_or_404(
        request.user, Invitation.objects.all(), action="manage", organisation=organisation, pk=pk
    )
    return flashed(
        request,
        lambda: invitation_revoke(actor=request.user, invitation=invitation),
        refusal=PartnerError,
        success=f"The invitation to {invitation.email} was withdrawn.",
        then=redirect("partners:members", slug=organisation.slug),
    )


@login_required
def invitation_accept_view(request: AuthenticatedRequest, token: str) -> HttpResponse:
    try:
        invitation = invitation_for_token(token)
        invitation_check(invitation=invitation, user=request.user)
    except PartnerError as error:
        return render(request, "partners/invitation.html", {"error": str(error)}, status=400)
    if request.method == "POST":
        try:
            membership = invitation_accept(signed_token=token, user=request.user)
        except PartnerError as error:
            return render(request, "partners/invitation.html", {"error": str(error)}, status=400)
        messages.success(
            request,
            f"Welcome to {membership.organisation.legal_name}. Complete your eligibility "
            "profile next.",
        )
        return redirect("eligibility:profile")
    return render(request, "partners/invitation.html", {"invitation": invitation})


# --- Staff -----------------------------------------------------------------------


@staff_required
def staff_organisations_view(request: AuthenticatedRequest) -> HttpResponse:
    search = SearchForm(request.GET or None)
    query = search.cleaned_data["q"] if search.is_valid() else ""
    state = request.GET.get("state", "")
    if state not in VerificationState.values:
        state = ""
    rows = staff_organisations(request.user, search=query, state=state)
    return render(
        request,
        "partners/staff_list.html",
        {
            "page": paginate(request, rows),
            "query_string": query_without_page(request),
            "search_form": search,
            "state": state,
            "states": VerificationState.choices,
        },
    )


def _staff_detail(
    request: AuthenticatedRequest,
    organisation: Organisation,
    *,
    trusted_form: TrustedForm | None = None,
    verification_form: VerificationForm | None = None,
    status: int = 200,
) -> HttpResponse:
    can_set_trusted = request.user.has_perm("partners.set_trusted_organisation")
    return render(
        request,
        "partners/staff_detail.html",
        {
            "organisation": organisation,
            "documents": organisation_documents(organisation),
            "memberships": organisation.memberships.select_related("user").order_by(
                "user__username"
            )[:100],
            "can_set_trusted": can_set_trusted,
            "trusted_form": trusted_form or TrustedForm(initial={"trusted": organisation.trusted}),
            "verification_form": verification_form
            or VerificationForm(initial={"state": organisation.verification_state}),
        },
        status=status,
    )


@staff_required
def staff_organisation_detail(request: AuthenticatedRequest, slug: str) -> HttpResponse:
    return _staff_detail(request, organisation_for(request.user, slug))


def _staff_decision(
    request: AuthenticatedRequest,
    slug: str,
    *,
    form: TrustedForm | VerificationForm,
    save: Callable[..., Organisation],
    saved: str,
) -> HttpResponse:
    """A compliance decision on an organisation posted from its staff page: ``save`` (the
    service) gets the form's fields; the form's errors (400), a conflict of interest (409)
    or the service's refusal (400) show on the page again, else ``saved`` and back to it."""
    # Trust and verification are compliance decisions; others do not see the way in.
    if not request.user.has_perm("partners.set_trusted_organisation"):
        raise Http404("No such page.")
    organisation = organisation_for(request.user, slug)
    status = 400
    if form.is_valid():
        try:
            save(actor=request.user, organisation=organisation, **form.cleaned_data)
        except ConflictOfInterestError as error:
            form.add_error(None, str(error))
            status = 409
        except PartnerError as error:
            add_service_error(form, error)
        else:
            messages.success(request, saved)
            return redirect("partners:staff_detail", slug=organisation.slug)
    return _staff_detail(
        request,
        organisation,
        trusted_form=form if isinstance(form, TrustedForm) else None,
        verification_form=form if isinstance(form, VerificationForm) else None,
        status=status,
    )


@staff_required
@require_POST
def staff_set_trusted(request: AuthenticatedRequest, slug: str) -> HttpResponse:
    return _staff_decision(
        request,
        slug,
        form=TrustedForm(request.POST),
        save=organisation_set_trusted,
        saved="The trusted flag is saved.",
    )


@staff_required
@require_POST
def staff_set_verification(request: AuthenticatedRequest, slug: str) -> HttpResponse:
    return _staff_decision(
        request,
        slug,
        form=VerificationForm(request.POST),
        save=organisation_set_verification,
        saved="The verification state is saved.",
    )
