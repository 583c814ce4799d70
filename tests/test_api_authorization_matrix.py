"""Every operation of the API schema against every persona's token, in one table.

The operations are read from drf-spectacular's generated schema, so a new endpoint or
method that is missing from ``EXPECTED`` fails ``test_every_operation_is_in_the_matrix``.
Each request carries a valid body (``BODIES``) aimed at *our* organisation's objects
(``tests/authz_world.py``), so a 2xx means the persona really may do it; each runs in a
savepoint that is rolled back, so one persona's change never decides another's outcome.
The outsider administers another organisation. Run with ``API_MATRIX_PRINT=1`` to print
the observed table when adding rows.
"""

from __future__ import annotations

import json
from collections.abc import Callable
from typing import Any

import pytest
from allauth.mfa.models import Authenticator
from django.core.files.uploadedfile import SimpleUploadedFile
from django.db import transaction
from django.test import Client

from tests.api_helpers import token_for
from tests.authz_world import World, assert_table_holds, assert_table_lists_exactly
from tests.url_inventory import schema_operations

PERSONAS = (
    "anonymous",
    "outsider",
    "partner_member",
    "partner_admin",
    "reviewer",
    "second_reviewer",
    "compliance_officer",
    "ops_user",
    "auditor",
    "staff_without_mfa",
)
PDF = b"%PDF-1.4\n% matrix letter\n"

# What "{id}" (or "{slug}") means under each collection.
PATH_OBJECTS: dict[str, Callable[[World], Any]] = {
    "organisations": lambda w: w.organisation.slug,
    "memberships": lambda w: w.member_membership.pk,
    "invitations": lambda w: w.invitation.pk,
    "persons": lambda w: w.person.pk,
    "applications": lambda w: w.application.pk,
    "grants": lambda w: w.grant.pk,
    "credentials": lambda w: w.credential.pk,
    "audit-events": lambda w: w.audit_event.pk,
    "reviews": lambda w: w.application.pk,
    "screening-matches": lambda w: w.match.pk,
    "determinations": lambda w: w.determination.pk,
    "bulk-actions": lambda w: w.bulk_action.pk,
    "targets": lambda w: w.target.pk,
    "organisation-documents": lambda w: w.document.pk,
    "notifications": lambda w: w.notification.pk,
    "organisation-webhooks": lambda w: w.webhook.pk,
    "certification-campaigns": lambda w: w.campaign.pk,
    "certification-tasks": lambda w: w.certification_item.pk,
    "usage-alerts": lambda w: w.usage_alert.pk,
    "access-reports": lambda w: w.organisation.slug,
}

