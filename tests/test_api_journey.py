"""Issue 7's promise, end to end over real HTTP: "a script with a token can do everything
the UI does", and a partner's identity provider deprovisioning a member cuts access at once.

The portal runs as a real server (``live_server``) with a real Celery worker; the test
talks to it only with ``httpx`` and bearer tokens (personal access tokens, a SCIM token,
a gateway's client credentials), as a partner's script, a reviewer's tooling or a gateway
would. Set-up writes the accounts and tokens with the services; after that the ORM only
reads, to check what the answers claim. Every call is printed, so a failure shows the
conversation that led to it.
"""

from __future__ import annotations

import base64
import io
import json
import logging
import re
import time
import uuid
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from typing import Any

import httpx
import pytest
from django.core import mail
from django.utils import timezone

from portal.accounts.models import User
from portal.accounts.roles import Role
from portal.celery import app as celery_app
from portal.compliance.evidence_verify import verify_bundle_file
from portal.partners.models import Membership, Organisation
from portal.scim.services import scim_token_issue
from portal.screening.data import LIST_DATA
from provisioning.connectors.scim import ScimConnector
from provisioning.credentials.models import Credential, CredentialState
from provisioning.deliveries.models import Target
from provisioning.deliveries.tasks import relay_target
from provisioning.introspection.services import gateway_client_create
from tests.api_helpers import token_for
from tests.connector_states import scim_config
from tests.factories import StageFactory, UserFactory, staff_user
from tests.workers import celery_worker

pytest_plugins = ["tests.servers"]
pytestmark = [pytest.mark.worker, pytest.mark.django_db(transaction=True)]

SCIM_JSON = "application/scim+json"
NEWCOMER = "nadia.reyes@northwind.example"


@dataclass
class Http:
    """A tiny client that prints every call and checks its status."""

    base_url: str
    client: httpx.Client = field(default_factory=lambda: httpx.Client(timeout=30))
    calls: int = 0

    def __call__(
        self,
        who: str,
        method: str,
        path: str,
        *,
        auth: str,
        expect: int = 200,
        body: Any = None,
        form: dict[str, str] | None = None,
        files: dict[str, tuple[str, bytes, str]] | None = None,
        headers: dict[str, str] | None = None,
        content_type: str = "application/json",
    ) -> httpx.Response:
        sent = {"Authorization": auth, **(headers or {})}
        content = None
        if body is not None:
            content = json.dumps(body).encode()
            sent["Content-Type"] = content_type
        response = self.client.request(
            method, self.base_url + path, headers=sent, content=content, data=form, files=files
        )
        self.calls += 1
        shown = response.text if len(response.text) < 600 else response.text[:600] + "…"
        print(f"[{who}] {method} {path} {json.dumps(body) if body else form or ''}")
        print(f"    -> {response.status_code} {shown}")
        assert response.status_code == expect, (
            f"{who}: {method} {path} answered {response.status_code}, expected {expect}"
        )
        return response


def bearer(token: str) -> str:
    return f"Bearer {token}"


def basic(client_id: str, secret: str) -> str:
    return "Basic " + base64.b64encode(f"{client_id}:{secret}".encode()).decode()


def wake_the_relays() -> None:
    """What beat does every few seconds. Sent from here, so the messages go to the test's
    queue (``relay_all`` would enqueue from the worker, to the worker's default queue)."""
    for target_id in Target.objects.filter(enabled=True).values_list("pk", flat=True):
        relay_target.delay(target_id)


def wait_for(what: str, check: Callable[[], Any], *, timeout: float = 60.0) -> Any:
    """Poll ``check`` until it is true, waking the relays every few seconds: on PostgreSQL
    a relay reads only below the cluster's oldest running transaction, so on a shared
    server the run that a commit wakes may stop short of that very change."""
    deadline = time.monotonic() + timeout
    nudged = time.monotonic()
    while True:
        result = check()
        if result:
            return result
        assert time.monotonic() < deadline, f"timed out waiting for {what}"
        if time.monotonic() - nudged > 3:
            wake_the_relays()
            nudged = time.monotonic()
        time.sleep(0.2)


def directory_says(url: str, token: str, credential_id: int) -> tuple[bool, int] | None:
    """(active, version) of one key's user in the SCIM directory, None while it has none."""
    connector = ScimConnector(scim_config(url, token))
    try:
        state = connector.read_state().get(credential_id)
    finally:
        connector.close()
    return None if state is None else (state.active, state.version)


@pytest.fixture(autouse=True)
def _quiet_httpx() -> Iterator[None]:
    """The test prints each call itself; httpx's own log line per request is noise."""
    logger = logging.getLogger("httpx")
    level = logger.level
    logger.setLevel(logging.WARNING)
    yield
    logger.setLevel(level)


