from __future__ import annotations

import functools

import pytest
from django.urls import reverse

from portal.web import health, views
from portal.web.services import worker_heartbeat_record

pytestmark = pytest.mark.django_db


def test_healthz_says_the_process_is_alive(client):
    response = client.get(reverse("healthz"))

    assert response.status_code == 200
    assert response.json() == {"status": "ok"}


def test_readyz_says_starting_until_a_worker_has_reported(client):
    response = client.get(reverse("readyz"))

    assert response.status_code == 200
    body = response.json()
    assert body["status"] == "starting"
    assert body["database"]["ok"] is True
    assert body["broker"]["ok"] is True
    assert body["last_worker_heartbeat"] is None


def test_readyz_says_ok_once_a_worker_heartbeat_is_recorded(client):
    heartbeat = worker_heartbeat_record(hostname="celery@demo")

    response = client.get(reverse("readyz"))

    assert response.status_code == 200
    body = response.json()
    assert body["status"] == "ok"
    assert body["last_worker_heartbeat"] == heartbeat.seen_at.isoformat()


def test_readyz_is_503_when_the_broker_is_unreachable(client, monkeypatch):
    unreachable = functools.partial(health.probe_broker, "redis://127.0.0.1:1/0")
    monkeypatch.setattr(views, "probe_broker", unreachable)

    response = client.get(reverse("readyz"))

    assert response.status_code == 503
    assert response.json()["broker"]["ok"] is False
