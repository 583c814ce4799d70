"""Target URLs cannot be aimed inward: https only (unless DEBUG or TARGET_ALLOW_HTTP), no
private, loopback, link-local or metadata address unless TARGET_ALLOWED_NETWORKS lists
it; checked when a target is saved and again at every connection (DNS rebinding)."""

from __future__ import annotations

import http.server
import socket
import threading

import pytest
from django.urls import reverse

from provisioning.connectors import network
from provisioning.connectors.base import ConnectorError, TargetConfig
from provisioning.connectors.http import build_client, send
from provisioning.deliveries.models import DeliveryError, Target
from provisioning.deliveries.services import target_create, target_update
from tests.api_helpers import api_client_for
from tests.conftest import client_for

pytestmark = pytest.mark.django_db

SECRET = "whsec_" + "QUJDREVGR0hJSktMTU5PUFFSU1RVVldY"
INWARD = [
    "https://169.254.169.254/latest/meta-data/",  # cloud metadata (link-local)
    "https://10.0.0.5/scim/v2",  # private
    "https://192.168.1.10/",  # private
    "https://127.0.0.1:5432/",  # loopback (the database)
    "https://localhost/",  # a name that resolves to loopback
    "https://[::1]/",  # IPv6 loopback
    "https://[::ffff:127.0.0.1]/",  # IPv4-mapped loopback
    "https://[fe80::1]/",  # IPv6 link-local
    "https://100.100.100.200/",  # shared address space (another metadata service)
    "https://0.0.0.0/",  # unspecified
]


@pytest.fixture
def production_rules(settings):
    settings.TARGET_ALLOW_HTTP = False
    settings.TARGET_ALLOWED_NETWORKS = []


def _create(url: str) -> Target:
    return target_create(actor=None, kind="webhook", name="hook", url=url, secrets=[SECRET])


@pytest.mark.parametrize("url", INWARD)
def test_an_inward_address_is_refused_at_save_time(production_rules, url):
    with pytest.raises(DeliveryError, match="TARGET_ALLOWED_NETWORKS"):
        _create(url)
    assert not Target.objects.exists()


def test_http_is_refused_unless_allowed(production_rules, settings):
    with pytest.raises(DeliveryError, match="https"):
        _create("http://hooks.test/in")
    settings.TARGET_ALLOW_HTTP = True
    assert _create("http://hooks.test/in").url == "http://hooks.test/in"


def test_a_public_https_address_is_accepted(production_rules):
    assert _create("https://93.184.216.34/in").pk


def test_a_listed_network_is_allowed(production_rules, settings):
    settings.TARGET_ALLOWED_NETWORKS = ["10.20.0.0/16"]
    assert _create("https://10.20.3.4/in").pk
    with pytest.raises(DeliveryError):
        target_create(
            actor=None, kind="webhook", name="other", url="https://10.21.0.1/", secrets=[SECRET]
        )


def test_an_edit_cannot_aim_an_existing_target_inward(production_rules):
    target = _create("https://93.184.216.34/in")
    with pytest.raises(DeliveryError, match="TARGET_ALLOWED_NETWORKS"):
        target_update(
            actor=None, target=target, name="hook", url="https://169.254.169.254/", enabled=True
        )
    target.refresh_from_db()
    assert target.url == "https://93.184.216.34/in"


def test_the_api_names_the_url_field(production_rules, ops_user):
    response = api_client_for(ops_user).post(
        "/api/v1/targets/",
        {
            "kind": "webhook",
            "name": "hook",
            "url": "https://169.254.169.254/",
            "secret": SECRET,
        },
        content_type="application/json",
    )
    assert response.status_code == 400
    assert response.json()["errors"][0]["field"] == "url"
    assert not Target.objects.exists()


def test_the_page_names_the_url_field(production_rules, ops_user):
    response = client_for(ops_user).post(
        reverse("deliveries:target_add"),
        {"kind": "webhook", "name": "hook", "url": "https://10.0.0.5/", "secret": SECRET},
    )
    assert response.status_code == 200
    assert "url" in response.context["form"].errors
    assert not Target.objects.exists()


# --- connect time ------------------------------------------------------------------------


@pytest.fixture
def local_server():
    class Ok(http.server.BaseHTTPRequestHandler):
        def do_GET(self):
            self.send_response(200)
            self.end_headers()

        def log_message(self, *args):
            pass

    server = http.server.HTTPServer(("127.0.0.1", 0), Ok)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    yield server.server_address[1]
    server.shutdown()


def _config(url: str) -> TargetConfig:
    return TargetConfig(kind="webhook", name="hook", url=url, timeout_seconds=2)


def test_a_name_that_rebinds_to_an_inward_address_is_refused_at_connect_time(
    production_rules, monkeypatch, local_server
):
    # given: saved while the name pointed at a public address
    answers = iter([["93.184.216.34"], ["127.0.0.1"]])
    monkeypatch.setattr(network, "resolve", lambda host, port: next(answers))
    url = f"https://rebind.test:{local_server}/"
    _create(url)
    connected: list[object] = []
    real_connect = socket.create_connection
    monkeypatch.setattr(
        socket, "create_connection", lambda *a, **k: connected.append(a) or real_connect(*a, **k)
    )
    # when: the name now answers with loopback
    with pytest.raises(ConnectorError, match="refused") as caught:
        send(build_client(_config(url), headers={}), _config(url), "GET", url)
    # then
    assert caught.value.retryable is False
    assert connected == []


def test_a_listed_loopback_target_is_reached(settings, local_server):
    settings.TARGET_ALLOWED_NETWORKS = ["127.0.0.0/8"]
    settings.TARGET_ALLOW_HTTP = True
    url = f"http://127.0.0.1:{local_server}/"

    response = send(build_client(_config(url), headers={}), _config(url), "GET", url)

    assert response.status_code == 200


def test_an_unlisted_loopback_target_is_not_reached(production_rules, local_server):
    url = f"http://127.0.0.1:{local_server}/"

    with pytest.raises(ConnectorError, match="refused"):
        send(build_client(_config(url), headers={}), _config(url), "GET", url)
