"""Security checks that run in CI on every submission (issue 9, item 7).

Covered here: cookie flags under production settings, the Content-Security-Policy and the
other security headers on every page, and that no secret the product hands out or receives
reaches a log line or an audit event.

Covered elsewhere, not repeated:
- ``check --deploy`` clean with production settings: tests/test_settings.py
  (test_check_deploy_is_clean_with_production_settings);
- CSRF enforced on every state-changing view: tests/test_authorization_matrix.py;
- uploads refused by their content (magic bytes), whatever the name says: tests/test_documents.py;
- login throttling per IP and per account: tests/test_login_throttle.py;
- the browser journeys fail on any CSP violation Chromium reports (tests/browser.py).
"""

from __future__ import annotations

import base64
import io
import json
import logging
import os
import re
import secrets as secrets_module
import uuid
from collections.abc import Callable, Iterator
from pathlib import Path

import pytest
from django.conf import settings
from django.core import mail
from django.core.management import call_command
from django.db import connection
from django.test import Client
from django.urls import reverse

from foundation.audit.models import AuditEvent
from foundation.audit.services import audit_record
from portal.accounts.models import User
from portal.partners.invitations import invitation_create
from portal.partners.models import MemberRole
from portal.web.logging import RequestContextFilter, SecretRedactionFilter, redact
from provisioning.deliveries.relay import relay_until_idle
from tests.authz_world import KWARGS
from tests.browser import ARTIFACTS, totp_code, watch_csp_violations
from tests.conftest import client_for
from tests.factories import (
    PASSWORD,
    CompletePersonFactory,
    CoveredModelFactory,
    StageFactory,
    add_member,
)
from tests.provisioning_fakes import active_grant, issue
from tests.servers import RecordingServer
from tests.url_inventory import covered_url_names
from tests.workers import python_in_project

# Unique per run: allauth rate-limits confirmation mails and failed sign-ins per address and
# account in the cache, and a Redis cache outlives the test database.
SAM = f"sam-{uuid.uuid4().hex[:8]}"
SIGN_UP_PASSWORD = "quartz-otter-paints-the-lighthouse"
WRONG_PASSWORD = "slate-heron-forgets-the-tide-91"
WEBHOOK_SECRET = "whsec_" + base64.b64encode(b"security-test-signing-key-0042").decode()
SCIM_TARGET_TOKEN = "scim-target-token-7c1d9e0f4b2a6385"


ROOT = Path(__file__).resolve().parent.parent

# --- Cookies under production settings ---------------------------------------------------

COOKIE_SETTINGS = (
    "SESSION_COOKIE_SECURE",
    "SESSION_COOKIE_HTTPONLY",
    "SESSION_COOKIE_SAMESITE",
    "CSRF_COOKIE_SECURE",
    "CSRF_COOKIE_HTTPONLY",
    "CSRF_COOKIE_SAMESITE",
    "SECURE_SSL_REDIRECT",
    "SECURE_HSTS_SECONDS",
)


@pytest.fixture(scope="module")
def production_settings() -> dict[str, object]:
    """The cookie and transport settings a deployment gets (DEBUG off, nothing else set)."""
    dropped = {"DEBUG", "SECRET_KEY", "DJANGO_ALLOW_ASYNC_UNSAFE", *COOKIE_SETTINGS}
    env = {k: v for k, v in os.environ.items() if k not in dropped}
    env.update(
        DEBUG="0",
        SECRET_KEY=secrets_module.token_urlsafe(60),
        ALLOWED_HOSTS="clearance.example",
        DJANGO_SETTINGS_MODULE="portal.settings",
    )
    script = (
        "import json, django; django.setup(); from django.conf import settings; "
        f"print(json.dumps({{name: getattr(settings, name) for name in {COOKIE_SETTINGS!r}}}))"
    )
    result = python_in_project("-c", script, env=env)
    assert result.returncode == 0, result.stderr
    return json.loads(result.stdout.strip().splitlines()[-1])


