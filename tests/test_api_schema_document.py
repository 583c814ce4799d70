"""The OpenAPI document describes the API as it answers: distinct choice sets, lists as
lists, every error status per operation, and a schema that a threaded server serves to
its first concurrent readers."""

from __future__ import annotations

import os

import pytest
from drf_spectacular.generators import SchemaGenerator

from tests.api_helpers import api_client_for
from tests.workers import python_in_project

ERROR_STATUSES = ("400", "401", "403", "404", "409", "413", "429")


@pytest.fixture(scope="module")
def document():
    return SchemaGenerator().get_schema(request=None, public=True)


def _operations(document):
    for path, operations in document["paths"].items():
        for method, operation in operations.items():
            yield path, method, operation


def test_grant_states_keep_all_four_values(document):
    schemas = document["components"]["schemas"]
    assert schemas["GrantStateEnum"]["enum"] == ["active", "suspended", "revoked", "expired"]
    assert schemas["BulkFilterGrantStateEnum"]["enum"] == ["active", "suspended"]


def test_no_two_choice_sets_share_a_name(document):
    enums = {
        name: tuple(schema["enum"])
        for name, schema in document["components"]["schemas"].items()
        if "enum" in schema
    }
    # A name reused for different choices would have been suffixed or merged by the
    # generator; the overrides keep one name per set.
    assert len(set(enums.values())) == len(enums)


def test_delivery_is_documented_as_a_plain_list(document):
    operation = document["paths"]["/api/v1/credentials/{id}/delivery/"]["get"]
    body = operation["responses"]["200"]["content"]["application/json"]["schema"]
    assert body["type"] == "array"
    assert {p["name"] for p in operation["parameters"]} == {"id"}


def test_every_operation_documents_its_error_statuses(document):
    missing = [
        f"{method.upper()} {path} {status}"
        for path, method, operation in _operations(document)
        for status in ERROR_STATUSES
        if status not in operation["responses"]
    ]
    assert missing == []


def test_the_profile_patch_says_the_signatures_are_required(document, partner_member):
    schema = document["components"]["schemas"]["PatchedProfileUpdateRequest"]
    assert {"attest", "accept_aup"} <= set(schema["required"])
    response = api_client_for(partner_member).patch(
        "/api/v1/profile/", {}, content_type="application/json"
    )
    assert response.status_code == 400
    fields = {error["field"] for error in response.json()["errors"]}
    assert {"attest", "accept_aup"} <= fields


_CONCURRENT_FIRST_READERS = """
import concurrent.futures, threading, urllib.request, urllib.error
from wsgiref.simple_server import WSGIServer, WSGIRequestHandler, make_server
from socketserver import ThreadingMixIn
import django
django.setup()
from portal.wsgi import application

class Quiet(WSGIRequestHandler):
    def log_message(self, *args):
        pass

class Threaded(ThreadingMixIn, WSGIServer):
    daemon_threads = True

server = make_server("127.0.0.1", 0, application, server_class=Threaded, handler_class=Quiet)
threading.Thread(target=server.serve_forever, daemon=True).start()
url = f"http://127.0.0.1:{server.server_port}/api/schema/?format=json"

def fetch(_):
    try:
        return urllib.request.urlopen(url, timeout=120).status
    except urllib.error.HTTPError as error:
        return error.code

with concurrent.futures.ThreadPoolExecutor(8) as pool:
    print(sorted(pool.map(fetch, range(8))))
"""


def test_concurrent_first_schema_requests_all_succeed(tmp_path):
    env = {
        **os.environ,
        "DJANGO_SETTINGS_MODULE": "portal.settings",
        "DATABASE_URL": f"sqlite:///{tmp_path / 'db.sqlite3'}",
        "CACHE_URL": "locmem://",
    }
    done = python_in_project("-c", _CONCURRENT_FIRST_READERS, env=env, timeout=300)
    assert done.returncode == 0, done.stderr[-2000:]
    assert done.stdout.strip() == str([200] * 8), done.stderr[-2000:]


@pytest.mark.parametrize(
    "path", ["/api/v1/credentials/-1.2e-243/", "/api/v1/determinations/.exe/", "/api/v2/nothing/"]
)
def test_a_path_that_names_no_operation_is_a_problem_404(partner_admin, path):
    response = api_client_for(partner_admin).get(path)
    assert response.status_code == 404
    assert response["Content-Type"] == "application/problem+json"
