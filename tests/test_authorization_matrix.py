"""Every URL pattern against every persona, with the expected outcome in one table.

The URLconf is walked automatically: a new URL that is missing from ``EXPECTED`` fails
``test_every_url_is_in_the_matrix``. Outcomes: a status code, ``login`` (redirect to
sign-in), ``mfa`` (redirect to MFA set-up). Run with ``AUTHZ_MATRIX_PRINT=1`` to print
the observed table when adding rows.
"""

from __future__ import annotations

from typing import Any

import pytest
from django.test import Client
from django.urls import reverse

from portal.accounts.models import User
from tests.authz_world import KWARGS, assert_table_holds, assert_table_lists_exactly
from tests.url_inventory import covered_url_names

PERSONAS = (
    "anonymous",
    "outsider",
    "partner_member",
    "partner_admin",
    "reviewer",
    "compliance_officer",
    "ops_user",
    "auditor",
    "staff_without_mfa",
)


# Expected GET outcome per persona, in the order of PERSONAS:
#   anonymous outsider member admin reviewer compliance ops auditor staff-without-MFA
EXPECTED: dict[str, str] = {
    "api:access-report-detail": "401 404 404 200 404 200 404 200 403",
    "api:api-root": "401 200 200 200 200 200 200 200 403",
    "api:application-answer": "401 405 405 405 405 405 405 405 403",
    "api:application-detail": "401 404 200 200 200 200 404 200 403",
    "api:application-list": "401 200 200 200 200 200 200 200 403",
    "api:application-submit": "401 405 405 405 405 405 405 405 403",
    "api:application-withdraw": "401 405 405 405 405 405 405 405 403",
    "api:audit-event-detail": "401 403 403 403 403 200 200 200 403",
    "api:audit-event-list": "401 403 403 403 403 200 200 200 403",
    "api:audit-export": "401 403 403 403 403 200 200 200 403",
    "api:bulk-action-approve": "401 403 403 403 403 403 405 403 403",
    "api:bulk-action-detail": "401 403 403 403 403 200 200 200 403",
    "api:bulk-action-evidence": "401 403 403 403 403 200 200 200 403",
    "api:bulk-action-execute": "401 403 403 403 403 403 405 403 403",
    "api:bulk-action-keys": "401 403 403 403 403 200 200 200 403",
    "api:bulk-action-lift": "401 403 403 403 403 403 405 403 403",
    "api:covered-model-list": "401 200 200 200 200 200 200 200 403",
    "api:bulk-action-list": "401 403 403 403 403 200 200 200 403",
    "api:bulk-action-replan": "401 403 403 403 403 403 405 403 403",
    "api:bulk-action-resume": "401 403 403 403 403 403 405 403 403",
    "api:bulk-action-review": "401 403 403 403 403 403 405 403 403",
    "api:bulk-action-status": "401 403 403 403 403 200 200 200 403",
    "api:credential-collect": "401 405 405 405 405 405 405 405 403",
    "api:certification-campaign-detail": "401 403 403 403 403 200 403 200 403",
    "api:certification-campaign-items": "401 403 403 403 403 200 403 200 403",
    "api:certification-campaign-list": "401 403 403 403 403 200 403 200 403",
    "api:certification-task-confirm-all": "401 405 405 405 403 403 403 403 403",
    "api:certification-task-decide": "401 405 405 405 403 403 403 403 403",
    "api:certification-task-list": "401 200 200 200 403 403 403 403 403",
    "api:compliance-summary": "401 403 403 403 403 200 403 200 403",
    "api:credential-delivery": "401 404 200 200 404 200 200 200 403",
    "api:credential-detail": "401 404 200 200 404 200 200 200 403",
    "api:credential-list": "401 200 200 200 200 200 200 200 403",
    "api:credential-rotate": "401 405 405 405 405 405 405 405 403",
    "api:not_found": "404 404 404 404 404 404 404 404 403",
    "api:determination-apply": "401 403 403 403 403 405 403 403 403",
    "api:determination-approve": "401 403 403 403 403 405 403 403 403",
    "api:determination-detail": "401 403 403 403 403 200 403 200 403",
    # GET downloads the letter: 404 for readers, as the world's draft has none attached.
    "api:determination-document": "401 403 403 403 403 404 403 404 403",
    "api:determination-evidence": "401 403 403 403 403 200 403 200 403",
    "api:determination-impact": "401 403 403 403 403 200 403 200 403",
    "api:determination-list": "401 403 403 403 403 200 403 200 403",
    "api:determination-send-back": "401 403 403 403 403 405 403 403 403",
    "api:determination-submit": "401 403 403 403 403 405 403 403 403",
    "api:emergency-stop-list": "401 403 403 403 403 403 200 403 403",
    "api:docs": "200 200 200 200 200 200 200 200 403",
    "api:document-detail": "401 404 404 200 200 200 404 200 403",
    "api:document-download": "401 404 404 200 200 200 404 200 403",
    "api:document-list": "401 200 200 200 200 200 200 200 403",
    "api:grant-detail": "401 404 200 200 200 200 200 200 403",
    "api:grant-list": "401 200 200 200 200 200 200 200 403",
    "api:invitation-accept": "401 405 405 405 405 405 405 405 403",
    "api:invitation-detail": "401 404 200 200 404 404 404 200 403",
    "api:invitation-list": "401 200 200 200 200 200 200 200 403",
    "api:membership-detail": "401 404 200 200 200 200 404 200 403",
    "api:membership-list": "401 200 200 200 200 200 200 200 403",
    "api:notification-list": "401 200 200 200 200 200 200 200 403",
    "api:notification-read": "401 405 405 405 405 405 405 405 403",
    "api:notification-read-all": "401 405 405 405 405 405 405 405 403",
    "api:organisation-webhook-detail": "401 404 404 200 404 404 404 404 403",
    "api:organisation-webhook-list": "401 200 200 200 200 200 200 200 403",
    "api:organisation-detail": "401 404 200 200 200 200 200 200 403",
    "api:organisation-list": "401 200 200 200 200 200 200 200 403",
    "api:organisation-trusted": "401 405 405 405 405 405 405 405 403",
    "api:organisation-verification": "401 405 405 405 405 405 405 405 403",
    "api:person-detail": "401 404 200 200 200 200 404 200 403",
    "api:person-list": "401 200 200 200 200 200 200 200 403",
    "api:profile": "401 200 200 200 404 404 404 404 403",
    "api:review-approve": "401 403 403 403 405 403 403 403 403",
    "api:review-claim": "401 403 403 403 405 403 403 403 403",
    "api:review-comment": "401 403 403 403 405 403 403 403 403",
    "api:review-detail": "401 403 403 403 200 200 403 200 403",
    "api:review-list": "401 403 403 403 200 200 403 200 403",
    "api:review-reassign": "401 403 403 403 405 403 403 403 403",
    "api:review-reject": "401 403 403 403 405 403 403 403 403",
    "api:review-release": "401 403 403 403 405 403 403 403 403",
    "api:review-request-information": "401 403 403 403 405 403 403 403 403",
    "api:schema": "200 200 200 200 200 200 200 200 403",
    "api:scim_token_revoke": "login 405 405 405 405 405 405 405 403",
    "api:scim_tokens": "login 404 404 200 404 404 404 404 403",
    "api:screening-list-freshness": "401 403 403 403 403 200 403 200 403",
    "api:screening-list-list": "401 403 403 403 403 405 403 403 403",
    "api:screening-match-confirm": "401 403 403 403 403 405 403 403 403",
    "api:screening-match-detail": "401 403 403 403 403 200 403 200 403",
    "api:screening-match-dismiss": "401 403 403 403 403 405 403 403 403",
    "api:screening-match-list": "401 403 403 403 403 200 403 200 403",
    "api:target-detail": "401 403 403 403 403 403 200 200 403",
    "api:target-list": "401 403 403 403 403 403 200 200 403",
    "api:target-retry-dead": "401 403 403 403 403 403 405 403 403",
    "api:token_revoke": "login 405 405 405 405 405 405 405 403",
    "api:tokens": "login 200 200 200 200 200 200 200 403",
    "api:usage-alert-acknowledge": "401 403 403 403 403 405 403 403 403",
    "api:usage-alert-close": "401 403 403 403 403 405 403 403 403",
    "api:usage-alert-detail": "401 403 403 403 403 200 403 200 403",
    "api:usage-alert-hold": "401 403 403 403 403 405 403 403 403",
    "api:usage-alert-list": "401 403 403 403 403 200 403 200 403",
    "api:usage-alert-release": "401 403 403 403 403 405 403 403 403",
    "applications:detail": "login 404 200 200 200 200 404 200 mfa",
    "applications:list": "login 200 200 200 200 200 200 200 mfa",
    "applications:new": "login 200 404 200 404 404 404 404 mfa",
    "applications:step": "login 404 404 302 404 404 404 404 mfa",
    "applications:submit": "login 405 405 405 405 405 405 405 mfa",
    "applications:withdraw": "login 405 405 405 405 405 405 405 mfa",
    "audit:checkpoint": "200 200 200 200 200 200 200 200 mfa",
    "audit:checkpoints": "200 200 200 200 200 200 200 200 mfa",
    "audit:consistency": "400 400 400 400 400 400 400 400 mfa",
    "audit:cosign": "405 405 405 405 405 405 405 405 mfa",
    "audit:event": "login 403 403 403 403 200 200 200 mfa",
    "audit:inclusion": "401 403 403 403 403 400 400 400 mfa",
    "audit:witness_keys": "405 405 405 405 405 405 405 405 mfa",
    "audit:explorer": "login 403 403 403 403 200 200 200 mfa",
    "audit:export_csv": "login 403 403 403 403 200 200 200 mfa",
    "audit:export_jsonl": "login 403 403 403 403 200 200 200 mfa",
    "bulk:approve": "login 404 404 404 404 403 200 403 mfa",
    "bulk:detail": "login 404 404 404 404 200 200 200 mfa",
    "bulk:emergency_stop": "login 403 403 403 403 403 200 403 mfa",
    "bulk:execute": "405 405 405 405 405 405 405 405 mfa",
    "bulk:lift_stop": "405 405 405 405 405 405 405 405 mfa",
    "bulk:list": "login 403 403 403 403 200 200 200 mfa",
    "bulk:plan": "login 403 403 403 403 403 200 403 mfa",
    "bulk:progress": "login 404 404 404 404 200 200 200 mfa",
    "bulk:replan": "405 405 405 405 405 405 405 405 mfa",
    "bulk:resume": "405 405 405 405 405 405 405 405 mfa",
    "bulk:review": "405 405 405 405 405 405 405 405 mfa",
    "certification:confirm_all": "405 405 405 405 405 405 405 405 mfa",
    "certification:decide": "405 405 405 405 405 405 405 405 mfa",
    "certification:detail": "login 404 404 404 404 200 404 200 mfa",
    "certification:progress": "login 404 404 404 404 200 404 200 mfa",
    "certification:list": "login 403 403 403 403 200 403 200 mfa",
    "certification:new": "login 403 403 403 403 200 403 403 mfa",
    "certification:organisation": "login 404 404 404 404 200 404 200 mfa",
    "certification:tasks": "login 200 200 200 403 403 403 403 mfa",
    "compliance:access_report": "login 404 404 200 404 200 404 200 mfa",
    "compliance:apply": "405 405 405 405 405 405 405 405 mfa",
    "compliance:approve": "405 405 405 405 405 405 405 405 mfa",
    "compliance:dashboard": "login 403 403 403 403 200 403 200 mfa",
    "compliance:detail": "login 404 404 404 404 200 404 200 mfa",
    "compliance:determinations": "login 403 403 403 403 200 403 200 mfa",
    "compliance:document": "login 404 404 404 404 404 404 404 mfa",
    "compliance:draft": "login 403 403 403 403 200 403 403 mfa",
    "compliance:edit": "login 404 404 404 404 200 404 403 mfa",
    "compliance:evidence": "login 404 404 404 404 200 404 200 mfa",
    "compliance:bulk_evidence": "login 404 404 404 404 200 200 200 mfa",
    "compliance:impact": "login 404 404 404 404 200 404 200 mfa",
    "compliance:send_back": "405 405 405 405 405 405 405 405 mfa",
    "compliance:submit": "405 405 405 405 405 405 405 405 mfa",
    "credentials:list": "login 200 200 200 200 200 200 200 mfa",
    "credentials:collect": "login 405 405 405 405 405 405 405 mfa",
    "deliveries:health": "login 403 403 403 403 403 200 200 mfa",
    "deliveries:retry_dead": "405 405 405 405 405 405 405 405 mfa",
    "deliveries:target_add": "login 403 403 403 403 403 200 403 mfa",
    "deliveries:target_edit": "login 403 403 403 403 403 200 403 mfa",
    "eligibility:people": "login 404 404 200 200 200 200 200 mfa",
    "eligibility:profile": "login 200 200 200 200 200 200 200 mfa",
    "healthz": "200 200 200 200 200 200 200 200 200",
    "home": "200 200 200 200 200 200 200 200 mfa",
    "waiting": "login 403 403 403 403 200 200 403 mfa",
    "introspection:introspect": "405 405 405 405 405 405 405 405 403",
    "notifications:list": "login 200 200 200 200 200 200 200 mfa",
    "notifications:read": "login 405 405 405 405 405 405 405 mfa",
    "notifications:read_all": "login 405 405 405 405 405 405 405 mfa",
    "notifications:webhooks": "login 404 404 200 404 404 404 404 mfa",
    "notifications:webhook_remove": "login 405 405 405 405 405 405 405 mfa",
    "partners:detail": "login 404 200 200 200 200 200 200 mfa",
    "partners:document_download": "login 404 404 200 200 200 404 200 mfa",
    "partners:document_upload": "login 405 405 405 405 405 405 405 mfa",
    "partners:invitation_accept": "login 400 400 400 400 400 400 400 mfa",
    "partners:invitation_revoke": "login 405 405 405 405 405 405 405 mfa",
    "partners:member_remove": "login 405 405 405 405 405 405 405 mfa",
    "partners:members": "login 404 404 200 404 404 404 404 mfa",
    "partners:organisation": "login 200 200 200 200 200 200 200 mfa",
    "partners:register": "login 200 200 200 200 200 200 200 mfa",
    "partners:staff_detail": "login 404 404 404 200 200 200 200 mfa",
    "partners:staff_list": "login 404 404 404 200 200 200 200 mfa",
    "partners:staff_set_trusted": "login 404 404 404 405 405 405 405 mfa",
    "partners:staff_set_verification": "login 404 404 404 405 405 405 405 mfa",
    "readyz": "200 200 200 200 200 200 200 200 200",
    "reviews:application": "login 403 403 403 200 200 403 200 mfa",
    "reviews:approve": "login 403 403 403 405 403 403 403 mfa",
    "reviews:claim": "login 403 403 403 405 403 403 403 mfa",
    "reviews:comment": "login 403 403 403 405 403 403 403 mfa",
    "reviews:queue": "login 403 403 403 200 200 403 200 mfa",
    "reviews:reassign": "login 403 403 403 403 403 403 403 mfa",
    "reviews:reject": "login 403 403 403 405 403 403 403 mfa",
    "reviews:release": "login 403 403 403 405 403 403 403 mfa",
    "reviews:request_information": "login 403 403 403 405 403 403 403 mfa",
    "reviews:respond": "login 404 200 200 200 200 404 200 mfa",
    "scim:group": "401 401 401 401 401 401 401 401 403",
    "scim:groups": "401 401 401 401 401 401 401 401 403",
    "scim:groups_search": "401 401 401 401 401 401 401 401 403",
    "scim:not_found": "404 404 404 404 404 404 404 404 403",
    "scim:resource_type": "401 401 401 401 401 401 401 401 403",
    "scim:resource_types": "401 401 401 401 401 401 401 401 403",
    "scim:schema": "401 401 401 401 401 401 401 401 403",
    "scim:schemas": "401 401 401 401 401 401 401 401 403",
    "scim:search": "401 401 401 401 401 401 401 401 403",
    "scim:service_provider_config": "401 401 401 401 401 401 401 401 403",
    "scim:user": "401 401 401 401 401 401 401 401 403",
    "scim:users": "401 401 401 401 401 401 401 401 403",
    "scim:users_search": "401 401 401 401 401 401 401 401 403",
    "screening:confirm": "login 405 405 405 405 405 405 405 mfa",
    "screening:detail": "login 403 403 403 403 200 403 200 mfa",
    "screening:dismiss": "login 405 405 405 405 405 405 405 mfa",
    "screening:freshness": "login 403 403 403 403 200 403 200 mfa",
    "screening:freshness_progress": "login 403 403 403 403 200 403 200 mfa",
    "screening:list_load": "login 403 403 403 403 200 403 403 mfa",
    # A job is seen only by those who may start its kind of work (a list load: compliance).
    "jobs:detail": "login 404 404 404 404 200 404 404 mfa",
    "jobs:progress": "login 404 404 404 404 200 404 404 mfa",
    "screening:queue": "login 403 403 403 403 200 403 200 mfa",
    "usage:acknowledge": "login 405 405 405 405 405 405 405 mfa",
    "usage:alert": "login 403 403 403 403 200 403 200 mfa",
    "usage:alerts": "login 403 403 403 403 200 403 200 mfa",
    "usage:close": "login 405 405 405 405 405 405 405 mfa",
    "usage:hold": "login 405 405 405 405 405 405 405 mfa",
    "usage:ingest": "405 405 405 405 405 405 405 405 mfa",
    "usage:release": "login 405 405 405 405 405 405 405 mfa",
}