def test_production_settings_flag_both_cookies_secure_httponly_and_samesite(
    production_settings,
):
    assert production_settings["SESSION_COOKIE_SECURE"] is True
    assert production_settings["SESSION_COOKIE_HTTPONLY"] is True
    assert production_settings["SESSION_COOKIE_SAMESITE"] in ("Lax", "Strict")
    assert production_settings["CSRF_COOKIE_SECURE"] is True
    assert production_settings["CSRF_COOKIE_HTTPONLY"] is True
    assert production_settings["CSRF_COOKIE_SAMESITE"] in ("Lax", "Strict")
    assert production_settings["SECURE_SSL_REDIRECT"] is True
    assert production_settings["SECURE_HSTS_SECONDS"] >= 31536000


@pytest.mark.django_db
def test_a_sign_in_under_production_settings_sets_flagged_cookies(
    production_settings, settings, partner_member
):
    # given the production cookie settings
    for name, value in production_settings.items():
        setattr(settings, name, value)
    client = Client(enforce_csrf_checks=True)

    # when a partner signs in over https with the form's CSRF token
    form = client.get(reverse("account_login"), secure=True)
    token = re.search(r'name="csrfmiddlewaretoken" value="([^"]+)"', form.content.decode())
    response = client.post(
        reverse("account_login"),
        {"login": partner_member.username, "password": PASSWORD, "csrfmiddlewaretoken": token[1]},
        secure=True,
        HTTP_REFERER="https://testserver/accounts/login/",  # checked by CSRF over https
    )

    # then the session and CSRF cookies are Secure, HttpOnly and SameSite
    assert response.status_code == 302
    for name in (settings.SESSION_COOKIE_NAME, settings.CSRF_COOKIE_NAME):
        cookie = response.cookies[name] if name in response.cookies else form.cookies[name]
        assert cookie["secure"] is True, name
        assert cookie["httponly"] is True, name
        assert cookie["samesite"] in ("Lax", "Strict"), name


@pytest.mark.django_db
def test_plain_http_is_redirected_to_https_under_production_settings(production_settings, settings):
    settings.SECURE_SSL_REDIRECT = production_settings["SECURE_SSL_REDIRECT"]

    response = Client().get(reverse("account_login"))

    assert response.status_code == 301
    assert response["Location"].startswith("https://")


# --- Content-Security-Policy and the other headers, on every page ----------------------

# Pages outside our URL names (allauth's and the admin's) that people reach all the same.
EXTRA_PAGES = ("account_login", "account_signup", "mfa_index", "admin:index")


def _directives(policy: str) -> dict[str, list[str]]:
    parsed = {}
    for part in policy.split(";"):
        name, *values = part.split()
        parsed[name] = values
    return parsed


def _sources(directives: dict[str, list[str]]) -> list[str]:
    return [value for values in directives.values() for value in values]


def _check_headers(url: str, response) -> list[str]:  # type: ignore[no-untyped-def]
    problems = []
    policy = response.get("Content-Security-Policy", "")
    if not policy:
        return [f"{url}: no Content-Security-Policy"]
    directives = _directives(policy)
    if directives.get("script-src") != ["'self'"]:
        problems.append(f"{url}: script-src {directives.get('script-src')}")
    for name, expected in (
        ("default-src", ["'self'"]),
        ("object-src", ["'none'"]),
        ("base-uri", ["'self'"]),
        ("frame-ancestors", ["'none'"]),
        ("form-action", ["'self'"]),
    ):
        if directives.get(name) != expected:
            problems.append(f"{url}: {name} {directives.get(name)}")
    if any("unsafe-eval" in v or v in ("*", "http:", "https:") for v in _sources(directives)):
        problems.append(f"{url}: a permissive source in {policy}")
    for header, expected in (
        ("X-Content-Type-Options", "nosniff"),
        ("X-Frame-Options", "DENY"),
        ("Referrer-Policy", "same-origin"),
    ):
        if response.get(header) != expected:
            problems.append(f"{url}: {header} is {response.get(header)!r}")
    return problems


