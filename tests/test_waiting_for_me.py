"""The second ops person and the second compliance officer find what waits for them from
the navigation; the person who started it does not see it as theirs to sign."""

from __future__ import annotations

import datetime as dt

import pytest
from django.urls import reverse

from portal.compliance.models import Determination, DeterminationState
from provisioning.bulk.models import BulkAction, BulkKind
from tests.conftest import client_for
from tests.factories import staff_user

pytestmark = pytest.mark.django_db


def _restore(planner):
    from django.utils import timezone

    return BulkAction.objects.create(
        kind=BulkKind.RESTORE,
        reason="Licence lets Northwind back in",
        plan_hash="0" * 64,
        planned_by=planner,
        planned_at=timezone.now(),
        grant_count=3,
        credential_count=12,
    )


def test_a_restore_waits_for_the_second_ops_person_not_the_planner(ops_user):
    second = staff_user("ops")
    action = _restore(ops_user)

    theirs = client_for(second).get(reverse("waiting"))
    mine = client_for(ops_user).get(reverse("waiting"))

    assert theirs.status_code == 200
    page = theirs.content.decode()
    assert "Approve: restore of 3 grants, 12 keys" in page
    assert reverse("bulk:detail", args=[action.pk]) in page
    assert "Approve: restore" not in mine.content.decode()


def test_the_navigation_shows_how_many_wait(ops_user):
    second = staff_user("ops")
    _restore(ops_user)
    page = client_for(second).get(reverse("home")).content.decode()
    assert 'Waiting for me <span class="badge badge--count">1<' in page


def test_a_submitted_determination_waits_for_the_second_officer(compliance_officer):
    second = staff_user("compliance")
    Determination.objects.create(
        reference="BIS-2026-17",
        legal_basis="EAR",
        effective_date=dt.date(2026, 6, 3),
        created_by=compliance_officer,
        submitted_by=compliance_officer,
        state=DeterminationState.AWAITING_APPROVAL,
    )
    assert (
        "Approve determination BIS-2026-17"
        in client_for(second).get(reverse("waiting")).content.decode()
    )
    assert (
        "Approve determination"
        not in client_for(compliance_officer).get(reverse("waiting")).content.decode()
    )


def test_partners_and_reviewers_have_nothing_waiting_here(partner_admin, reviewer):
    assert client_for(partner_admin).get(reverse("waiting")).status_code == 403
    assert client_for(reviewer).get(reverse("waiting")).status_code == 403