@pytest.fixture
def worker() -> Iterator[str]:
    """A real worker on a queue of this test's own; every task the server enqueues goes
    there (screening after a profile save, a bulk action's chunks, the relay)."""
    queue = f"journey-{uuid.uuid4().hex[:10]}"
    default = celery_app.conf.task_default_queue
    celery_app.conf.task_default_queue = queue
    try:
        with celery_worker(queue=queue):
            yield queue
    finally:
        celery_app.conf.task_default_queue = default


@dataclass
class Cast:
    organisation: Organisation
    tokens: dict[str, str]
    scim_token: str
    gateway: tuple[str, str]
    model_slug: str


@pytest.fixture
def cast(
    organisation: Organisation,
    partner_admin: User,
    outsider: User,
    reviewer: User,
    second_reviewer: User,
    compliance_officer: User,
    ops_user: User,
    auditor: User,
) -> Cast:
    """Accounts and their tokens: the only writes the test makes itself."""
    stage = StageFactory(covered_model__slug="mythos-5", covered_model__four_eyes=True)
    newcomer = UserFactory(username="nadia", email=NEWCOMER)
    users = {
        "partner_admin": partner_admin,
        "outsider": outsider,
        "newcomer": newcomer,
        "reviewer": reviewer,
        "second_reviewer": second_reviewer,
        "compliance": compliance_officer,
        "second_compliance": staff_user(Role.COMPLIANCE, username="compliance-two"),
        "ops": ops_user,
        "second_ops": staff_user(Role.OPS, username="ops-two"),
        "auditor": auditor,
    }
    created = gateway_client_create(actor=None, name="edge")
    return Cast(
        organisation=organisation,
        tokens={name: token_for(user) for name, user in users.items()},
        scim_token=scim_token_issue(
            actor=None, organisation=organisation, acting_user=partner_admin
        ),
        gateway=(created.client.client_id, created.client_secret),
        model_slug=stage.covered_model.slug,
    )