# A valid body per writing operation; the rest send {}.
BODIES: dict[str, Callable[[World], dict[str, Any]]] = {
    "POST /api/v1/invitations/": lambda w: {
        "organisation": w.organisation.slug,
        "email": "matrix@northwind.example",
    },
    "POST /api/v1/applications/": lambda w: {
        "organisation": w.organisation.slug,
        "covered_model": w.application.covered_model.slug,
        "stage": w.application.stage.name,
    },
    "POST /api/v1/applications/{id}/withdraw/": lambda w: {"reason": "matrix"},
    "POST /api/v1/reviews/{id}/reject/": lambda w: {"reason": "matrix"},
    "POST /api/v1/reviews/{id}/request-information/": lambda w: {"message": "matrix?"},
    "POST /api/v1/reviews/{id}/comment/": lambda w: {"body": "matrix"},
    "POST /api/v1/reviews/{id}/reassign/": lambda w: {"assignee": None},
    "POST /api/v1/applications/{id}/answer/": lambda w: {"response": "matrix"},
    "POST /api/v1/screening-matches/{id}/confirm/": lambda w: {"reason": "matrix"},
    "POST /api/v1/screening-matches/{id}/dismiss/": lambda w: {"reason": "matrix"},
    "POST /api/v1/determinations/": lambda w: {
        "reference": "DET-MATRIX-2",
        "legal_basis": "Matrix",
        "effective_date": "2026-11-27",
        "rules": {w.application.covered_model.slug: {"kind": "open"}},
    },
    "PATCH /api/v1/determinations/{id}/": lambda w: {"legal_basis": "Amended"},
    "POST /api/v1/determinations/{id}/send-back/": lambda w: {"note": "matrix"},
    "POST /api/v1/determinations/{id}/apply/": lambda w: {"confirm": True},
    "POST /api/v1/bulk-actions/": lambda w: {
        "kind": "suspend",
        "filters": {"organisation": w.organisation.slug},
        "reason": "matrix",
        "emergency": True,
    },
    "POST /api/v1/bulk-actions/{id}/approve/": lambda w: {"plan_hash": w.bulk_action.plan_hash},
    "POST /api/v1/bulk-actions/{id}/execute/": lambda w: {"plan_hash": w.bulk_action.plan_hash},
    "POST /api/v1/bulk-actions/{id}/review/": lambda w: {"note": "matrix"},
    "POST /api/v1/emergency-stops/": lambda w: {
        "covered_model": w.application.covered_model.slug,
        "reason": "matrix",
    },
    "POST /api/v1/targets/": lambda w: {
        "kind": "scim",
        "name": "matrix-two",
        "url": "https://scim.matrix.test/v2",
        "token": "matrix-token",
    },
    "PATCH /api/v1/targets/{id}/": lambda w: {"enabled": False},
    "POST /api/v1/organisations/": lambda w: {
        "legal_name": "Matrix Partners",
        "country": "GB",
        "sector": "energy",
        "email_domain": "matrix-partners.example",
    },
    "POST /api/v1/organisations/{slug}/trusted/": lambda w: {"trusted": True, "reason": "matrix"},
    "POST /api/v1/organisations/{slug}/verification/": lambda w: {
        "state": "verified",
        "reason": "matrix",
    },
    "POST /api/v1/invitations/accept/": lambda w: {"token": "not-a-real-token"},
    "PATCH /api/v1/applications/{id}/": lambda w: {"use_case": "A matrix use case, long enough."},
    "PUT /api/v1/profile/": lambda w: {
        "legal_name": "Matrix Person",
        "date_of_birth": "1980-01-01",
        "citizenships": ["GB"],
        "residence_country": "GB",
        "us_person_status": "none",
        "attest": True,
        "accept_aup": True,
    },
    "PATCH /api/v1/profile/": lambda w: {
        "legal_name": "Matrix Person",
        "attest": True,
        "accept_aup": True,
    },
    "POST /api/v1/certification-campaigns/": lambda w: {
        "title": "Matrix campaign two",
        "covered_model": w.campaign.covered_model.slug,
        "deadline": "2099-01-01T00:00:00Z",
    },
    "POST /api/v1/certification-tasks/{id}/decide/": lambda w: {"decision": "confirm"},
    "POST /api/v1/certification-tasks/confirm-all/": lambda w: {
        "items": [w.certification_item.pk],
        "confirm": True,
    },
    "POST /api/v1/usage-alerts/{id}/acknowledge/": lambda w: {"note": "matrix"},
    "POST /api/v1/usage-alerts/{id}/close/": lambda w: {"note": "matrix"},
    "POST /api/v1/usage-alerts/{id}/hold/": lambda w: {"note": "matrix"},
    "POST /api/v1/usage-alerts/{id}/release/": lambda w: {"note": "matrix"},
}
CSL_ROWS = (
    b"_id,source,entity_number,type,programs,name,alt_names,citizenships,dates_of_birth\n"
    b'"m-1","Specially Designated Nationals (SDN) - Treasury Department","1","Individual",'
    b'"SDGT","Matrix LISTED","","",""\n'
)
# Multipart bodies (a fresh upload per request: a file is read once).
MULTIPART: dict[str, Callable[[World], dict[str, Any]]] = {
    "POST /api/v1/determinations/{id}/document/": lambda w: {
        "document": SimpleUploadedFile("letter.pdf", PDF, content_type="application/pdf")
    },
    "POST /api/v1/organisation-webhooks/": lambda w: {
        "organisation": w.organisation.slug,
        "url": "https://hooks.northwind.example/new",
    },
    "POST /api/v1/organisation-documents/": lambda w: {
        "organisation": w.organisation.slug,
        "kind": "attestation_letter",
        "file": SimpleUploadedFile("letter.pdf", PDF, content_type="application/pdf"),
    },
    "POST /api/v1/screening-lists/": lambda w: {
        "format": "csl",
        "file": SimpleUploadedFile("csl.csv", CSL_ROWS, content_type="text/csv"),
    },
}

