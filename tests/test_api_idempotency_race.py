"""The Idempotency-Key store under parallel duplicates: every interleaving answers with a
4xx or the one stored 2xx, never a 500 (PostgreSQL: SQLite has a single writer)."""

from __future__ import annotations

import threading
from collections.abc import Callable

import pytest
from django.db import connection

from portal.api.models import IdempotencyKey
from portal.partners.models import Invitation
from tests.api_helpers import bearer_client, token_for
from tests.concurrency import in_threads

pytestmark = [
    pytest.mark.django_db(transaction=True),
    pytest.mark.skipif(
        connection.vendor == "sqlite", reason="SQLite has a single writer: there is no race."
    ),
]
PARALLEL = 24


@pytest.fixture(autouse=True)
def _no_throttle(settings):
    settings.REST_FRAMEWORK = {
        **settings.REST_FRAMEWORK,
        "DEFAULT_THROTTLE_CLASSES": [],
    }


def _in_parallel(send: Callable[[int], tuple[int, bool]]) -> list[tuple[int, bool]]:
    barrier = threading.Barrier(PARALLEL)
    answers: list[tuple[int, bool]] = []

    def run(index: int) -> None:
        try:
            barrier.wait()
            answers.append(send(index))
        except Exception as error:
            answers.append((500, repr(error) != ""))

    in_threads(run, [(n,) for n in range(PARALLEL)])
    assert len(answers) == PARALLEL
    return answers


def _invite_with(token: str, key: str, email: Callable[[int], str]):
    def send(index: int) -> tuple[int, bool]:
        response = bearer_client(token).post(
            "/api/v1/invitations/",
            {"organisation": "northwind", "email": email(index)},
            content_type="application/json",
            HTTP_IDEMPOTENCY_KEY=key,
        )
        return response.status_code, response.has_header("Idempotent-Replayed")

    return send


# One test, three rounds: each transactional test costs a database flush (~15 s on CI).
def test_parallel_duplicates_with_one_key_never_fail_and_act_at_most_once(partner_admin):
    token = token_for(partner_admin)

    # when: invalid bodies, one key (the probe's 6 x 500: DoesNotExist)
    invalid = _in_parallel(_invite_with(token, "same-key", lambda _n: "not-an-address"))
    # then
    assert {status for status, _ in invalid} <= {400, 409}
    assert 400 in {status for status, _ in invalid}
    assert not IdempotencyKey.objects.exists()  # every failure freed the key

    # when: one valid body, one key
    valid = _in_parallel(_invite_with(token, "once", lambda _n: "new@northwind.example"))
    # then
    fresh = [status for status, replayed in valid if status == 201 and not replayed]
    assert fresh == [201]
    assert {status for status, _ in valid} <= {201, 409}
    assert Invitation.objects.filter(email="new@northwind.example").count() == 1
    assert IdempotencyKey.objects.get().status_code == 201

    # when: different requests, one key
    mixed = _in_parallel(
        _invite_with(
            token,
            "mixed",
            lambda n: "not-an-address" if n % 2 else f"person{n}@northwind.example",
        )
    )
    # then
    assert {status for status, _ in mixed} <= {201, 400, 409, 422}
    assert sum(1 for status, replayed in mixed if status == 201 and not replayed) <= 1
    assert Invitation.objects.exclude(email="new@northwind.example").count() <= 1
