"""POST /oauth/introspect (RFC 7662) for gateways."""

from __future__ import annotations

import base64
import json

import pytest
from django.core.management import call_command
from django.test import Client

from provisioning.credentials.services import credential_revoke
from provisioning.grants.models import SuspensionKind
from provisioning.grants.services import grant_suspend
from provisioning.introspection.models import GatewayClient
from provisioning.introspection.services import gateway_client_create
from tests.conftest import client_for
from tests.provisioning_fakes import active_grant, issue

pytestmark = pytest.mark.django_db

URL = "/oauth/introspect"


@pytest.fixture
def gateway():
    created = gateway_client_create(actor=None, name="edge")
    return created.client.client_id, created.client_secret


def _basic(client_id: str, secret: str) -> str:
    return "Basic " + base64.b64encode(f"{client_id}:{secret}".encode()).decode()


def _introspect(gateway, token: str, client: Client | None = None):
    client = client or Client(enforce_csrf_checks=True)
    return client.post(URL, {"token": token}, HTTP_AUTHORIZATION=_basic(*gateway))


def test_an_active_key_introspects_as_active_with_its_scope_and_organisation(gateway):
    grant = active_grant()
    issued = issue(grant)

    response = _introspect(gateway, issued.key)

    assert response.status_code == 200
    body = response.json()
    assert body["active"] is True
    assert body["scope"] == grant.covered_model.slug
    assert body["organisation"] == grant.organisation.slug
    assert body["client_id"] == gateway[0]
    assert body["exp"] == int(grant.expires_at.timestamp())
    assert body["sub"] == f"credential:{issued.credential.pk}"
    assert response["Cache-Control"].startswith("max-age=0")


def test_a_revoked_key_is_inactive_on_the_very_next_request(gateway):
    issued = issue(active_grant())
    client = Client(enforce_csrf_checks=True)
    assert _introspect(gateway, issued.key, client).json()["active"] is True

    credential_revoke(actor=None, credential=issued.credential)

    assert _introspect(gateway, issued.key, client).json() == {"active": False}


def test_a_suspended_grant_makes_its_keys_inactive(gateway):
    grant = active_grant()
    issued = issue(grant)

    grant_suspend(grants=grant, reason=SuspensionKind.REGULATORY, reference="d-1", actor=None)

    assert _introspect(gateway, issued.key).json() == {"active": False}


@pytest.mark.parametrize(
    "token",
    ["", "nonsense", "clr_0000000000000000_" + "A" * 43, "clr_short_" + "A" * 43],
)
def test_unknown_or_malformed_tokens_are_inactive_or_refused(gateway, token):
    response = _introspect(gateway, token)

    if token:
        assert response.json() == {"active": False}
    else:
        assert response.status_code == 400


def test_a_nul_byte_in_the_token_or_the_client_id_is_refused_not_a_server_error(gateway):
    issued = issue(active_grant())
    prefix = issued.key.split("_")[1]
    nul_token = issued.key.replace(prefix, prefix[:7] + "\x00" + prefix[8:])

    inactive = _introspect(gateway, nul_token)
    unknown = _introspect((gateway[0] + "\x00", gateway[1]), issued.key)

    assert (inactive.status_code, inactive.json()) == (200, {"active": False})
    assert unknown.status_code == 400
    assert unknown.json()["error"] == "invalid_request"


def test_a_right_prefix_with_a_wrong_secret_is_inactive(gateway):
    issued = issue(active_grant())
    forged = issued.key[:-4] + ("AAAA" if not issued.key.endswith("AAAA") else "BBBB")

    assert _introspect(gateway, forged).json() == {"active": False}


def test_a_wrong_client_secret_is_401(gateway):
    issued = issue(active_grant())

    response = _introspect((gateway[0], "wrong"), issued.key)

    assert response.status_code == 401
    assert response["WWW-Authenticate"].startswith("Basic")
    assert "active" not in response.json()


def test_an_anonymous_request_is_401():
    issued = issue(active_grant())

    response = Client().post(URL, {"token": issued.key})

    assert response.status_code == 401


def test_a_signed_in_user_without_client_credentials_is_401(outsider, ops_user):
    issued = issue(active_grant())

    for user in (outsider, ops_user):
        assert client_for(user).post(URL, {"token": issued.key}).status_code == 401


def test_client_credentials_may_come_as_form_parameters(gateway):
    issued = issue(active_grant())

    response = Client().post(
        URL, {"token": issued.key, "client_id": gateway[0], "client_secret": gateway[1]}
    )

    assert response.json()["active"] is True