# Expected status per persona, in the order of PERSONAS:
#   anonymous outsider member admin reviewer reviewer-2 compliance ops auditor staff-no-MFA
EXPECTED: dict[str, str] = {
    "DELETE /api/v1/invitations/{id}/": "401 404 403 204 404 404 404 404 403 403",
    "DELETE /api/v1/memberships/{id}/": "401 404 403 204 403 403 403 404 403 403",
    "GET /api/v1/access-reports/{slug}/": "401 404 404 200 404 404 200 404 200 403",
    "GET /api/v1/applications/": "401 200 200 200 200 200 200 200 200 403",
    "GET /api/v1/applications/{id}/": "401 404 200 200 200 200 200 404 200 403",
    "GET /api/v1/audit-events/": "401 403 403 403 403 403 200 200 200 403",
    "GET /api/v1/audit-events/export/": "401 403 403 403 403 403 200 200 200 403",
    "GET /api/v1/audit-events/{id}/": "401 403 403 403 403 403 200 200 200 403",
    "GET /api/v1/bulk-actions/": "401 403 403 403 403 403 200 200 200 403",
    "GET /api/v1/bulk-actions/{id}/": "401 403 403 403 403 403 200 200 200 403",
    "GET /api/v1/bulk-actions/{id}/evidence/": "401 403 403 403 403 403 200 200 200 403",
    "GET /api/v1/bulk-actions/{id}/keys/": "401 403 403 403 403 403 200 200 200 403",
    "GET /api/v1/covered-models/": "401 200 200 200 200 200 200 200 200 403",
    "POST /api/v1/bulk-actions/{id}/lift/": "401 403 403 403 403 403 403 409 403 403",
    "GET /api/v1/bulk-actions/{id}/status/": "401 403 403 403 403 403 200 200 200 403",
    "GET /api/v1/certification-campaigns/": "401 403 403 403 403 403 200 403 200 403",
    "GET /api/v1/certification-campaigns/{id}/": "401 403 403 403 403 403 200 403 200 403",
    "GET /api/v1/certification-campaigns/{id}/items/": "401 403 403 403 403 403 200 403 200 403",
    "GET /api/v1/certification-tasks/": "401 200 200 200 403 403 403 403 403 403",
    "GET /api/v1/compliance/summary/": "401 403 403 403 403 403 200 403 200 403",
    "GET /api/v1/credentials/": "401 200 200 200 200 200 200 200 200 403",
    "GET /api/v1/credentials/{id}/": "401 404 200 200 404 404 200 200 200 403",
    "GET /api/v1/credentials/{id}/delivery/": "401 404 200 200 404 404 200 200 200 403",
    "GET /api/v1/determinations/": "401 403 403 403 403 403 200 403 200 403",
    "GET /api/v1/determinations/{id}/": "401 403 403 403 403 403 200 403 200 403",
    # 404 for readers: the world's draft has no letter attached (tests/test_api_evidence.py).
    "GET /api/v1/determinations/{id}/document/": "401 403 403 403 403 403 404 403 404 403",
    "GET /api/v1/determinations/{id}/evidence/": "401 403 403 403 403 403 200 403 200 403",
    "GET /api/v1/determinations/{id}/impact/": "401 403 403 403 403 403 200 403 200 403",
    "GET /api/v1/grants/": "401 200 200 200 200 200 200 200 200 403",
    "GET /api/v1/grants/{id}/": "401 404 200 200 200 200 200 200 200 403",
    "GET /api/v1/invitations/": "401 200 200 200 200 200 200 200 200 403",
    "GET /api/v1/invitations/{id}/": "401 404 200 200 404 404 404 404 200 403",
    "GET /api/v1/memberships/": "401 200 200 200 200 200 200 200 200 403",
    "GET /api/v1/memberships/{id}/": "401 404 200 200 200 200 200 404 200 403",
    "GET /api/v1/notifications/": "401 200 200 200 200 200 200 200 200 403",
    "GET /api/v1/organisation-documents/": "401 200 200 200 200 200 200 200 200 403",
    "GET /api/v1/organisation-documents/{id}/": "401 404 404 200 200 200 200 404 200 403",
    "GET /api/v1/organisation-documents/{id}/download/": "401 404 404 200 200 200 200 404 200 403",
    "GET /api/v1/organisations/": "401 200 200 200 200 200 200 200 200 403",
    "GET /api/v1/organisations/{slug}/": "401 404 200 200 200 200 200 200 200 403",
    "GET /api/v1/persons/": "401 200 200 200 200 200 200 200 200 403",
    "GET /api/v1/persons/{id}/": "401 404 200 200 200 200 200 404 200 403",
    "GET /api/v1/profile/": "401 200 200 200 404 404 404 404 404 403",
    "GET /api/v1/reviews/": "401 403 403 403 200 200 200 403 200 403",
    "GET /api/v1/reviews/{id}/": "401 403 403 403 200 200 200 403 200 403",
    "GET /api/v1/screening-lists/freshness/": "401 403 403 403 403 403 200 403 200 403",
    "GET /api/v1/screening-matches/": "401 403 403 403 403 403 200 403 200 403",
    "GET /api/v1/screening-matches/{id}/": "401 403 403 403 403 403 200 403 200 403",
    "GET /api/v1/targets/": "401 403 403 403 403 403 403 200 200 403",
    "GET /api/v1/targets/{id}/": "401 403 403 403 403 403 403 200 200 403",
    "PATCH /api/v1/applications/{id}/": "401 404 403 409 403 403 403 404 403 403",
    "GET /api/v1/usage-alerts/": "401 403 403 403 403 403 200 403 200 403",
    "GET /api/v1/usage-alerts/{id}/": "401 403 403 403 403 403 200 403 200 403",
    "PATCH /api/v1/determinations/{id}/": "401 403 403 403 403 403 200 403 403 403",
    "PATCH /api/v1/profile/": "401 400 200 400 404 404 404 404 404 403",
    "PATCH /api/v1/targets/{id}/": "401 403 403 403 403 403 403 200 403 403",
    "POST /api/v1/applications/": "401 404 404 201 404 404 404 404 404 403",
    "POST /api/v1/applications/{id}/answer/": "401 404 403 409 403 403 403 404 403 403",
    "POST /api/v1/applications/{id}/submit/": "401 404 403 409 403 403 403 404 403 403",
    "POST /api/v1/applications/{id}/withdraw/": "401 404 403 200 403 403 403 404 403 403",
    "POST /api/v1/bulk-actions/": "401 403 403 403 403 403 403 201 403 403",
    "POST /api/v1/bulk-actions/{id}/approve/": "401 403 403 403 403 403 403 200 403 403",
    "POST /api/v1/bulk-actions/{id}/execute/": "401 403 403 403 403 403 403 409 403 403",
    "POST /api/v1/bulk-actions/{id}/replan/": "401 403 403 403 403 403 403 201 403 403",
    "POST /api/v1/bulk-actions/{id}/resume/": "401 403 403 403 403 403 403 409 403 403",
    "POST /api/v1/bulk-actions/{id}/review/": "401 403 403 403 403 403 403 409 403 403",
    "POST /api/v1/credentials/{id}/collect/": "401 404 200 404 404 404 404 404 404 403",
    "POST /api/v1/certification-campaigns/": "401 403 403 403 403 403 201 403 403 403",
    "POST /api/v1/certification-tasks/confirm-all/": "401 400 400 200 403 403 403 403 403 403",
    "POST /api/v1/certification-tasks/{id}/decide/": "401 404 403 200 403 403 403 403 403 403",
    "POST /api/v1/credentials/{id}/rotate/": "401 404 403 200 404 404 403 403 403 403",
    "POST /api/v1/determinations/": "401 403 403 403 403 403 201 403 403 403",
    "POST /api/v1/determinations/{id}/apply/": "401 403 403 403 403 403 409 403 403 403",
    "POST /api/v1/determinations/{id}/approve/": "401 403 403 403 403 403 409 403 403 403",
    "POST /api/v1/determinations/{id}/document/": "401 403 403 403 403 403 200 403 403 403",
    "POST /api/v1/determinations/{id}/send-back/": "401 403 403 403 403 403 409 403 403 403",
    "POST /api/v1/determinations/{id}/submit/": "401 403 403 403 403 403 409 403 403 403",
    "POST /api/v1/emergency-stops/": "401 403 403 403 403 403 403 201 403 403",
    "GET /api/v1/emergency-stops/": "401 403 403 403 403 403 403 200 403 403",
    "POST /api/v1/invitations/": "401 404 404 201 404 404 404 404 404 403",
    "POST /api/v1/invitations/accept/": "401 400 400 400 400 400 400 400 400 403",
    "POST /api/v1/notifications/read-all/": "401 200 200 200 200 200 200 200 200 403",
    "POST /api/v1/notifications/{id}/read/": "401 404 404 200 404 404 404 404 404 403",
    "POST /api/v1/organisation-documents/": "401 404 404 201 404 404 404 404 404 403",
    "GET /api/v1/organisation-webhooks/": "401 200 200 200 200 200 200 200 200 403",
    "GET /api/v1/organisation-webhooks/{id}/": "401 404 404 200 404 404 404 404 404 403",
    "POST /api/v1/organisation-webhooks/": "401 404 404 201 404 404 404 404 404 403",
    "DELETE /api/v1/organisation-webhooks/{id}/": "401 404 404 204 404 404 404 404 404 403",
    "POST /api/v1/organisations/": "401 201 201 201 201 201 201 201 201 403",
    "POST /api/v1/organisations/{slug}/trusted/": "401 403 403 403 403 403 200 403 403 403",
    "POST /api/v1/organisations/{slug}/verification/": "401 403 403 403 403 403 200 403 403 403",
    "POST /api/v1/reviews/{id}/approve/": "401 403 403 403 409 409 403 403 403 403",
    "POST /api/v1/reviews/{id}/claim/": "401 403 403 403 200 200 403 403 403 403",
    "POST /api/v1/reviews/{id}/comment/": "401 403 403 403 201 201 403 403 403 403",
    "POST /api/v1/reviews/{id}/reassign/": "401 403 403 403 403 403 403 403 403 403",
    "POST /api/v1/reviews/{id}/reject/": "401 403 403 403 200 200 403 403 403 403",
    "POST /api/v1/reviews/{id}/release/": "401 403 403 403 409 409 403 403 403 403",
    "POST /api/v1/reviews/{id}/request-information/": "401 403 403 403 200 200 403 403 403 403",
    "POST /api/v1/screening-lists/": "401 403 403 403 403 403 201 403 403 403",
    "POST /api/v1/screening-matches/{id}/confirm/": "401 403 403 403 403 403 409 403 403 403",
    "POST /api/v1/screening-matches/{id}/dismiss/": "401 403 403 403 403 403 200 403 403 403",
    "POST /api/v1/targets/": "401 403 403 403 403 403 403 201 403 403",
    "POST /api/v1/targets/{id}/retry-dead/": "401 403 403 403 403 403 403 200 403 403",
    "PUT /api/v1/profile/": "401 200 200 200 404 404 404 404 404 403",
    "POST /api/v1/usage-alerts/{id}/acknowledge/": "401 403 403 403 403 403 200 403 403 403",
    "POST /api/v1/usage-alerts/{id}/close/": "401 403 403 403 403 403 200 403 403 403",
    "POST /api/v1/usage-alerts/{id}/hold/": "401 403 403 403 403 403 200 403 403 403",
    "POST /api/v1/usage-alerts/{id}/release/": "401 403 403 403 403 403 409 403 403 403",
}


