"""A script with a token can do everything the UI does.

Every page URL of the portal is mapped to the API operations that do the same thing, or
named with the reason it has none. The URLconf is walked automatically, so a new page
without either fails ``test_every_page_has_an_api_or_a_reason``, and an operation named
here that the schema does not publish fails ``test_every_named_operation_is_published``.
That each operation grants exactly what its page grants is the business of the two
authorization matrices (``test_authorization_matrix.py`` and
``test_api_authorization_matrix.py``).
"""

from __future__ import annotations

from django.urls import get_resolver

from tests.url_inventory import covered_url_names, schema_operations, walk_urls

V1 = "/api/v1"

# Page URL name → the operations a script uses instead.
PAGE_TO_API: dict[str, tuple[str, ...]] = {
    # Partner side
    "applications:list": (f"GET {V1}/applications/",),
    "applications:new": (f"GET {V1}/covered-models/", f"POST {V1}/applications/"),
    "applications:detail": (f"GET {V1}/applications/{{id}}/",),
    "applications:step": (f"PATCH {V1}/applications/{{id}}/",),
    "applications:submit": (f"POST {V1}/applications/{{id}}/submit/",),
    "applications:withdraw": (f"POST {V1}/applications/{{id}}/withdraw/",),
    "credentials:list": (f"GET {V1}/credentials/", f"GET {V1}/grants/"),
    "credentials:collect": (f"POST {V1}/credentials/{{id}}/collect/",),
    "eligibility:profile": (f"GET {V1}/profile/", f"PATCH {V1}/profile/"),
    "eligibility:people": (f"GET {V1}/persons/",),
    "notifications:list": (f"GET {V1}/notifications/",),
    "notifications:read": (f"POST {V1}/notifications/{{id}}/read/",),
    "notifications:read_all": (f"POST {V1}/notifications/read-all/",),
    "notifications:webhooks": (
        f"GET {V1}/organisation-webhooks/",
        f"POST {V1}/organisation-webhooks/",
    ),
    "notifications:webhook_remove": (f"DELETE {V1}/organisation-webhooks/{{id}}/",),
    "partners:organisation": (f"GET {V1}/organisations/",),
    "partners:register": (f"POST {V1}/organisations/",),
    "partners:detail": (
        f"GET {V1}/organisations/{{slug}}/",
        f"GET {V1}/memberships/",
        f"GET {V1}/organisation-documents/",
    ),
    "partners:document_upload": (
        f"GET {V1}/organisation-documents/",
        f"POST {V1}/organisation-documents/",
    ),
    "partners:document_download": (f"GET {V1}/organisation-documents/{{id}}/download/",),
    "partners:members": (
        f"GET {V1}/memberships/",
        f"GET {V1}/invitations/",
        f"POST {V1}/invitations/",
    ),
    "partners:member_remove": (f"DELETE {V1}/memberships/{{id}}/",),
    "partners:invitation_revoke": (f"DELETE {V1}/invitations/{{id}}/",),
    "partners:invitation_accept": (f"POST {V1}/invitations/accept/",),
    "reviews:respond": (f"POST {V1}/applications/{{id}}/answer/",),
    "certification:tasks": (f"GET {V1}/certification-tasks/",),
    "certification:decide": (f"POST {V1}/certification-tasks/{{id}}/decide/",),
    "certification:confirm_all": (f"POST {V1}/certification-tasks/confirm-all/",),
    # Staff side
    "partners:staff_list": (f"GET {V1}/organisations/",),
    "partners:staff_detail": (f"GET {V1}/organisations/{{slug}}/",),
    "partners:staff_set_trusted": (f"POST {V1}/organisations/{{slug}}/trusted/",),
    "partners:staff_set_verification": (f"POST {V1}/organisations/{{slug}}/verification/",),
    "reviews:queue": (f"GET {V1}/reviews/",),
    "reviews:application": (f"GET {V1}/reviews/{{id}}/",),
    "reviews:claim": (f"POST {V1}/reviews/{{id}}/claim/",),
    "reviews:release": (f"POST {V1}/reviews/{{id}}/release/",),
    "reviews:reassign": (f"POST {V1}/reviews/{{id}}/reassign/",),
    "reviews:approve": (f"POST {V1}/reviews/{{id}}/approve/",),
    "reviews:reject": (f"POST {V1}/reviews/{{id}}/reject/",),
    "reviews:request_information": (f"POST {V1}/reviews/{{id}}/request-information/",),
    "reviews:comment": (f"POST {V1}/reviews/{{id}}/comment/",),
    "screening:queue": (f"GET {V1}/screening-matches/",),
    "screening:detail": (f"GET {V1}/screening-matches/{{id}}/",),
    "screening:confirm": (f"POST {V1}/screening-matches/{{id}}/confirm/",),
    "screening:dismiss": (f"POST {V1}/screening-matches/{{id}}/dismiss/",),
    "screening:freshness": (f"GET {V1}/screening-lists/freshness/",),
    "screening:freshness_progress": (f"GET {V1}/screening-lists/freshness/",),
    "screening:list_load": (f"POST {V1}/screening-lists/",),
    "compliance:dashboard": (f"GET {V1}/compliance/summary/",),
    "compliance:access_report": (f"GET {V1}/access-reports/{{slug}}/",),
    "compliance:determinations": (f"GET {V1}/determinations/",),
    "compliance:draft": (f"GET {V1}/covered-models/", f"POST {V1}/determinations/"),
    "compliance:detail": (f"GET {V1}/determinations/{{id}}/",),
    "compliance:edit": (f"PATCH {V1}/determinations/{{id}}/",),
    "compliance:impact": (f"GET {V1}/determinations/{{id}}/impact/",),
    "compliance:submit": (f"POST {V1}/determinations/{{id}}/submit/",),
    "compliance:approve": (f"POST {V1}/determinations/{{id}}/approve/",),
    "compliance:send_back": (f"POST {V1}/determinations/{{id}}/send-back/",),
    "compliance:apply": (f"POST {V1}/determinations/{{id}}/apply/",),
    "compliance:document": (
        f"GET {V1}/determinations/{{id}}/document/",
        f"POST {V1}/determinations/{{id}}/document/",
    ),
    "compliance:evidence": (f"GET {V1}/determinations/{{id}}/evidence/",),
    "compliance:bulk_evidence": (f"GET {V1}/bulk-actions/{{id}}/evidence/",),
    "bulk:list": (f"GET {V1}/bulk-actions/",),
    "bulk:plan": (f"POST {V1}/bulk-actions/",),
    "bulk:detail": (f"GET {V1}/bulk-actions/{{id}}/",),
    "bulk:progress": (f"GET {V1}/bulk-actions/{{id}}/status/",),
    "bulk:approve": (f"POST {V1}/bulk-actions/{{id}}/approve/",),
    "bulk:execute": (f"POST {V1}/bulk-actions/{{id}}/execute/",),
    "bulk:replan": (f"POST {V1}/bulk-actions/{{id}}/replan/",),
    "bulk:resume": (f"POST {V1}/bulk-actions/{{id}}/resume/",),
    "bulk:review": (f"POST {V1}/bulk-actions/{{id}}/review/",),
    "bulk:emergency_stop": (f"GET {V1}/covered-models/", f"POST {V1}/emergency-stops/"),
    "bulk:lift_stop": (f"POST {V1}/bulk-actions/{{id}}/lift/",),
    "deliveries:health": (f"GET {V1}/targets/",),
    "deliveries:target_add": (f"POST {V1}/targets/",),
    "deliveries:target_edit": (f"PATCH {V1}/targets/{{id}}/",),
    "deliveries:retry_dead": (f"POST {V1}/targets/{{id}}/retry-dead/",),
    "certification:list": (f"GET {V1}/certification-campaigns/",),
    "certification:new": (f"POST {V1}/certification-campaigns/",),
    "certification:detail": (f"GET {V1}/certification-campaigns/{{id}}/",),
    "certification:progress": (f"GET {V1}/certification-campaigns/{{id}}/",),
    "certification:organisation": (f"GET {V1}/certification-campaigns/{{id}}/items/",),
    "usage:alerts": (f"GET {V1}/usage-alerts/",),
    "usage:alert": (f"GET {V1}/usage-alerts/{{id}}/",),
    "usage:acknowledge": (f"POST {V1}/usage-alerts/{{id}}/acknowledge/",),
    "usage:close": (f"POST {V1}/usage-alerts/{{id}}/close/",),
    "usage:hold": (f"POST {V1}/usage-alerts/{{id}}/hold/",),
    "usage:release": (f"POST {V1}/usage-alerts/{{id}}/release/",),
    "audit:explorer": (f"GET {V1}/audit-events/",),
    "audit:event": (f"GET {V1}/audit-events/{{id}}/",),
    "audit:export_csv": (f"GET {V1}/audit-events/export/",),
    "audit:export_jsonl": (f"GET {V1}/audit-events/export/",),
}