@pytest.mark.django_db
def test_every_page_carries_a_strict_csp_and_the_security_headers(
    partner_admin, partner_member, organisation, compliance_officer, superuser
):
    from tests.authz_world import build_world

    world = build_world(
        organisation=organisation,
        admin=partner_admin,
        member=partner_member,
        staff=compliance_officer,
    )
    urls = [
        reverse(name, kwargs=KWARGS[name](world) if name in KWARGS else None)
        for name in covered_url_names()
    ] + [reverse(name) for name in EXTRA_PAGES]
    problems = []
    checked = 0
    for user in (None, partner_admin, superuser):
        client = client_for(user)
        for url in urls:
            response = client.get(url)
            problems += _check_headers(url, response)
            checked += 1

    assert checked == 3 * len(urls) and len(urls) > 100
    assert not problems, "\n".join(problems)


def test_only_the_api_docs_relax_the_policy_and_only_for_styles():
    from portal.api.docs import DOCS_CONTENT_SECURITY_POLICY

    ours, docs = (
        _directives(settings.CONTENT_SECURITY_POLICY),
        _directives(DOCS_CONTENT_SECURITY_POLICY),
    )
    assert "'unsafe-inline'" not in _sources(ours)
    assert {k: v for k, v in docs.items() if k != "style-src"} == {
        k: v for k, v in ours.items() if k != "style-src"
    }


INLINE_CODE = re.compile(
    r"<script(?![^>]*\bsrc=)[^>]*>|\son[a-z]+\s*=|\sstyle\s*=|javascript:", re.IGNORECASE
)


def test_no_template_holds_inline_script_handlers_or_styles_the_csp_would_block():
    templates = sorted((ROOT / "templates").rglob("*.html"))
    offenders = [
        f"{path.relative_to(ROOT)}: {match.group(0).strip()}"
        for path in templates
        for match in INLINE_CODE.finditer(path.read_text())
    ]
    assert len(templates) > 30
    assert offenders == []
    assert INLINE_CODE.search('<button onclick="go()">') and INLINE_CODE.search(
        "<script>x</script>"
    )


# --- Secrets never reach the logs or the audit trail ----------------------------------


@pytest.fixture
def captured_logs(caplog: pytest.LogCaptureFixture) -> Iterator[Callable[[], str]]:
    """Everything logged at DEBUG and above, SQL with its parameters included.

    Two captures: pytest's (every record, with tracebacks) and a handler built like the
    app's own console handler (its format and its request-context filter).
    """
    buffer = io.StringIO()
    handler = logging.StreamHandler(buffer)
    handler.setFormatter(logging.Formatter(settings.LOGGING["formatters"]["plain"]["format"]))
    handler.addFilter(RequestContextFilter())
    handler.setLevel(logging.DEBUG)
    root, sql = logging.getLogger(), logging.getLogger("django.db.backends")
    levels = root.level, sql.level
    root.addHandler(handler)
    root.setLevel(logging.DEBUG)
    sql.setLevel(logging.DEBUG)
    caplog.set_level(logging.DEBUG)
    # Log every SQL statement with its parameters, as DEBUG=True would.
    connection.force_debug_cursor = True
    try:
        yield lambda: buffer.getvalue() + "\n" + caplog.text
    finally:
        connection.force_debug_cursor = False
        root.removeHandler(handler)
        root.setLevel(levels[0])
        sql.setLevel(levels[1])


def _link_in_mail(address: str, pattern: str) -> str:
    for message in reversed(mail.outbox):
        if address in message.to and (found := re.search(pattern, message.body)):
            return found.group(0)
    raise AssertionError(f"no email to {address} holds a link like {pattern}")


def _path(url: str) -> str:
    return re.sub(r"^https?://[^/]+", "", url)


