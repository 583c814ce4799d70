"""Stored Idempotency-Key answers are purged by a beat task once they expire."""

from __future__ import annotations

import datetime as dt

import pytest
from django.utils import timezone
from django_celery_beat.models import PeriodicTask
from django_celery_beat.schedulers import DatabaseScheduler

from portal.api.models import IdempotencyKey
from portal.api.tasks import purge_idempotency_keys
from portal.celery import app


def _stored(user, key: str, *, expires_in: dt.timedelta) -> IdempotencyKey:
    return IdempotencyKey.objects.create(
        user=user,
        key_hash=key.ljust(64, "0"),
        request_hash="r" * 64,
        status_code=201,
        response_body={"id": 1},
        expires_at=timezone.now() + expires_in,
    )


def test_the_task_deletes_expired_answers_and_keeps_live_ones(partner_admin):
    # given
    expired = _stored(partner_admin, "a", expires_in=-dt.timedelta(minutes=1))
    also_expired = _stored(partner_admin, "b", expires_in=-dt.timedelta(days=3))
    live = _stored(partner_admin, "c", expires_in=dt.timedelta(hours=1))
    # when
    deleted = purge_idempotency_keys.apply().get()
    # then
    assert deleted == 2
    remaining = set(IdempotencyKey.objects.values_list("pk", flat=True))
    assert remaining == {live.pk}
    assert expired.pk not in remaining and also_expired.pk not in remaining


def test_a_purged_key_can_be_used_again_for_a_new_request(partner_admin):
    # given: the key answered once, long ago
    from tests.api_helpers import bearer_client, token_for

    client = bearer_client(token_for(partner_admin))
    first = client.post(
        "/api/v1/invitations/",
        {"organisation": "northwind", "email": "one@northwind.example"},
        content_type="application/json",
        headers={"Idempotency-Key": "reuse-me"},
    )
    IdempotencyKey.objects.update(expires_at=timezone.now() - dt.timedelta(seconds=1))
    purge_idempotency_keys.apply()
    # when
    second = client.post(
        "/api/v1/invitations/",
        {"organisation": "northwind", "email": "two@northwind.example"},
        content_type="application/json",
        headers={"Idempotency-Key": "reuse-me"},
    )
    # then
    assert first.status_code == second.status_code == 201
    assert second.json()["email"] == "two@northwind.example"
    assert "Idempotent-Replayed" not in second


# Beat's scheduler closes the connection it used, so no test transaction may wrap it.
@pytest.mark.django_db(transaction=True)
def test_beat_runs_the_purge_every_hour():
    # given: beat's own scheduler, which copies the schedule into the database as it starts
    scheduler = DatabaseScheduler(app=app)

    # when
    entry = scheduler.schedule["api-purge-idempotency-keys"]
    now = entry.default_now()

    # then: the stored entry sends this task, and it is due an hour after its last run
    assert entry.task == purge_idempotency_keys.name
    assert PeriodicTask.objects.get(task=purge_idempotency_keys.name).enabled
    assert entry.schedule.is_due(now - dt.timedelta(minutes=59)).is_due is False
    assert entry.schedule.is_due(now - dt.timedelta(minutes=61)).is_due is True
