"""One input guard for every surface: each finding of the hardening probe, refused with a
4xx in the surface's own shape, never a 500 and never half-written.

Several of these were 500s only on PostgreSQL (text cannot hold NUL there); CI runs this
module on PostgreSQL.
"""

from __future__ import annotations

import base64
import datetime as dt
import json

import pytest
from django.test import Client
from django.utils import timezone

from foundation.input_guard import InputRejected, json_depth, load_json
from portal.scim.models import ScimGroup, ScimUser
from portal.scim.services import scim_token_issue
from portal.screening.data import CSL_SAMPLE
from portal.screening.errors import ListFormatError
from portal.screening.lists import list_version_load
from portal.screening.models import ListVersion
from portal.usage.models import UsageEvent
from provisioning.introspection.services import gateway_client_create
from tests.api_helpers import api_client_for
from tests.provisioning_fakes import active_grant, issue

pytestmark = pytest.mark.django_db

SCIM = "application/scim+json"
SCIM_ERROR = "urn:ietf:params:scim:api:messages:2.0:Error"
PROBLEM = "application/problem+json"
USER_SCHEMA = "urn:ietf:params:scim:schemas:core:2.0:User"
PATCH_SCHEMA = "urn:ietf:params:scim:api:messages:2.0:PatchOp"
DEEP = ("[" * 50_000 + "]" * 50_000).encode()


@pytest.fixture
def scim(organisation, partner_admin) -> Client:
    token = scim_token_issue(actor=None, organisation=organisation, acting_user=partner_admin)
    return Client(HTTP_AUTHORIZATION=f"Bearer {token}")


@pytest.fixture
def gateway():
    return gateway_client_create(actor=None, name="edge-eu")


def _basic(client_id: str, secret: str) -> str:
    return "Basic " + base64.b64encode(f"{client_id}:{secret}".encode()).decode()


def _ingest(gateway, body: bytes, *, auth: str | None = None):
    return Client().post(
        "/usage/v1/events",
        data=body,
        content_type="application/json",
        HTTP_AUTHORIZATION=auth or _basic(gateway.client.client_id, gateway.client_secret),
    )


def _scim(client, method, path, body):
    data = body if isinstance(body, bytes) else json.dumps(body)
    return getattr(client, method)(f"/scim/v2/{path}", data, content_type=SCIM)


def _assert_scim_error(response, status, scim_type=None):
    assert response.status_code == status
    assert response["Content-Type"].startswith(SCIM)
    body = response.json()
    assert body["schemas"] == [SCIM_ERROR]
    assert body["status"] == str(status)
    if scim_type:
        assert body["scimType"] == scim_type
    return body


# --- the guard itself --------------------------------------------------------------------


def test_the_depth_check_streams_and_ignores_brackets_inside_strings():
    assert json_depth(b'[{"a": "[[[[\\"[["}]', limit=5) == 2
    assert json_depth(DEEP, limit=32) == 33


def test_a_deep_body_is_refused_before_it_is_parsed():
    with pytest.raises(InputRejected, match="nested too deeply"):
        load_json(DEEP)


def test_a_control_character_is_refused_naming_its_field():
    with pytest.raises(InputRejected) as caught:
        load_json(b'{"a": [{"b": "x\\u0007y"}]}')
    assert caught.value.field == "a[0].b"


# --- API ---------------------------------------------------------------------------------


def test_a_nul_in_an_api_path_segment_is_a_404_problem(partner_admin):
    response = api_client_for(partner_admin).get("/api/v1/organisations/%00/")
    assert response.status_code == 404
    assert response["Content-Type"] == PROBLEM


def test_a_nul_in_a_page_path_is_a_404(partner_admin):
    from tests.conftest import client_for

    response = client_for(partner_admin).get("/partners/%00/")
    assert response.status_code == 404


