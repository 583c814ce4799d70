"""A person's own eligibility profile; an organisation's people for its admins and staff."""

from __future__ import annotations

from django.contrib.auth.decorators import login_required
from django.http import HttpResponse
from django.shortcuts import redirect, render

from foundation.access import get_visible_or_404
from foundation.form_pages import form_page
from foundation.requests import AuthenticatedRequest
from portal.accounts.roles import is_staff_member
from portal.eligibility.forms import ProfileForm, profile_initial
from portal.eligibility.policies import ATTESTATION_VERSION, AUP_VERSION
from portal.eligibility.selectors import organisation_people, person_of
from portal.eligibility.services import EligibilityError, person_save_profile
from portal.partners.forms import SearchForm, add_service_error
from portal.partners.models import Organisation
from portal.partners.paging import paginate, query_without_page
from portal.partners.selectors import memberships_of


@login_required
def profile(request: AuthenticatedRequest) -> HttpResponse:
    person = person_of(request.user)
    memberships = list(memberships_of(request.user))
    if person is None and not memberships:
        return render(request, "eligibility/profile_no_organisation.html")
    organisation = person.organisation if person else memberships[0].organisation
    return form_page(
        request,
        ProfileForm(request.POST or None, initial=profile_initial(person)),
        # The form's fields are the service's keywords, one for one.
        save=lambda data: person_save_profile(
            actor=request.user, organisation=organisation, **data
        ),
        refusal=EligibilityError,
        refused=add_service_error,
        success="Your eligibility profile is saved.",
        done=lambda saved: redirect("eligibility:profile"),
        template="eligibility/profile.html",
        context={
            "person": person,
            "organisation": organisation,
            "attestation_version": ATTESTATION_VERSION,
            "aup_version": AUP_VERSION,
        },
    )


@login_required
def people(request: AuthenticatedRequest, slug: str) -> HttpResponse:
    """Admins see their organisation's people; staff anyone's; members get a 404."""
    action = "view" if is_staff_member(request.user) else "change"
    organisation = get_visible_or_404(
        request.user, Organisation.objects.all(), action=action, slug=slug
    )
    search = SearchForm(request.GET or None)
    query = search.cleaned_data["q"] if search.is_valid() else ""
    return render(
        request,
        "eligibility/people.html",
        {
            "organisation": organisation,
            "page": paginate(
                request, organisation_people(request.user, organisation, search=query)
            ),
            "query_string": query_without_page(request),
            "search_form": search,
            "is_staff": action == "view",
        },
    )