def test_a_script_with_tokens_walks_the_whole_journey(
    live_server: Any,
    cast: Cast,
    worker: str,
    scim_server: tuple[str, str],
) -> None:
    http = Http(live_server.url)
    t = {name: bearer(token) for name, token in cast.tokens.items()}
    scim = bearer(cast.scim_token)
    gateway = basic(*cast.gateway)
    slug = cast.organisation.slug

    def introspect(key: str) -> dict[str, Any]:
        body: dict[str, Any] = http(
            "gateway", "POST", "/oauth/introspect", auth=gateway, form={"token": key}
        ).json()
        return body

    # -- set the scene: compliance loads a screening list and verifies the organisation --
    sample = (LIST_DATA / "csl-consolidated-sample.csv").read_bytes()
    http("compliance", "POST", "/api/v1/screening-lists/", auth=t["compliance"], expect=201,
         form={"format": "csl"}, files={"file": ("csl.csv", sample, "text/csv")})  # fmt: skip
    verification = {"state": "verified", "reason": "Documents checked"}
    http("compliance", "POST", f"/api/v1/organisations/{slug}/verification/",
         auth=t["compliance"], body=verification)  # fmt: skip
    # -- ops registers a real SCIM directory as a downstream target -------------------
    directory_url, directory_token = scim_server
    http(
        "ops",
        "POST",
        "/api/v1/targets/",
        auth=t["ops"],
        expect=201,
        body={"kind": "scim", "name": "directory", "url": directory_url, "token": directory_token},
    )

    # -- 1. the partner's identity provider provisions a member: an invitation ----------
    scim_user = http(
        "idp",
        "POST",
        "/scim/v2/Users",
        auth=scim,
        expect=201,
        content_type=SCIM_JSON,
        body={
            "schemas": ["urn:ietf:params:scim:schemas:core:2.0:User"],
            "userName": "nadia",
            "externalId": "idp-0001",
            "name": {"givenName": "Nadia", "familyName": "Reyes"},
            "emails": [{"value": NEWCOMER, "primary": True}],
            "active": True,
        },
    ).json()
    [letter] = wait_for("the invitation email", lambda: list(mail.outbox))
    assert letter.to == [NEWCOMER]
    signed = re.search(r"/invitations?/([^/\s]+)/", letter.body)
    assert signed is not None, letter.body

    # the partner admin invites a colleague; a retried request with the same key is
    # answered from the store, and nothing is created twice; the key with another body is
    # refused
    invite = {"organisation": slug, "email": "grace.okafor@northwind.example"}
    key = {"Idempotency-Key": f"invite-{uuid.uuid4()}"}
    first = http("admin", "POST", "/api/v1/invitations/", auth=t["partner_admin"],
                 expect=201, body=invite, headers=key)  # fmt: skip
    again = http("admin", "POST", "/api/v1/invitations/", auth=t["partner_admin"],
                 expect=201, body=invite, headers=key)  # fmt: skip
    assert again.json() == first.json()
    other = {**invite, "email": "someone.else@northwind.example"}
    http("admin", "POST", "/api/v1/invitations/", auth=t["partner_admin"],
         expect=422, body=other, headers=key)  # fmt: skip
    listed = http("admin", "GET", "/api/v1/invitations/", auth=t["partner_admin"]).json()
    emails = [row["email"] for row in listed["results"]]
    assert emails.count("grace.okafor@northwind.example") == 1

    # the newcomer accepts with the link's token and completes the eligibility profile
    http("newcomer", "POST", "/api/v1/invitations/accept/", auth=t["newcomer"], expect=201,
         body={"token": signed.group(1)})  # fmt: skip
    http(
        "newcomer",
        "PUT",
        "/api/v1/profile/",
        auth=t["newcomer"],
        body={
            "legal_name": "Nadia Reyes",
            "date_of_birth": "1986-04-12",
            "citizenships": ["US"],
            "residence_country": "US",
            "us_person_status": "citizen",
            "attest": True,
            "accept_aup": True,
        },
    )
    person_id = http("newcomer", "GET", "/api/v1/profile/", auth=t["newcomer"]).json()["id"]

    # -- the partner admin applies: create, fill in the draft, submit --------------------
    application = http(
        "admin",
        "POST",
        "/api/v1/applications/",
        auth=t["partner_admin"],
        expect=201,
        body={"organisation": slug, "covered_model": cast.model_slug, "stage": "evaluation"},
    ).json()
    app_path = f"/api/v1/applications/{application['id']}/"
    http(
        "admin",
        "PATCH",
        app_path,
        auth=t["partner_admin"],
        body={
            "nominees": [person_id],
            "use_case": "Hunting intrusions in the regional grid's control systems.",
            "attests_end_use": True,
            "attests_no_transfer": True,
            "attests_accuracy": True,
        },
    )
    http("admin", "POST", app_path + "submit/", auth=t["partner_admin"])
    wait_for(
        "screening to queue the application for review",
        lambda: (
            http("admin", "GET", app_path, auth=t["partner_admin"]).json()["state"] == "in_review"
        ),
    )

    # -- 2. reviewers: claim, ask, (the partner answers), two approvals ------------------
    review = f"/api/v1/reviews/{application['id']}/"
    http("reviewer", "POST", review + "claim/", auth=t["reviewer"])
    http("reviewer", "POST", review + "request-information/", auth=t["reviewer"],
         body={"message": "Which control systems, and who operates them?"})  # fmt: skip
    answer = {"response": "The SCADA network of our two hydro plants; we operate it."}
    http("admin", "POST", app_path + "answer/", auth=t["partner_admin"], body=answer)
    version = http("reviewer", "GET", review, auth=t["reviewer"]).json()["version"]
    first_approval = http("reviewer", "POST", review + "approve/", auth=t["reviewer"],
                          body={"version": version, "seats": 2}).json()  # fmt: skip
    assert first_approval["final"] is False
    http("reviewer", "POST", review + "approve/", auth=t["reviewer"], expect=409,
         body={"confirms": first_approval["approval"]["id"]})  # fmt: skip
    second = http("second reviewer", "POST", review + "approve/", auth=t["second_reviewer"],
                  body={"confirms": first_approval["approval"]["id"]}).json()  # fmt: skip
    assert second["final"] is True and second["grant"] is not None

    # -- 3. the member collects their key; a gateway reads it active ---------------------
    mine = http("newcomer", "GET", "/api/v1/credentials/", auth=t["newcomer"]).json()
    [credential] = mine["results"]
    collected = http("newcomer", "POST", f"/api/v1/credentials/{credential['id']}/collect/",
                     auth=t["newcomer"]).json()  # fmt: skip
    member_key = collected["key"]
    assert introspect(member_key)["active"] is True

    # -- refusals along the way: another organisation sees nothing, a partner is no staff
    theirs = (app_path, f"/api/v1/credentials/{credential['id']}/", f"/api/v1/persons/{person_id}/")
    for path in theirs:
        http("outsider", "GET", path, auth=t["outsider"], expect=404)
    http("outsider", "POST", app_path + "answer/", auth=t["outsider"], expect=404,
         body={"response": "Not mine to answer."})  # fmt: skip
    http("admin", "GET", "/api/v1/reviews/", auth=t["partner_admin"], expect=403)
    http("admin", "GET", "/api/v1/audit-events/", auth=t["partner_admin"], expect=403)
    http("admin", "POST", "/api/v1/bulk-actions/", auth=t["partner_admin"], expect=403,
         body={"kind": "suspend", "filters": {"organisation": slug}, "reason": "mine"})  # fmt: skip

    # -- 4. the identity provider deactivates the member: access ends at once -----------
    http(
        "idp",
        "PATCH",
        f"/scim/v2/Users/{scim_user['id']}",
        auth=scim,
        content_type=SCIM_JSON,
        body={
            "schemas": ["urn:ietf:params:scim:api:messages:2.0:PatchOp"],
            "Operations": [{"op": "replace", "path": "active", "value": False}],
        },
    )
    assert introspect(member_key)["active"] is False
    assert not Membership.objects.filter(user__email=NEWCOMER).exists()
    assert Credential.objects.get(pk=credential["id"]).state == CredentialState.REVOKED
    http("newcomer", "POST", f"/api/v1/credentials/{credential['id']}/collect/",
         auth=t["newcomer"], expect=404)  # fmt: skip
    # the downstream directory hears of it too, through the worker's relay
    wait_for(
        "the directory to deactivate the key",
        lambda: directory_says(directory_url, directory_token, credential["id"]) == (False, 3),
        timeout=120,
    )

    # -- 5. ops: a bulk suspend of the organisation, four eyes, run by the worker --------
    plan = http(
        "ops",
        "POST",
        "/api/v1/bulk-actions/",
        auth=t["ops"],
        expect=201,
        body={"kind": "suspend", "filters": {"organisation": slug}, "reason": "journey drill"},
    ).json()
    bulk = f"/api/v1/bulk-actions/{plan['id']}/"
    confirm = {"plan_hash": plan["plan_hash"]}
    http("ops", "POST", bulk + "approve/", auth=t["ops"], expect=409, body=confirm)
    http("second ops", "POST", bulk + "approve/", auth=t["second_ops"], body=confirm)
    http("ops", "POST", bulk + "execute/", auth=t["ops"], expect=202, body=confirm)
    wait_for(
        "the bulk action to commit",
        lambda: http("ops", "GET", bulk + "status/", auth=t["ops"]).json()["state"] == "done",
    )
    grant = http("auditor", "GET", f"/api/v1/grants/{second['grant']}/", auth=t["auditor"])
    assert grant.json()["state"] == "suspended"

    # -- the auditor reads the trail of all of it ---------------------------------------
    trail = f"/api/v1/audit-events/?organisation_id={cast.organisation.pk}&action="
    for action in (
        "scim.user_created",
        "invitation.accepted",
        "application.submitted",
        "review.first_approval",
        "application.approved",
        "credential.revoked",
        "scim.user_updated",
    ):
        events = http("auditor", "GET", trail + action, auth=t["auditor"]).json()["results"]
        assert [event["action"] for event in events] == [action]

    # -- compliance: a determination drafted by one officer, approved by another, applied
    draft = http(
        "compliance",
        "POST",
        "/api/v1/determinations/",
        auth=t["compliance"],
        expect=201,
        body={
            "reference": "DET-JOURNEY-1",
            "legal_basis": "Licence reopening the model",
            "effective_date": timezone.localdate().isoformat(),
            "rules": {cast.model_slug: {"kind": "open"}},
        },
    ).json()
    determination = f"/api/v1/determinations/{draft['id']}/"
    letter_pdf = b"%PDF-1.4\n% DET-JOURNEY-1 licence letter\n%%EOF\n"
    http("compliance", "POST", determination + "document/", auth=t["compliance"],
         files={"document": ("det-journey-1.pdf", letter_pdf, "application/pdf")})  # fmt: skip
    http("compliance", "POST", determination + "submit/", auth=t["compliance"])
    http("compliance", "POST", determination + "approve/", auth=t["compliance"], expect=409)
    http("second compliance", "POST", determination + "approve/", auth=t["second_compliance"])
    http("compliance", "POST", determination + "apply/", auth=t["compliance"],
         body={"confirm": True})  # fmt: skip
    state = http("auditor", "GET", determination, auth=t["auditor"]).json()["state"]
    assert state == "in_force"

    # -- the auditor takes both evidence bundles away and checks them offline -----------
    for subject in (determination, bulk):
        bundle = http("auditor", "GET", subject + "evidence/", auth=t["auditor"])
        assert bundle.headers["Content-Type"] == "application/zip"
        report = verify_bundle_file(io.BytesIO(bundle.content))
        assert report.ok, (subject, report.problem)
    print(f"{http.calls} calls")
