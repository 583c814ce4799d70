"""Every API endpoint enforces the same object permissions as the UI, for every persona."""

from __future__ import annotations

import pytest
from django.test import Client

from foundation.audit.models import AuditEvent
from foundation.tokens import token_matches
from portal.applications.models import Application
from portal.applications.states import ApplicationState
from portal.partners.models import Invitation
from provisioning.credentials.models import Credential
from tests.api_helpers import api_client_for, bearer_client
from tests.conftest import client_for
from tests.factories import ApplicationFactory, CompletePersonFactory, StageFactory
from tests.provisioning_fakes import active_grant, issue


@pytest.fixture
def world(organisation, partner_admin):
    """One of everything in our organisation."""
    person = CompletePersonFactory(organisation=organisation, user=partner_admin)
    grant = active_grant(organisation=organisation)
    credential = issue(grant, person).credential
    application = ApplicationFactory(organisation=organisation, created_by=partner_admin)
    invitation = Invitation.objects.create(
        organisation=organisation,
        email="someone@northwind.example",
        token_hash="0" * 64,
        invited_by=partner_admin,
        expires_at="2999-01-01T00:00:00Z",
    )
    membership = partner_admin.memberships.get()
    return {
        "organisations": organisation.slug,
        "memberships": membership.pk,
        "invitations": invitation.pk,
        "persons": person.pk,
        "applications": application.pk,
        "grants": grant.pk,
        "credentials": credential.pk,
    }


RESOURCES = [
    "organisations",
    "memberships",
    "invitations",
    "persons",
    "applications",
    "grants",
    "credentials",
]


@pytest.mark.parametrize("resource", [*RESOURCES, "audit-events"])
def test_anonymous_callers_get_401(db, resource):
    response = Client().get(f"/api/v1/{resource}/")
    assert response.status_code == 401
    assert response["Content-Type"] == "application/problem+json"


@pytest.mark.parametrize("resource", RESOURCES)
def test_the_organisations_own_admin_reads_every_resource(world, partner_admin, resource):
    # given
    client = api_client_for(partner_admin, "read")
    # when
    listed = client.get(f"/api/v1/{resource}/")
    detail = client.get(f"/api/v1/{resource}/{world[resource]}/")
    # then
    assert listed.status_code == 200
    assert listed.json()["count"] >= 1
    assert detail.status_code == 200


@pytest.mark.parametrize("resource", RESOURCES)
def test_an_outsider_sees_nothing_of_another_organisation(world, outsider, resource):
    # given
    client = api_client_for(outsider, "read", "write")
    # when
    detail = client.get(f"/api/v1/{resource}/{world[resource]}/")
    listed = client.get(f"/api/v1/{resource}/")
    # then
    assert detail.status_code == 404
    assert listed.status_code == 200
    ids = {str(row.get("slug", row.get("id"))) for row in listed.json()["results"]}
    assert str(world[resource]) not in ids


@pytest.mark.parametrize("resource", RESOURCES)
def test_a_session_works_like_a_token(world, partner_admin, resource):
    response = client_for(partner_admin).get(f"/api/v1/{resource}/{world[resource]}/")
    assert response.status_code == 200


# An outsider is not told that another organisation's objects exist (404); a plain member of
# the organisation may look at them but not change them (403).
@pytest.mark.parametrize(
    ("persona", "method", "path", "status"),
    [
        ("outsider", "post", "/api/v1/credentials/{credentials}/rotate/", 404),
        ("outsider", "post", "/api/v1/applications/{applications}/withdraw/", 404),
        ("outsider", "post", "/api/v1/applications/{applications}/submit/", 404),
        ("outsider", "delete", "/api/v1/invitations/{invitations}/", 404),
        ("outsider", "delete", "/api/v1/memberships/{memberships}/", 404),
        ("partner_member", "post", "/api/v1/credentials/{credentials}/rotate/", 403),
        ("partner_member", "post", "/api/v1/applications/{applications}/withdraw/", 403),
        ("partner_member", "delete", "/api/v1/invitations/{invitations}/", 403),
    ],
)
def test_an_outsider_or_a_plain_member_cannot_change_the_objects(
    request, world, persona, method, path, status
):
    client = api_client_for(request.getfixturevalue(persona), "read", "write")
    response = getattr(client, method)(path.format(**world), content_type="application/json")
    assert response.status_code == status


def test_the_audit_trail_is_for_staff_only(world, partner_admin):
    response = api_client_for(partner_admin, "read").get("/api/v1/audit-events/")
    assert response.status_code == 403


def test_staff_without_mfa_get_403(world, staff_without_mfa):
    response = client_for(staff_without_mfa).get("/api/v1/audit-events/")
    assert response.status_code == 403


@pytest.mark.parametrize("persona", ["auditor", "compliance_officer", "ops_user"])
def test_staff_with_the_audit_permission_read_it_in_cursor_pages(world, request, persona):
    # given
    user = request.getfixturevalue(persona)
    client = api_client_for(user, "read")
    # when
    first = client.get("/api/v1/audit-events/", {"page_size": 2})
    second = client.get(first.json()["next"])
    # then
    assert first.status_code == 200
    ids = [e["id"] for e in first.json()["results"]] + [e["id"] for e in second.json()["results"]]
    assert ids == sorted(ids, reverse=True)
    assert len(set(ids)) == len(ids) == AuditEvent.objects.count()