def _url(operation: str, world: World) -> str:
    path = operation.split(" ", 1)[1]
    if "{" not in path:
        return path
    collection = path.removeprefix("/api/v1/").split("/", 1)[0]
    value = PATH_OBJECTS[collection](world)
    return path.replace("{id}", str(value)).replace("{slug}", str(value))


def _call(client: Client, operation: str, world: World) -> int:
    method = operation.split(" ", 1)[0].lower()
    url = _url(operation, world)
    # Each request in a savepoint rolled back afterwards: personas never see each other's
    # changes, so every cell of the table means "this persona, on the world as built".
    # Marked as the test case's own block, as Django's TestCase marks its atomics, so that a
    # service's durable=True block (it must be the outermost one) still runs inside it.
    savepoint = transaction.atomic()
    savepoint._from_testcase = True  # type: ignore[attr-defined]
    with savepoint:
        if operation in MULTIPART:
            response = client.post(url, MULTIPART[operation](world))
        elif method == "get":
            response = client.get(url)
        else:
            body = BODIES[operation](world) if operation in BODIES else {}
            response = client.generic(
                method.upper(), url, json.dumps(body), content_type="application/json"
            )
        transaction.set_rollback(True)
    return response.status_code


@pytest.fixture
def world(settings, authz_world: World) -> World:
    # The registered endpoint's host is not resolved: this matrix is about who may.
    settings.ORGANISATION_WEBHOOK_ALLOW_PRIVATE = True
    return authz_world


