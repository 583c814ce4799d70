"""Every page of the shell, for anonymous, outsider, the right persona and staff without MFA."""

from __future__ import annotations

import pytest
from django.urls import reverse

from tests.conftest import client_for

pytestmark = pytest.mark.django_db


def test_anonymous_sees_the_landing_page(client):
    response = client.get(reverse("home"))

    assert response.status_code == 200
    assert b"Sign in" in response.content
    assert b"Your organisations" not in response.content


def test_partner_admin_home_shows_their_organisation_and_next_steps(partner_admin, organisation):
    response = client_for(partner_admin).get(reverse("home"))

    assert response.status_code == 200
    assert organisation.legal_name.encode() in response.content
    assert b"Complete your eligibility profile" in response.content
    assert b"Review queue" not in response.content


def test_outsider_home_does_not_show_our_organisation(outsider, organisation):
    response = client_for(outsider).get(reverse("home"))

    assert response.status_code == 200
    assert organisation.legal_name.encode() not in response.content


@pytest.mark.parametrize(
    ("persona", "duty"),
    [
        ("reviewer", b"Review applications"),
        ("compliance_officer", b"Keep access lawful"),
        ("ops_user", b"Keep access enforced"),
        ("auditor", b"You can change nothing"),
    ],
)
def test_each_staff_persona_sees_their_work(request, persona, duty):
    response = client_for(request.getfixturevalue(persona)).get(reverse("home"))

    assert response.status_code == 200
    assert duty in response.content


def test_staff_without_mfa_is_redirected_from_home(staff_without_mfa):
    response = client_for(staff_without_mfa).get(reverse("home"))

    assert response.status_code == 302


def test_unknown_pages_render_the_404_template(client):
    response = client.get("/no-such-page/")

    assert response.status_code == 404
    assert b"There is no such page" in response.content


def test_responses_carry_security_headers(client):
    response = client.get(reverse("home"))

    assert "script-src 'self'" in response["Content-Security-Policy"]
    assert response["X-Frame-Options"] == "DENY"
    assert response["X-Content-Type-Options"] == "nosniff"
    assert len(response["X-Request-ID"]) >= 16


def test_login_page_matches_the_site_layout(client):
    response = client.get(reverse("account_login"))

    assert response.status_code == 200
    assert b'class="site-header"' in response.content
    assert b"csrfmiddlewaretoken" in response.content


def test_logout_requires_post_with_csrf(partner_member):
    from django.test import Client

    client = Client(enforce_csrf_checks=True)
    client.force_login(partner_member)

    response = client.post(reverse("account_logout"))

    assert response.status_code == 403


def test_sign_up_keeps_what_the_user_typed_on_error(client):
    response = client.post(
        reverse("account_signup"),
        {
            "email": "new@example.org",
            "username": "newbie",
            "password1": "short",
            "password2": "short",
        },
    )

    assert response.status_code == 200
    assert b'value="new@example.org"' in response.content
    assert b"too short" in response.content
