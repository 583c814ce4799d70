"""One helper decides "an object this user may see"; outsiders get a 404."""

from __future__ import annotations

import pytest
from django.contrib.auth.models import AnonymousUser
from django.http import Http404

from foundation.access import get_visible_or_404, visible_to
from portal.eligibility.models import Person
from portal.partners.models import Organisation
from tests.factories import PersonFactory

pytestmark = pytest.mark.django_db


@pytest.fixture
def people(organisation, other_organisation):
    return PersonFactory(organisation=organisation), PersonFactory(organisation=other_organisation)


@pytest.mark.parametrize("persona", ["partner_admin", "partner_member"])
def test_partner_users_see_only_their_organisation(request, persona, organisation, people):
    user = request.getfixturevalue(persona)

    assert list(visible_to(user, Organisation.objects.all())) == [organisation]
    assert list(visible_to(user, Person.objects.all())) == [people[0]]


def test_outsider_gets_404_for_another_organisations_objects(outsider, organisation, people):
    with pytest.raises(Http404):
        get_visible_or_404(outsider, Organisation.objects.all(), pk=organisation.pk)
    with pytest.raises(Http404):
        get_visible_or_404(outsider, Person.objects.all(), pk=people[0].pk)


@pytest.mark.parametrize("persona", ["reviewer", "compliance_officer", "auditor"])
def test_staff_with_view_permission_see_every_organisation(request, persona, people):
    user = request.getfixturevalue(persona)

    assert visible_to(user, Person.objects.all()).count() == 2


def test_only_partner_admins_may_change_their_organisation(
    partner_admin, partner_member, organisation
):
    assert visible_to(partner_admin, Organisation.objects.all(), action="change").count() == 1
    assert visible_to(partner_member, Organisation.objects.all(), action="change").count() == 0


def test_auditor_may_change_nothing(auditor, organisation):
    assert visible_to(auditor, Organisation.objects.all(), action="change").count() == 0


def test_anonymous_sees_nothing(organisation):
    assert visible_to(AnonymousUser(), Organisation.objects.all()).count() == 0