def _outcome(response: Any) -> str:
    if response.status_code in (301, 302):
        location = response["Location"]
        if location.startswith(reverse("account_login")):
            return "login"
        if location.startswith(reverse("mfa_index")):
            return "mfa"
    return str(response.status_code)


@pytest.fixture
def persona_clients(request, authz_world) -> dict[str, Client]:
    clients = {}
    for persona in PERSONAS:
        client = Client()
        if persona != "anonymous":
            user: User = request.getfixturevalue(persona)
            client.force_login(user)
        clients[persona] = client
    return clients


def test_every_url_is_in_the_matrix():
    assert_table_lists_exactly(covered_url_names(), EXPECTED, what="URLs")


@pytest.mark.django_db
def test_each_persona_gets_the_expected_outcome(authz_world, persona_clients):
    observed: dict[str, str] = {}
    for name in covered_url_names():
        url = reverse(name, kwargs=KWARGS[name](authz_world) if name in KWARGS else None)
        row = []
        for persona in PERSONAS:
            response = persona_clients[persona].get(url)
            row.append(_outcome(response))
        observed[name] = " ".join(row)

    assert_table_holds(observed, EXPECTED, print_variable="AUTHZ_MATRIX_PRINT")


# Token-authenticated machine endpoints: no browser session, so no CSRF cookie to check.
CSRF_EXEMPT_PREFIXES = ("scim:", "introspection:", "usage:ingest")