def test_a_disabled_client_is_refused(gateway):
    GatewayClient.objects.filter(client_id=gateway[0]).update(enabled=False)

    assert _introspect(gateway, "whatever").status_code == 401


def test_get_is_not_allowed(gateway):
    assert Client().get(URL, HTTP_AUTHORIZATION=_basic(*gateway)).status_code == 405


def test_the_gateway_client_command_prints_a_working_id_and_secret_once(capsys):
    call_command("gateway_client", "--name", "edge-2", "--json")
    printed = json.loads(capsys.readouterr().out)

    client = GatewayClient.objects.get(client_id=printed["client_id"])
    assert client.secret_hash != printed["client_secret"]
    assert printed["client_secret"] not in client.secret_hash
    issued = issue(active_grant())
    gateway = (printed["client_id"], printed["client_secret"])
    assert _introspect(gateway, issued.key).json()["active"] is True


# --- through the WSGI application gunicorn serves (the gateways' short middleware stack) -----


@pytest.fixture
def served():
    """``portal.wsgi.application`` called as gunicorn calls it, inside the test's transaction.

    Like Django's test client, it keeps the request signals from closing the connection
    (and with it the test's transaction).
    """
    from django.core.signals import request_finished, request_started
    from django.db import close_old_connections
    from django.test import RequestFactory

    from portal.wsgi import application

    def call(method: str, token: str = "", **headers: str):
        factory = RequestFactory()
        request = (
            factory.post(URL, {"token": token}, **headers)
            if method == "POST"
            else factory.get(URL, **headers)
        )
        answer: dict = {}

        def start_response(status: str, response_headers: list, exc_info=None) -> None:
            answer["status"] = int(status.split()[0])
            answer["headers"] = dict(response_headers)

        result = application(request.environ, start_response)
        try:
            body = b"".join(result)
        finally:
            result.close()  # as a server does: it sends request_finished
        return answer["status"], answer["headers"], body

    request_started.disconnect(close_old_connections)
    request_finished.disconnect(close_old_connections)
    try:
        yield call
    finally:
        request_started.connect(close_old_connections)
        request_finished.connect(close_old_connections)


def test_gateways_get_the_security_headers_and_no_session_machinery(gateway, served, outsider):
    issued = issue(active_grant())
    signed_in = client_for(outsider)  # a session cookie the endpoint must ignore

    status, headers, body = served(
        "POST",
        issued.key,
        HTTP_AUTHORIZATION=_basic(*gateway),
        HTTP_COOKIE=f"sessionid={signed_in.cookies['sessionid'].value}",
    )

    assert status == 200
    assert json.loads(body)["active"] is True
    assert "default-src 'self'" in headers["Content-Security-Policy"]
    assert "frame-ancestors 'none'" in headers["Content-Security-Policy"]
    assert headers["X-Content-Type-Options"] == "nosniff"
    assert headers["X-Frame-Options"] == "DENY"
    assert headers["Referrer-Policy"] == "same-origin"
    assert headers["Cross-Origin-Opener-Policy"] == "same-origin"
    assert headers["Cache-Control"].startswith("max-age=0")
    assert headers["X-Request-ID"]
    assert "Set-Cookie" not in headers and "Vary" not in headers


def test_through_the_gateway_stack_a_revoked_key_is_inactive_on_the_very_next_request(
    gateway, served
):
    issued = issue(active_grant())
    auth = _basic(*gateway)
    assert json.loads(served("POST", issued.key, HTTP_AUTHORIZATION=auth)[2])["active"] is True

    credential_revoke(actor=None, credential=issued.credential)

    assert json.loads(served("POST", issued.key, HTTP_AUTHORIZATION=auth)[2]) == {"active": False}


def test_through_the_gateway_stack_bad_credentials_and_get_are_refused_with_headers(
    gateway, served
):
    issued = issue(active_grant())

    refused = served("POST", issued.key, HTTP_AUTHORIZATION=_basic(gateway[0], "wrong"))
    anonymous = served("POST", issued.key)
    get = served("GET", HTTP_AUTHORIZATION=_basic(*gateway))

    assert [refused[0], anonymous[0], get[0]] == [401, 401, 405]
    for _, headers, _ in (refused, anonymous, get):
        assert headers["X-Content-Type-Options"] == "nosniff"
        assert "default-src 'self'" in headers["Content-Security-Policy"]