def _sign_up_and_sign_in(client: Client) -> User:
    client.post(
        reverse("account_signup"),
        {
            "email": f"{SAM}@northwind.example",
            "username": SAM,
            "password1": SIGN_UP_PASSWORD,
            "password2": SIGN_UP_PASSWORD,
        },
    )
    confirm = _path(_link_in_mail(f"{SAM}@northwind.example", r"https?://\S+/confirm-email/\S+"))
    client.post(confirm)
    failed = client.post(reverse("account_login"), {"login": SAM, "password": WRONG_PASSWORD})
    assert failed.status_code == 200  # the form again, with an error
    signed_in = client.post(reverse("account_login"), {"login": SAM, "password": SIGN_UP_PASSWORD})
    assert signed_in.status_code == 302
    return User.objects.get(username=SAM)


def _activate_totp(client: Client) -> str:
    reauthenticated = client.post(reverse("account_reauthenticate"), {"password": SIGN_UP_PASSWORD})
    assert reauthenticated.status_code == 302
    page = client.get(reverse("mfa_activate_totp"))
    secret: str = page.context["form"].secret
    assert f'value="{secret}"' in page.content.decode()  # shown to the user, once
    activated = client.post(reverse("mfa_activate_totp"), {"code": totp_code(secret)})
    assert activated.status_code == 302, re.findall(r"<li>([^<]+)</li>", activated.content.decode())
    return secret


def _basic(client_id: str, secret: str) -> str:
    return "Basic " + base64.b64encode(f"{client_id}:{secret}".encode()).decode()


def _tampered(secret: str) -> str:
    return secret[:-4] + ("AAAA" if not secret.endswith("AAAA") else "BBBB")


@pytest.mark.django_db
def test_no_secret_appears_in_logs_or_audit_events(captured_logs, ops_user, settings):
    # given a receiver for the webhook target (failing its first request), and retries due
    # at once so the relay's second pass delivers
    settings.DELIVERY_BACKOFF_BASE_SECONDS = 0
    receiver = RecordingServer().start()
    try:
        # when every secret is created and used through its real flow
        secrets = _exercise_every_secret(receiver, ops_user)
        signed = [r for r in receiver.received("/hooks") if "webhook-signature" in r.headers]
        bearer = {r.headers.get("Authorization") for r in receiver.received("/scim")}
    finally:
        receiver.stop()

    # then the flows ran and were logged (failures, deliveries and SQL alike) ...
    logged = captured_logs()
    assert "Target scim-directory failed" in logged
    assert "Target hooks failed" in logged
    assert "to webhook target hooks" in logged
    assert len(signed) >= 2
    assert bearer == {f"Bearer {SCIM_TARGET_TOKEN}"}  # the token really went out
    assert "introspection_gatewayclient" in logged
    assert "Bad Request: /organisation/invitations/[redacted]/" in logged
    assert secrets["personal access token"].split("_")[1] in logged  # its look-up prefix
    audit = json.dumps(list(AuditEvent.objects.values()), default=str)
    actions = set(AuditEvent.objects.values_list("action", flat=True))
    assert {"gateway_client.created", "scim.token_issued", "target.created"} <= actions

    # ... and none of the secrets is in a log line or an audit event
    assert len(secrets) == 12
    for label, secret in secrets.items():
        assert len(secret) >= 16, label
        assert secret not in logged, f"{label} appears in the logs"
        assert secret not in audit, f"{label} appears in an audit event"