@pytest.mark.django_db
def test_every_state_changing_request_needs_a_csrf_token(authz_world, superuser):
    client = Client(enforce_csrf_checks=True)
    client.force_login(superuser)
    accepted = []
    for name in covered_url_names():
        if name.startswith(CSRF_EXEMPT_PREFIXES):
            continue
        url = reverse(name, kwargs=KWARGS[name](authz_world) if name in KWARGS else None)
        response = client.post(url, {"reason": "csrf probe"})
        if response.status_code != 403:
            accepted.append(f"{name} -> {response.status_code}")

    assert not accepted, f"POST without a CSRF token was not refused: {accepted}"


# Separation of duties (invariant 5): staff who belong to our organisation, or who wrote a
# determination, are refused with 409 and the reason, on the pages as in the API.
CONFLICTS = [
    ("partners:staff_set_trusted", "post", "compliance_officer", {"trusted": "on", "reason": "x"}),
    (
        "partners:staff_set_verification",
        "post",
        "compliance_officer",
        {"state": "verified", "reason": "x"},
    ),
    ("screening:confirm", "post", "compliance_officer", {"reason": "x"}),
    ("screening:dismiss", "post", "compliance_officer", {"reason": "x"}),
    ("reviews:application", "get", "reviewer", {}),
    ("reviews:comment", "post", "reviewer", {"body": "x"}),
    ("reviews:claim", "post", "reviewer", {}),
]


