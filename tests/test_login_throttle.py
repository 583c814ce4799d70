"""Failed logins are throttled, and the limit holds even for the right password."""

from __future__ import annotations

import pytest
from django.core.cache import cache
from django.urls import reverse

from tests.factories import PASSWORD, UserFactory

pytestmark = pytest.mark.django_db


@pytest.fixture(autouse=True)
def _fresh_cache():
    cache.clear()
    yield
    cache.clear()


def test_it_blocks_an_account_after_five_failed_logins(client):
    user = UserFactory(username="target")
    for _ in range(5):
        response = client.post(reverse("account_login"), {"login": "target", "password": "wrong"})
        assert response.status_code == 200

    response = client.post(reverse("account_login"), {"login": "target", "password": PASSWORD})

    assert response.status_code in (200, 429)
    assert client.get(reverse("home")).context["user"].is_authenticated is False
    assert user.last_login is None


def test_a_correct_login_works_below_the_limit(client):
    UserFactory(username="target")
    for _ in range(3):
        client.post(reverse("account_login"), {"login": "target", "password": "wrong"})

    response = client.post(reverse("account_login"), {"login": "target", "password": PASSWORD})

    assert response.status_code == 302
    assert client.get(reverse("home")).context["user"].username == "target"