def _exercise_every_secret(receiver: RecordingServer, ops_user: User) -> dict[str, str]:
    secrets: dict[str, str] = {
        "sign-up password": SIGN_UP_PASSWORD,
        "wrong password tried": WRONG_PASSWORD,
    }
    client = Client()

    # a partner admin signs up, fails a sign-in, signs in and activates TOTP
    user = _sign_up_and_sign_in(client)
    secrets["TOTP secret"] = _activate_totp(client)

    # ops add a webhook target and a SCIM target through the UI
    model = CoveredModelFactory()
    ops = client_for(ops_user)
    receiver.fail_next(1, path_contains="/hooks")
    receiver.fail_next(2, status=401, path_contains="/scim")
    for kind, name, url, field, value in (
        ("webhook", "hooks", receiver.url + "/hooks", "secret", WEBHOOK_SECRET),
        ("scim", "scim-directory", receiver.url + "/scim/v2", "token", SCIM_TARGET_TOKEN),
    ):
        response = ops.post(
            reverse("deliveries:target_add"),
            {
                "kind": kind,
                "name": name,
                "url": url,
                field: value,
                "enabled": "on",
                "covered_models": [model.pk],
            },
        )
        assert response.status_code == 302, response.content.decode()[:2000]
    secrets["webhook signing secret"] = WEBHOOK_SECRET
    secrets["SCIM target token"] = SCIM_TARGET_TOKEN

    # the admin's organisation holds a grant; a key is issued, collected and rotated
    grant = active_grant(stage=StageFactory(covered_model=model))
    add_member(grant.organisation, user, MemberRole.ADMIN)
    person = CompletePersonFactory(organisation=grant.organisation, user=user)
    secrets["issued API key"] = issue(grant, person).key
    collected = client.post(
        reverse("credentials:collect", kwargs={"pk": person.credentials.get().pk})
    )
    secrets["collected API key"] = collected.context["key"]

    # a personal access token is created on its page, used, and a forged one refused
    created = client.post(
        reverse("api:tokens"), {"name": "ci", "scopes": ["read", "write"], "expires_in_days": 30}
    )
    assert created.status_code == 200
    pat = created.context["issued"].plaintext
    secrets["personal access token"] = pat
    api = Client()
    credential_id = person.credentials.get().pk
    rotated = api.post(
        f"/api/v1/credentials/{credential_id}/rotate/", HTTP_AUTHORIZATION=f"Bearer {pat}"
    )
    assert rotated.status_code == 200, rotated.content
    secrets["API key rotated through the API"] = rotated.json()["key"]
    assert (
        api.get("/api/v1/grants/", HTTP_AUTHORIZATION=f"Bearer {_tampered(pat)}").status_code == 401
    )

    # the relay pushes the changes: the webhook answers 500 once, the SCIM target is down
    relay_until_idle(max_rounds=3)
    relay_until_idle(max_rounds=3)

    # a gateway client is created with the command and introspects the keys
    output = io.StringIO()
    call_command("gateway_client", "--name", "edge", "--json", stdout=output)
    gateway = json.loads(output.getvalue())
    secrets["gateway client secret"] = gateway["client_secret"]
    for token in (
        secrets["API key rotated through the API"],
        _tampered(secrets["collected API key"]),
    ):
        answer = Client().post(
            "/oauth/introspect",
            {"token": token},
            HTTP_AUTHORIZATION=_basic(gateway["client_id"], gateway["client_secret"]),
        )
        assert answer.status_code == 200
    refused = Client().post(
        "/oauth/introspect",
        {"token": secrets["issued API key"]},
        HTTP_AUTHORIZATION=_basic(gateway["client_id"], _tampered(gateway["client_secret"])),
    )
    assert refused.status_code == 401

    # an invitation link reaches the wrong account, which is refused (a 400 is logged)
    issued = invitation_create(
        actor=user, organisation=grant.organisation, email="newcomer@northwind.example"
    )
    refused_invitation = ops.get(_path(issued.link))
    assert refused_invitation.status_code == 400
    secrets["invitation link token"] = issued.link.rstrip("/").rsplit("/", 1)[1]

    # a SCIM token is issued with the command and used by the identity provider
    output = io.StringIO()
    call_command(
        "scim_token", "--org", grant.organisation.slug, "--acting-user", SAM, stdout=output
    )
    scim_token = output.getvalue().strip()
    secrets["SCIM inbound token"] = scim_token
    assert (
        Client().get("/scim/v2/Users", HTTP_AUTHORIZATION=f"Bearer {scim_token}").status_code == 200
    )
    assert (
        Client()
        .get("/scim/v2/Users", HTTP_AUTHORIZATION=f"Bearer {_tampered(scim_token)}")
        .status_code
        == 401
    )
    return secrets