def test_a_body_over_the_limit_is_a_413_problem(partner_admin, settings):
    # given
    settings.DATA_UPLOAD_MAX_MEMORY_SIZE = 1024 * 1024
    body = json.dumps({"organisation": "northwind", "email": "a" * (2 * 1024 * 1024)})
    # when
    response = api_client_for(partner_admin).post(
        "/api/v1/invitations/", body, content_type="application/json"
    )
    # then
    assert response.status_code == 413
    assert response["Content-Type"] == PROBLEM
    assert response.json()["status"] == 413


def test_a_control_character_in_an_api_body_names_the_field(partner_admin):
    response = api_client_for(partner_admin).post(
        "/api/v1/invitations/",
        '{"organisation": "northwind", "email": "a\\u001b@northwind.example"}',
        content_type="application/json",
    )
    assert response.status_code == 400
    assert response.json()["errors"][0]["field"] == "email"


# --- SCIM --------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("resource", "body", "field"),
    [
        ("Users", {"schemas": [USER_SCHEMA], "userName": "ada\x00@northwind.example"}, "userName"),
        (
            "Users",
            {"schemas": [USER_SCHEMA], "userName": "ada@northwind.example", "displayName": "A\x00"},
            "displayName",
        ),
        ("Groups", {"displayName": "Ops\x00"}, "displayName"),
    ],
)
def test_a_nul_in_a_scim_create_is_a_scim_400_naming_the_attribute(scim, resource, body, field):
    response = _scim(scim, "post", resource, body)

    error = _assert_scim_error(response, 400, "invalidValue")
    assert field in error["detail"]
    assert not ScimUser.objects.exists()
    assert not ScimGroup.objects.exists()


@pytest.mark.parametrize("resource", ["Users", "Groups"])
def test_a_nul_in_a_scim_patch_is_a_scim_400(scim, resource):
    # given
    created = _scim(
        scim,
        "post",
        resource,
        {"schemas": [USER_SCHEMA], "userName": "ada@northwind.example"}
        if resource == "Users"
        else {"displayName": "Ops"},
    ).json()
    attribute = "userName" if resource == "Users" else "displayName"
    patch = {
        "schemas": [PATCH_SCHEMA],
        "Operations": [{"op": "replace", "path": attribute, "value": "x\x00y"}],
    }
    # when
    response = _scim(scim, "patch", f"{resource}/{created['id']}", patch)
    # then
    _assert_scim_error(response, 400, "invalidValue")


@pytest.mark.parametrize("resource", ["Users", "Groups"])
def test_a_50000_deep_scim_body_is_a_scim_400(scim, resource):
    _assert_scim_error(_scim(scim, "post", resource, DEEP), 400, "invalidSyntax")


def test_a_nul_in_a_scim_query_string_is_a_scim_error(scim):
    response = scim.get("/scim/v2/Users?filter=userName%20eq%20%22a%00%22")
    _assert_scim_error(response, 400)


def test_a_scim_body_over_the_limit_is_a_scim_413(scim, settings):
    settings.SCIM_MAX_PAYLOAD_BYTES = 1024
    body = {"schemas": [USER_SCHEMA], "userName": "a" * 4096 + "@northwind.example"}
    _assert_scim_error(_scim(scim, "post", "Users", body), 413)


# --- usage ingestion ---------------------------------------------------------------------


def _event(credential, **overrides):
    return {
        "key_prefix": credential.key_prefix,
        "model": credential.grant.covered_model.slug,
        "time": timezone.now().isoformat(),
        "source_country": "US",
        "requests": 1,
        **overrides,
    }


def test_a_nul_in_a_usage_events_model_is_refused_with_its_field(gateway):
    credential = issue(active_grant()).credential

    response = _ingest(gateway, json.dumps([_event(credential, model="frontier\x00")]).encode())

    assert response.status_code == 400
    reasons = response.json()["errors"][0]["reasons"]
    assert any("model" in reason and "NUL" in reason for reason in reasons)
    assert not UsageEvent.objects.exists()


def test_a_time_that_overflows_in_utc_is_refused_not_a_500(gateway):
    credential = issue(active_grant()).credential

    response = _ingest(
        gateway, json.dumps([_event(credential, time="0001-01-01T00:00:00+14:00")]).encode()
    )

    assert response.status_code == 400
    assert "time must be" in response.json()["errors"][0]["reasons"][0]


