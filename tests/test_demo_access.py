"""seed_demo's access story: active grants and keys before any ban, printed reproducibly."""

from __future__ import annotations

import json

import pytest
from django.core.management import call_command

from provisioning.credentials.models import Credential
from provisioning.introspection.models import GatewayClient
from provisioning.introspection.services import token_introspect

pytestmark = pytest.mark.django_db


@pytest.fixture(autouse=True)
def _debug(settings):
    settings.DEBUG = True


def _credentials(capsys) -> list[dict]:
    call_command("seed_demo", "--json")
    return [row for row in json.loads(capsys.readouterr().out) if "key" in row]


def test_seed_demo_lists_every_demo_key_with_its_fields_and_the_same_keys_twice(capsys):
    first = _credentials(capsys)
    second = _credentials(capsys)

    assert first == second
    assert {tuple(sorted(row)) for row in first} == {
        ("key", "model", "organisation", "state", "username")
    }
    grants = {(row["organisation"], row["model"]) for row in first}
    assert grants == {
        ("northwind-cyber", "mythos-5"),
        ("northwind-cyber", "fable"),
        ("gridline-energy", "fable"),
    }
    assert {row["username"] for row in first if row["organisation"] == "gridline-energy"} == {
        "grace.okafor",
        "erik.lindqvist",
    }
    assert Credential.objects.count() == len(first)


def test_the_printed_demo_keys_introspect_as_active_and_are_not_stored(capsys):
    rows = _credentials(capsys)
    gateway = GatewayClient.objects.create(name="demo", client_id="gw_demo", secret_hash="0" * 64)

    for row in rows:
        answer = token_introspect(token=row["key"], client=gateway)
        assert answer["active"] is (row["state"] == "active")
        assert answer.get("scope", row["model"]) == row["model"]
    stored = repr(list(Credential.objects.values()))
    assert all(row["key"].split("_", 2)[2] not in stored for row in rows)