@pytest.fixture
def persona_clients(request, world) -> dict[str, Client]:
    clients = {"anonymous": Client()}
    for persona in PERSONAS[1:]:
        user = request.getfixturevalue(persona)
        if persona == "staff_without_mfa":
            # Issued while the account had a second factor, which was then removed: the
            # token must stop working (a token can never be issued without one).
            from tests.factories import give_totp

            give_totp(user)
            token = token_for(user)
            Authenticator.objects.filter(user=user).delete()
        else:
            token = token_for(user)
        clients[persona] = Client(HTTP_AUTHORIZATION=f"Bearer {token}")
    return clients


def test_every_operation_is_in_the_matrix():
    operations = schema_operations()

    assert operations, "the schema lists no operations"
    assert_table_lists_exactly(operations, EXPECTED, what="API operations")


def test_every_path_object_and_body_names_a_real_operation():
    operations = set(schema_operations())
    assert not (set(BODIES) | set(MULTIPART)) - operations


@pytest.mark.django_db
def test_each_persona_gets_the_expected_outcome(world, persona_clients):
    observed: dict[str, str] = {}
    for operation in schema_operations():
        row = [str(_call(persona_clients[p], operation, world)) for p in PERSONAS]
        observed[operation] = " ".join(row)

    assert_table_holds(observed, EXPECTED, print_variable="API_MATRIX_PRINT")