def test_a_50000_deep_usage_batch_is_a_400(gateway):
    response = _ingest(gateway, DEEP)

    assert response.status_code == 400
    assert "nested too deeply" in response.json()["error_description"]


def test_a_nul_in_a_basic_client_id_is_a_400_before_authentication(gateway):
    response = _ingest(gateway, b"[]", auth=_basic("edge\x00", "whatever"))

    assert response.status_code == 400
    assert response.json()["error"] == "invalid_request"


def test_a_usage_batch_over_the_limit_is_a_413(gateway, settings):
    settings.USAGE_MAX_BATCH_BYTES = 1024
    assert _ingest(gateway, b"[" + b" " * 4096 + b"]").status_code == 413


# --- screening list uploads --------------------------------------------------------------


def _csl_with_late(character: str, tmp_path):
    text = CSL_SAMPLE.read_text(encoding="utf-8")
    header, *rows = text.splitlines(keepends=True)
    padding = "".join(rows)
    while len(padding) < 70_000:
        padding += "".join(rows)
    # A name, well after the first 64 KiB, carries the character.
    body = padding + '"x1","Entity List (EL) - Bureau of Industry and Security","","",'
    body += f'"","Late{character}Name"' + ',""' * 23 + "\n"
    path = tmp_path / "csl.csv"
    path.write_text(header + body, encoding="utf-8")
    assert path.read_bytes().index(character.encode()) > 65536
    return path


@pytest.mark.parametrize("character", ["\x00", "\x07", "\x1b"])
def test_a_control_character_after_the_first_64_kib_refuses_the_list(tmp_path, character):
    path = _csl_with_late(character, tmp_path)

    with pytest.raises(ListFormatError, match=r"binary|control characters"):
        list_version_load(list_format="csl", path=path, actor=None)

    assert not ListVersion.objects.exists()


def test_dates_far_outside_the_supported_years_are_refused():
    from foundation.input_guard import check_datetime

    with pytest.raises(InputRejected, match="between the years"):
        check_datetime(dt.datetime(1, 1, 1, tzinfo=dt.UTC), field="time")


def test_a_control_character_in_a_page_form_is_a_400_naming_the_field(partner_admin):
    from tests.conftest import client_for

    response = client_for(partner_admin).post(
        "/organisation/", {"legal_name": "North\x07wind"}, follow=False
    )

    assert response.status_code == 400
    assert b"'legal_name'" in response.content


def test_a_date_of_birth_outside_the_supported_years_names_the_field(partner_member):
    response = api_client_for(partner_member).patch(
        "/api/v1/profile/",
        {"date_of_birth": "0001-01-01", "attest": True, "accept_aup": True},
        content_type="application/json",
    )

    assert response.status_code == 400
    fields = {error["field"] for error in response.json()["errors"]}
    assert "date_of_birth" in fields


# --- management commands -----------------------------------------------------------------


@pytest.mark.parametrize(
    "args",
    [
        ["gateway_client", "--name", "edge\x00eu"],
        ["issue_token", "--user", "partner-admin", "--name", "ci\x07"],
        ["add_target", "--kind", "scim", "--name", "dir\x00", "--url", "https://dir.test/"],
    ],
)
def test_a_command_refuses_control_characters_before_storing(args, partner_admin):
    from django.core.management import CommandError, call_command

    with pytest.raises(CommandError, match="control characters"):
        call_command(*args)


def test_a_form_encoded_api_call_with_a_nul_is_a_400_naming_the_field(ops_user):
    # given an ops token and a target created as a form, with a NUL in a model slug
    client = api_client_for(ops_user)

    # when
    response = client.post(
        "/api/v1/targets/",
        {
            "name": "probe",
            "kind": "scim",
            "url": "https://scim.example/v2",
            "covered_models": "a\x00b",
        },
    )

    # then: refused before any query, as problem+json naming the field
    assert response.status_code == 400
    assert response["Content-Type"].startswith("application/problem+json")
    assert "covered_models" in response.content.decode()
