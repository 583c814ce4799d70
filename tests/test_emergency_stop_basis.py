"""An emergency stop carries its basis: pressed on the page or called through the API, a
stop under a determination names it, and the partners' notices carry its legal basis and
reference, exactly as when the service is called with it. Fail closed: no reason, no basis,
or a determination nobody approved is refused, and nothing is stopped."""

from __future__ import annotations

import datetime as dt

import pytest
from django.urls import reverse

from foundation.audit.models import AuditEvent
from portal.compliance.models import Determination, DeterminationState
from portal.notifications.access import access_notices_dispatch
from portal.notifications.models import Notification
from provisioning.bulk.models import BulkAction
from provisioning.credentials.models import Credential, CredentialState
from provisioning.grants.models import GrantSuspension, SuspensionKind
from tests.api_helpers import api_client_for
from tests.conftest import client_for
from tests.factories import PersonFactory, StageFactory
from tests.provisioning_fakes import active_grant, fake_target, issue

pytestmark = [pytest.mark.django_db, pytest.mark.usefixtures("fake_connectors")]
API = "/api/v1/emergency-stops/"


def _determination(officer, reference, state):
    return Determination.objects.create(
        reference=reference,
        legal_basis="Export Administration Regulations, 15 CFR 744.23",
        effective_date=dt.date(2026, 6, 3),
        created_by=officer,
        state=state,
    )


@pytest.fixture
def approved(compliance_officer):
    return _determination(compliance_officer, "BIS-2026-17", DeterminationState.APPROVED)


@pytest.fixture
def draft(compliance_officer):
    return _determination(compliance_officer, "BIS-2026-99", DeterminationState.DRAFT)


@pytest.fixture
def world(organisation, partner_admin, partner_member):
    stage = StageFactory(covered_model__name="Mythos 5", covered_model__slug="mythos-5")
    grant = active_grant(organisation=organisation, stage=stage)
    issue(grant, PersonFactory(organisation=organisation, user=partner_member))
    issue(grant)
    fake_target("directory")
    return stage


def _page_data(stage, **extra):
    return {
        "covered_model": stage.covered_model_id,
        "reason": "Export ban on the Mythos family",
        "confirm": "on",
        **extra,
    }


def _nothing_stopped() -> bool:
    return (
        not BulkAction.objects.exists()
        and Credential.objects.filter(state=CredentialState.SUSPENDED).count() == 0
    )


def test_the_page_offers_approved_determinations_in_words_not_drafts(
    ops_user, world, approved, draft
):
    page = client_for(ops_user).get(reverse("bulk:emergency_stop")).content.decode()

    expected = (
        "BIS-2026-17: Export Administration Regulations, 15 CFR 744.23 "
        "(approved, effective 2026-06-03)"
    )
    assert expected in page
    assert "BIS-2026-99" not in page
    assert "A government determination (name it below)" in page


def test_a_stop_pressed_on_the_page_under_a_determination_tells_partners_its_legal_basis(
    ops_user, world, approved, partner_admin, partner_member
):
    # when ops press the stop under the determination
    response = client_for(ops_user).post(
        reverse("bulk:emergency_stop"),
        _page_data(world, basis="determination", determination=approved.pk),
    )

    # then the stop is a regulatory suspension recorded under the determination
    assert response.status_code == 302
    action = BulkAction.objects.get()
    assert action.determination == "BIS-2026-17"
    assert action.suspension_kind == SuspensionKind.REGULATORY
    assert action.reference.startswith("emergency-stop:")
    assert set(GrantSuspension.objects.values_list("kind", flat=True)) == {"regulatory"}
    event = AuditEvent.objects.get(action="model.emergency_stop")
    assert event.after["determination"] == "BIS-2026-17"
    assert event.after["kind"] == "regulatory"

    # and the partners' notices carry its legal basis and reference
    access_notices_dispatch()
    for user in (partner_admin, partner_member):
        [notice] = Notification.objects.filter(user=user).exclude(decision_key="")
        assert notice.message.endswith("under determination BIS-2026-17")
        assert "Legal basis: Export Administration Regulations, 15 CFR 744.23" in notice.body
        assert "Reason given: Export ban on the Mythos family" in notice.body

    # and the keys page and the partner home name the determination, never the stop's id
    keys = client_for(partner_admin).get(reverse("credentials:list")).content.decode()
    assert keys.count("Restricted by a government determination (BIS-2026-17)") == 2
    home = client_for(partner_admin).get("/").content.decode()
    assert "Restricted by a government determination (BIS-2026-17)" in home
    assert "emergency-stop:" not in keys + home


def test_an_operations_stop_on_the_page_names_no_legal_basis(ops_user, world, partner_admin):
    response = client_for(ops_user).post(
        reverse("bulk:emergency_stop"), _page_data(world, basis="ops")
    )

    assert response.status_code == 302
    action = BulkAction.objects.get()
    assert (action.determination, action.suspension_kind) == ("", SuspensionKind.OPS)
    access_notices_dispatch()
    [notice] = Notification.objects.filter(user=partner_admin).exclude(decision_key="")
    assert "Legal basis" not in notice.body
    assert "Our operations team stopped access." in notice.body