@pytest.mark.django_db
@pytest.mark.parametrize(("name", "method", "persona", "data"), CONFLICTS)
def test_staff_who_belong_to_the_organisation_are_refused_with_the_reason(
    request, authz_world, staff_members_of_ours, name, method, persona, data
):
    client = Client()
    client.force_login(request.getfixturevalue(persona))
    url = reverse(name, kwargs=KWARGS[name](authz_world))

    response = getattr(client, method)(url, data)

    assert response.status_code == 409
    assert "belong to" in response.content.decode()


@pytest.mark.django_db
def test_an_officer_who_edited_a_determination_cannot_approve_it_on_the_page(
    compliance_officer, edited_determination
):
    client = Client()
    client.force_login(compliance_officer)
    url = reverse("compliance:approve", kwargs={"pk": edited_determination.pk})

    response = client.post(url)

    assert response.status_code == 409
    assert "edited" in response.content.decode()
    edited_determination.refresh_from_db()
    assert edited_determination.state == "awaiting_approval"


@pytest.mark.django_db
def test_the_review_queue_leaves_out_the_applications_of_the_reviewers_own_organisation(
    authz_world, staff_members_of_ours, reviewer, second_reviewer
):
    member = Client()
    member.force_login(reviewer)
    colleague = Client()
    colleague.force_login(second_reviewer)

    mine = member.get(reverse("reviews:queue"))
    theirs = colleague.get(reverse("reviews:queue"))

    assert mine.status_code == theirs.status_code == 200
    assert authz_world.application.pk not in [row.pk for row in mine.context["rows"]]
    assert authz_world.application.pk in [row.pk for row in theirs.context["rows"]]