def test_a_reviewer_without_the_audit_permission_is_refused(world, reviewer):
    response = api_client_for(reviewer, "read").get("/api/v1/audit-events/")
    assert response.status_code == 403


def test_staff_see_every_organisation_their_role_allows(world, reviewer, outsider):
    response = api_client_for(reviewer, "read").get("/api/v1/organisations/")
    assert {o["slug"] for o in response.json()["results"]} == {"northwind", "elsewhere"}


def test_audit_events_filter_by_action(world, auditor):
    response = api_client_for(auditor, "read").get(
        "/api/v1/audit-events/", {"action": "credential.issued"}
    )
    assert {e["action"] for e in response.json()["results"]} == {"credential.issued"}


# --- writes call the same services as the UI --------------------------------------


def test_an_admin_invites_a_member_through_the_partners_service(world, partner_admin):
    # when
    response = api_client_for(partner_admin).post(
        "/api/v1/invitations/",
        {"organisation": "northwind", "email": "New@Northwind.example", "role": "member"},
        content_type="application/json",
    )
    # then
    assert response.status_code == 201
    assert response.json()["email"] == "new@northwind.example"
    assert response.json()["status"] == "pending"
    assert AuditEvent.objects.filter(action="invitation.created").exists()


def test_inviting_into_another_organisation_is_a_404(world, outsider):
    response = api_client_for(outsider).post(
        "/api/v1/invitations/",
        {"organisation": "northwind", "email": "x@y.example"},
        content_type="application/json",
    )
    assert response.status_code == 404


def test_rotating_a_credential_returns_the_new_key_once(world, partner_admin):
    # given
    client = api_client_for(partner_admin)
    # when
    response = client.post(f"/api/v1/credentials/{world['credentials']}/rotate/")
    # then
    assert response.status_code == 200
    assert response["Cache-Control"] == "no-store"
    key = response.json()["key"]
    credential = Credential.objects.get(pk=world["credentials"])
    assert token_matches(key, credential.key_hash)
    listed = client.get(f"/api/v1/credentials/{credential.pk}/")
    assert "key" not in listed.json()
    assert key not in listed.content.decode()


def test_an_admin_creates_submits_and_withdraws_an_application(world, partner_admin):
    # given
    client = api_client_for(partner_admin)
    stage = StageFactory()
    person_id = world["persons"]
    # when
    created = client.post(
        "/api/v1/applications/",
        {
            "organisation": "northwind",
            "covered_model": stage.covered_model.slug,
            "stage": stage.name,
            "nominees": [person_id],
            "use_case": "Defending the regional electricity grid against intrusions.",
            "attests_end_use": True,
            "attests_no_transfer": True,
            "attests_accuracy": True,
        },
        content_type="application/json",
    )
    application_id = created.json()["id"]
    submitted = client.post(f"/api/v1/applications/{application_id}/submit/")
    assert submitted.status_code == 200, submitted.json()
    withdrawn = client.post(
        f"/api/v1/applications/{application_id}/withdraw/",
        {"reason": "Changed our plans."},
        content_type="application/json",
    )
    # then
    assert created.status_code == 201, created.json()
    assert created.json()["state"] == "draft"
    assert created.json()["nominees"] == [person_id]
    assert submitted.status_code == 200, submitted.json()
    assert submitted.json()["state"] in ("screening", "in_review")
    assert withdrawn.status_code == 200
    assert Application.objects.get(pk=application_id).state == ApplicationState.WITHDRAWN


def test_submitting_an_incomplete_draft_is_a_409_with_the_reason(world, partner_admin):
    response = api_client_for(partner_admin).post(
        f"/api/v1/applications/{world['applications']}/submit/"
    )
    assert response.status_code == 409
    assert response["Content-Type"] == "application/problem+json"
    assert response.json()["detail"]


def test_removing_a_member_goes_through_the_partners_service(world, partner_admin, partner_member):
    # given
    membership = partner_member.memberships.get()
    # when
    response = api_client_for(partner_admin).delete(f"/api/v1/memberships/{membership.pk}/")
    # then
    assert response.status_code == 204
    assert not partner_member.memberships.exists()
    assert AuditEvent.objects.filter(action="membership.removed").exists()


# --- schema and documentation ---------------------------------------------------------


def test_the_openapi_schema_describes_the_api(db):
    response = Client().get("/api/schema/", HTTP_ACCEPT="application/vnd.oai.openapi+json")
    assert response.status_code == 200
    schema = response.json()
    assert schema["openapi"].startswith("3.")
    assert "/api/v1/credentials/{id}/rotate/" in schema["paths"]


def test_the_documentation_page_uses_vendored_assets_and_no_inline_script(db):
    # when
    page = Client().get("/api/docs/")
    script = Client().get("/api/docs/?script=")
    # then
    body = page.content.decode()
    assert page.status_code == 200
    assert "<script>" not in body
    assert "http" not in body.split("<body>")[1].replace(
        page.wsgi_request.build_absolute_uri("/"), ""
    )
    assert "script-src 'self';" in page["Content-Security-Policy"]
    assert script.status_code == 200
    assert script["Content-Type"].startswith("application/javascript")


def test_another_organisations_bearer_token_cannot_reach_ours_through_filters(world, outsider):
    client = bearer_client(None)
    assert client.get("/api/v1/grants/").status_code == 401