# Pages with no API of their own, and why.
NO_API: dict[str, str] = {
    "home": "a landing page that links to the others; each has its API above",
    "waiting": "what waits for a second signature: GET bulk-actions/ and determinations/ "
    "filtered by state",
    "api:tokens": (
        "tokens that mint tokens are issued in a signed-in browser session (with MFA for staff), "
        "never by another token, so a leaked token cannot mint more; `issue_token` for operators"
    ),
    "api:token_revoke": "as api:tokens; an expired or revoked token stops working at once anyway",
    "api:scim_tokens": "as api:tokens: an organisation's SCIM tokens; `scim_token` for operators",
    "api:scim_token_revoke": "as api:scim_tokens",
    "api:not_found": "not a page: the API's own problem+json 404 for a path that matches nothing",
    "audit:checkpoint": "the transparency log's endpoints are themselves the machine interface "
    "(C2SP text and JSON a verifier reads without a token); they are not mirrored under /api/",
    "audit:checkpoints": "as audit:checkpoint",
    "audit:consistency": "as audit:checkpoint",
    "audit:inclusion": "as audit:checkpoint (signed-in readers of the audit trail)",
    "audit:cosign": "as audit:checkpoint: an auditor posts one C2SP cosignature line",
    "audit:witness_keys": "as audit:checkpoint: an auditor registers a C2SP verifier key",
    "jobs:detail": "follows a list load or campaign opening a page queued; the API does the same "
    "work in the request (POST screening-lists/ answers 201 with the version, POST "
    "certification-campaigns/ with the campaign), so an API client has no job to follow",
    "jobs:progress": "as jobs:detail (the fragment its page polls)",
}