@pytest.mark.parametrize(
    ("extra", "field", "says"),
    [
        ({}, "basis", "This field is required."),
        ({"basis": "determination"}, "determination", "A stop under a determination names it"),
        ({"basis": "ops", "determination": "APPROVED"}, "determination", "names no determination"),
        ({"basis": "determination", "determination": "DRAFT"}, "determination", "valid choice"),
        ({"basis": "ops", "reason": "   "}, "reason", "This field is required."),
        ({"basis": "nothing"}, "basis", "valid choice"),
        ({"basis": "determination", "determination": "x'; --"}, "determination", "valid choice"),
    ],
)
def test_a_stop_without_its_reason_or_basis_is_a_form_error_and_stops_nothing(
    ops_user, world, approved, draft, extra, field, says
):
    ids = {"APPROVED": approved.pk, "DRAFT": draft.pk}
    data = {key: ids.get(value, value) for key, value in _page_data(world, **extra).items()}

    response = client_for(ops_user).post(reverse("bulk:emergency_stop"), data)

    assert response.status_code == 200
    errors = response.context["form"].errors
    assert any(says in error for error in errors[field]), errors
    assert _nothing_stopped()


def test_the_api_stops_under_a_determination_with_the_same_notices(
    ops_user, world, approved, partner_admin
):
    response = api_client_for(ops_user).post(
        API,
        {"covered_model": "mythos-5", "reason": "Export ban", "determination": "BIS-2026-17"},
        content_type="application/json",
    )

    assert response.status_code == 201, response.json()
    body = response.json()
    assert body["determination"] == "BIS-2026-17"
    assert body["bulk_action"]["determination"] == "BIS-2026-17"
    assert BulkAction.objects.get().suspension_kind == SuspensionKind.REGULATORY
    access_notices_dispatch()
    [notice] = Notification.objects.filter(user=partner_admin).exclude(decision_key="")
    assert "Legal basis: Export Administration Regulations, 15 CFR 744.23" in notice.body


def test_an_api_stop_without_a_determination_is_an_operations_stop(ops_user, world):
    response = api_client_for(ops_user).post(
        API, {"covered_model": "mythos-5", "reason": "Incident 7"}, content_type="application/json"
    )

    assert response.status_code == 201, response.json()
    assert response.json()["determination"] is None
    assert BulkAction.objects.get().suspension_kind == SuspensionKind.OPS


@pytest.mark.parametrize("reference", ["BIS-2026-99", "nothing-like-it", ""])
def test_the_api_refuses_a_determination_nobody_approved_and_stops_nothing(
    ops_user, world, draft, reference
):
    response = api_client_for(ops_user).post(
        API,
        {"covered_model": "mythos-5", "reason": "Export ban", "determination": reference},
        content_type="application/json",
    )

    assert response.status_code == 400, response.json()
    assert "determination" in {error["field"] for error in response.json()["errors"]}
    assert _nothing_stopped()


def test_the_service_refuses_a_determination_on_an_operations_stop(ops_user, world, approved):
    from provisioning.bulk.stop import model_emergency_stop

    with pytest.raises(ValueError, match="regulatory"):
        model_emergency_stop(
            covered_model=world.covered_model,
            actor=ops_user,
            reason="r",
            determination=approved.reference,
        )
    assert _nothing_stopped()


def test_the_service_rechecks_the_determination_inside_the_stop(ops_user, world, approved):
    # given: the determination was superseded after the form or request was checked
    from provisioning.bulk.stop import model_emergency_stop
    from provisioning.deliveries.models import DeliveryError

    Determination.objects.filter(pk=approved.pk).update(state=DeterminationState.SUPERSEDED)

    # when / then: the stop refuses it and changes nothing
    with pytest.raises(DeliveryError, match="no longer approved or in force"):
        model_emergency_stop(
            covered_model=world.covered_model,
            actor=ops_user,
            reason="r",
            kind=SuspensionKind.REGULATORY,
            determination=approved.reference,
        )
    assert _nothing_stopped()


def test_the_page_shows_a_determination_superseded_mid_stop_as_a_form_error(
    ops_user, world, approved, monkeypatch
):
    # given: the determination is superseded between the form's check and the stop
    from provisioning.bulk import forms

    picked = Determination.objects.filter(pk=approved.pk)
    monkeypatch.setattr(forms, "stop_determinations", lambda: Determination.objects.all())
    picked.update(state=DeterminationState.SUPERSEDED)

    # when
    response = client_for(ops_user).post(
        reverse("bulk:emergency_stop"),
        _page_data(world, basis="determination", determination=approved.pk),
    )

    # then
    assert response.status_code == 200
    assert "no longer approved or in force" in response.content.decode()
    assert _nothing_stopped()