def test_the_gateway_stack_drops_only_browser_middleware_and_keeps_their_order(settings):
    from portal.web.gateways import BROWSER_ONLY_MIDDLEWARE, gateway_middleware

    stack = gateway_middleware()

    assert set(settings.MIDDLEWARE) >= BROWSER_ONLY_MIDDLEWARE
    assert stack == [path for path in settings.MIDDLEWARE if path not in BROWSER_ONLY_MIDDLEWARE]
    assert {
        "django.middleware.security.SecurityMiddleware",
        "django.middleware.common.CommonMiddleware",  # Host header validation
        "django.middleware.clickjacking.XFrameOptionsMiddleware",
        "portal.web.middleware.ContentSecurityPolicyMiddleware",
        "portal.web.middleware.RequestContextMiddleware",
    } <= set(stack)


def _skip_unless_kept_postgresql_connection(settings) -> None:
    """Prepared statements on a connection kept between requests: PostgreSQL, and no
    transaction pooler (behind one nothing is prepared and the pooler replaces connections)."""
    from django.db import connection

    if connection.vendor != "postgresql":
        pytest.skip("prepared statements on a kept connection: PostgreSQL only")
    if settings.DATABASE_TRANSACTION_POOLING:
        pytest.skip("Behind a transaction pooler the pooler, not the portal, owns connections.")


@pytest.mark.django_db(transaction=True)
def test_a_connection_that_died_since_the_last_request_is_replaced_without_an_error(
    gateway, settings
):
    from django.db import connection

    _skip_unless_kept_postgresql_connection(settings)
    # given a gateway request that leaves its connection open for the next one
    issued = issue(active_grant())
    client = Client()
    assert _introspect(gateway, issued.key, client).json()["active"] is True

    # when the database ends that connection (a restart, a failover) between two requests
    connection.ensure_connection()
    pid = connection.connection.info.backend_pid
    other = connection.copy()
    try:
        with other.cursor() as cursor:
            cursor.execute("SELECT pg_terminate_backend(%s)", [pid])
    finally:
        other.close()

    # then the next request still gets its answer, on a new connection
    response = _introspect(gateway, issued.key, client)
    assert response.status_code == 200
    assert response.json()["active"] is True
    assert connection.connection.info.backend_pid != pid


def test_the_gateway_statement_is_prepared_once_and_django_queries_are_not(gateway, settings):
    from django.db import connection

    _skip_unless_kept_postgresql_connection(settings)
    issued = issue(active_grant())
    client = Client()

    for _ in range(3):
        assert _introspect(gateway, issued.key, client).json()["active"] is True

    # Planning the join cost the database about ten times running it: the statement is
    # planned once per connection and then only executed.
    with connection.cursor() as cursor:
        cursor.execute("SELECT statement, generic_plans + custom_plans FROM pg_prepared_statements")
        prepared = cursor.fetchall()
    assert len(prepared) == 1
    statement, executions = prepared[0]
    assert "introspection_gatewayclient" in statement
    assert executions >= 3
    # Django's own queries on the same connection stay unprepared, as configured.
    assert connection.connection.prepare_threshold is None


def test_a_token_that_names_no_key_never_runs_the_gateway_join(gateway, settings):
    """A NULL prefix made PostgreSQL plan the prepared join afresh on every request; a
    token that parses to no prefix is answered from the client's row alone."""
    from django.db import connection

    _skip_unless_kept_postgresql_connection(settings)
    client = Client()

    def joins_run() -> int:
        # Prepared statements outlive a test's transaction: count executions, not rows.
        with connection.cursor() as cursor:
            cursor.execute(
                "SELECT coalesce(sum(generic_plans + custom_plans), 0) FROM pg_prepared_statements "
                "WHERE statement LIKE '%%introspection_gatewayclient%%'"
            )
            return int(cursor.fetchone()[0])

    before = joins_run()
    for token in ("nonsense", "clr_short_" + "A" * 43) * 4:
        assert _introspect(gateway, token, client).json() == {"active": False}
    assert _introspect(("gw_unknown", gateway[1]), "nonsense", client).status_code == 401
    assert joins_run() == before

    # A real key still takes the one prepared round trip (so the count above can move).
    assert _introspect(gateway, issue(active_grant()).key, client).json()["active"] is True
    assert joins_run() == before + 1


def test_through_the_gateway_stack_a_well_formed_request_id_is_kept(gateway, served):
    issued = issue(active_grant())

    status, headers, _ = served(
        "POST", issued.key, HTTP_AUTHORIZATION=_basic(*gateway), HTTP_X_REQUEST_ID="edge-42.a"
    )
    _, malformed, _ = served(
        "POST", issued.key, HTTP_AUTHORIZATION=_basic(*gateway), HTTP_X_REQUEST_ID="no spaces"
    )

    assert status == 200
    assert headers["X-Request-ID"] == "edge-42.a"
    assert malformed["X-Request-ID"] != "no spaces" and len(malformed["X-Request-ID"]) == 32