# Machine interfaces in their own right, not pages: the API itself, SCIM, health probes,
# OAuth token introspection and the usage gateway's feed.
MACHINE_NAMESPACES = ("scim:",)
MACHINE_NAMES = {"healthz", "readyz", "introspection:introspect", "usage:ingest", "api:schema"}


def _is_rest_framework_view(name: str) -> bool:
    callbacks = {n: p.callback for n, p in walk_urls(get_resolver().url_patterns)}
    return hasattr(callbacks[name], "cls")


def pages() -> list[str]:
    return [
        name
        for name in covered_url_names()
        if not name.startswith(MACHINE_NAMESPACES)
        and name not in MACHINE_NAMES
        and not _is_rest_framework_view(name)
    ]


def test_every_page_has_an_api_or_a_reason():
    missing = [name for name in pages() if name not in PAGE_TO_API and name not in NO_API]
    assert missing == [], f"pages with neither an API nor a reason: {missing}"


def test_no_page_is_listed_that_does_not_exist():
    known = set(pages())
    stale = sorted((set(PAGE_TO_API) | set(NO_API)) - known)
    assert stale == [], f"listed but not a page (renamed or removed?): {stale}"
    assert not set(PAGE_TO_API) & set(NO_API)


def test_every_named_operation_is_published():
    published = set(schema_operations())
    unpublished = sorted({op for ops in PAGE_TO_API.values() for op in ops if op not in published})
    assert unpublished == [], f"named here but not in the schema: {unpublished}"
