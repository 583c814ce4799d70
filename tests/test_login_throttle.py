"""Failed logins are throttled, and the limit holds even for the right password."""

from __future__ import annotations

import pytest
from django.urls import reverse

from tests.factories import PASSWORD, UserFactory

pytestmark = pytest.mark.django_db


def test_it_blocks_an_account_after_five_failed_logins(client):
    user = UserFactory(username="target")
    for _ in range(5):
        response = client.post(reverse("account_login"), {"login": "target", "password": "wrong"})
        assert response.status_code == 200

    response = client.post(reverse("account_login"), {"login": "target", "password": PASSWORD})

    # allauth answers the throttled attempt with the login form and its error, not a 429.
    assert response.status_code == 200
    assert "Too many failed login attempts" in response.content.decode()
    assert client.get(reverse("home")).context["user"].is_authenticated is False
    user.refresh_from_db()
    assert user.last_login is None


def test_a_correct_login_works_below_the_limit(client):
    UserFactory(username="target")
    for _ in range(3):
        client.post(reverse("account_login"), {"login": "target", "password": "wrong"})

    response = client.post(reverse("account_login"), {"login": "target", "password": PASSWORD})

    assert response.status_code == 302
    assert client.get(reverse("home")).context["user"].username == "target"