@pytest.mark.parametrize(
    ("logged", "kept"),
    [
        ("Bad Request: /organisation/invitations/abc:1x:sig/", "/organisation/invitations/"),
        ("GET /accounts/confirm-email/MTI:1x:k3y/ 200", "/accounts/confirm-email/"),
        ("key clr_0123456789abcdef_" + "s" * 43, "clr_0123456789abcdef_"),
        ("token clrp_0123456789abcdef_" + "t" * 43, "clrp_0123456789abcdef_"),
        ("token clrs_0123456789abcdef_" + "u" * 43, "clrs_0123456789abcdef_"),
    ],
)
def test_the_log_filter_redacts_secrets_and_keeps_look_up_prefixes(logged, kept):
    record = logging.LogRecord(
        "django.request", logging.WARNING, __file__, 1, "%s", (logged,), None
    )

    SecretRedactionFilter().filter(record)

    assert kept + "[redacted]" in record.getMessage()
    assert record.getMessage().count("[redacted]") == 1


def test_the_log_filter_leaves_ordinary_paths_alone():
    assert redact("Not Found: /organisation/northwind/members/") == (
        "Not Found: /organisation/northwind/members/"
    )


# --- In a browser: the pages that run the most script still work under the policy ------


def _signed_in_context(browser, live_server, user):  # type: ignore[no-untyped-def]
    session = Client()
    session.force_login(user)
    context = browser.new_context(viewport={"width": 1280, "height": 900})
    context.add_cookies(
        [
            {
                "name": settings.SESSION_COOKIE_NAME,
                "value": session.cookies[settings.SESSION_COOKIE_NAME].value,
                "url": live_server.url,
            }
        ]
    )
    page = context.new_page()
    page.set_default_timeout(15_000)
    return context, page


@pytest.mark.browser
@pytest.mark.django_db(transaction=True)
def test_htmx_filtering_and_the_api_docs_work_under_the_csp(browser, live_server, auditor):
    # given two kinds of audit events and an auditor in a browser
    audit_record(actor=None, action="organisation.registered", obj=auditor)
    audit_record(actor=None, action="gateway_client.created", obj=auditor)
    from playwright.sync_api import expect

    context, page = _signed_in_context(browser, live_server, auditor)
    violations = watch_csp_violations(page)
    try:
        # when the audit filter is sent by htmx
        page.goto(f"{live_server.url}{reverse('audit:explorer')}")
        page.get_by_label("Action", exact=True).fill("gateway_client.created")
        with page.expect_request(lambda r: r.headers.get("hx-request") == "true"):
            page.get_by_role("button", name="Show events").click()

        # then the results are swapped in place and only the matching event is left
        page.wait_for_url("**action=gateway_client.created**")  # hx-push-url
        results = page.locator("#audit-results")
        expect(results.get_by_text("Organisation registered")).to_have_count(0)
        expect(results.get_by_text("Gateway client created").first).to_be_visible()
        assert page.locator("h1").count() == 1  # the fragment replaced the results only

        # when the API reference is opened, Swagger UI renders from the vendored scripts
        page.goto(f"{live_server.url}{reverse('api:docs')}")
        page.locator(".swagger-ui .info .title").get_by_text("Clearance API").wait_for()
        assert page.locator(".opblock").count() > 10
    except Exception:
        ARTIFACTS.mkdir(exist_ok=True)
        page.screenshot(path=str(ARTIFACTS / "test_htmx_and_api_docs_under_csp.png"))
        raise
    finally:
        context.close()

    # then Chromium reported no violation of the policy anywhere
    assert violations == []
