"""The OpenAPI schema against the running API (Schemathesis): no 5xx, and every answer the
schema describes matches it. Each operation runs with a write-scoped token of a partner
admin; the staff operations run again with the token of a staff member holding the
reviewer, compliance and ops roles, so they get past the permission checks."""

from __future__ import annotations

import pytest
import schemathesis
from django.contrib.auth.models import Group
from django.core import signals
from django.db import close_old_connections
from hypothesis import HealthCheck, settings
from schemathesis.checks import not_a_server_error
from schemathesis.specs.openapi.checks import response_schema_conformance

from portal.accounts.roles import Role
from portal.wsgi import application
from tests.api_helpers import token_for
from tests.factories import staff_user

schema = schemathesis.openapi.from_wsgi("/api/schema/?format=json", application)
STAFF_PATHS = (
    r"^/api/v1/(reviews|screening-matches|determinations|bulk-actions|emergency-stops|targets"
    r"|audit-events)/"
    r"|^/api/v1/credentials/\{id\}/delivery/"
    r"|^/api/v1/organisations/\{slug\}/(trusted|verification)/"
    r"|^/api/v1/(certification-campaigns|usage-alerts|compliance|screening-lists)/"
    r"|^/api/v1/access-reports/"
)
staff_schema = schema.include(path_regex=STAFF_PATHS)
FIFTEEN_EXAMPLES = settings(
    max_examples=15,
    deadline=None,
    suppress_health_check=[HealthCheck.function_scoped_fixture, HealthCheck.too_slow],
)


def _answers_as_the_schema_says(case, token):
    """Sends the generated request with ``token``: no 5xx, and the answer matches the schema."""
    case.call_and_validate(
        headers={"Authorization": f"Bearer {token}"},
        checks=[not_a_server_error, response_schema_conformance],
    )


@pytest.fixture(autouse=True)
def _keep_the_test_connection_open():
    # Django's test client does the same: the WSGI handler would close the connection
    # (and with it the test transaction) at the end of every request.
    signals.request_started.disconnect(close_old_connections)
    signals.request_finished.disconnect(close_old_connections)
    yield
    signals.request_started.connect(close_old_connections)
    signals.request_finished.connect(close_old_connections)


@pytest.fixture
def admin_token(partner_admin):
    return token_for(partner_admin, "read", "write")


@schema.parametrize()
@FIFTEEN_EXAMPLES
def test_the_api_answers_every_generated_request_without_a_server_error(case, admin_token):
    _answers_as_the_schema_says(case, admin_token)


@pytest.fixture
def staff_token(db):
    user = staff_user(Role.REVIEWER, username="staff-all-roles")
    user.groups.add(*Group.objects.filter(name__in=[Role.COMPLIANCE, Role.OPS]))
    return token_for(user, "read", "write")


@staff_schema.parametrize()
@FIFTEEN_EXAMPLES
def test_the_staff_endpoints_answer_a_staff_token_without_a_server_error(case, staff_token):
    _answers_as_the_schema_says(case, staff_token)