# Separation of duties (invariant 5): rows for each refusal, 409 with the reason.
CONFLICTS = [
    ("POST /api/v1/organisations/{slug}/trusted/", "compliance_officer"),
    ("POST /api/v1/organisations/{slug}/verification/", "compliance_officer"),
    ("POST /api/v1/screening-matches/{id}/confirm/", "compliance_officer"),
    ("POST /api/v1/screening-matches/{id}/dismiss/", "compliance_officer"),
    ("GET /api/v1/reviews/{id}/", "reviewer"),
    ("POST /api/v1/reviews/{id}/comment/", "reviewer"),
    ("POST /api/v1/reviews/{id}/claim/", "reviewer"),
]


@pytest.mark.django_db
@pytest.mark.parametrize(("operation", "persona"), CONFLICTS)
def test_staff_who_belong_to_the_organisation_are_refused_with_the_reason(
    request, world, staff_members_of_ours, operation, persona
):
    client = Client(HTTP_AUTHORIZATION=f"Bearer {token_for(request.getfixturevalue(persona))}")
    method = operation.split(" ", 1)[0].lower()
    url = _url(operation, world)
    body = BODIES[operation](world) if operation in BODIES else {}

    if method == "get":
        response = client.get(url)
    else:
        response = client.post(url, json.dumps(body), content_type="application/json")

    assert response.status_code == 409
    assert "belong to" in response.json()["detail"]


@pytest.mark.django_db
def test_an_officer_who_edited_a_determination_cannot_approve_it(
    compliance_officer, edited_determination
):
    client = Client(HTTP_AUTHORIZATION=f"Bearer {token_for(compliance_officer)}")

    response = client.post(f"/api/v1/determinations/{edited_determination.pk}/approve/")

    assert response.status_code == 409
    assert "edited" in response.json()["detail"]
