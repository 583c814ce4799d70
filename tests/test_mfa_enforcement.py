"""A staff user without MFA reaches only the MFA set-up and logout pages."""

from __future__ import annotations

import pyotp
import pytest
from allauth.mfa.models import Authenticator
from allauth.mfa.utils import decrypt
from django.urls import reverse

from tests.conftest import client_for
from tests.factories import PASSWORD

pytestmark = pytest.mark.django_db


@pytest.mark.parametrize("url_name", ["home", "admin:index"])
def test_staff_without_mfa_is_sent_to_mfa_setup(staff_without_mfa, url_name):
    response = client_for(staff_without_mfa).get(reverse(url_name))

    assert response.status_code == 302
    assert response["Location"] == reverse("mfa_index")


def test_staff_without_mfa_gets_json_403_on_programmatic_paths(staff_without_mfa):
    response = client_for(staff_without_mfa).get("/", headers={"HX-Request": "true"})

    assert response.status_code == 403
    assert response.json()["code"] == "mfa_required"


@pytest.mark.parametrize(
    ("url_name", "lands_on"),
    [
        ("mfa_index", "mfa_index"),
        # allauth asks for the password again before a TOTP device is added: that page too.
        ("mfa_activate_totp", "account_reauthenticate"),
        ("account_logout", "account_logout"),
    ],
)
def test_staff_without_mfa_can_reach_setup_and_logout(staff_without_mfa, url_name, lands_on):
    response = client_for(staff_without_mfa).get(reverse(url_name), follow=True)

    assert response.status_code == 200
    assert response.wsgi_request.path == reverse(lands_on)


def test_staff_with_mfa_reaches_home(reviewer):
    response = client_for(reviewer).get(reverse("home"))

    assert response.status_code == 200
    assert b"Review applications" in response.content


def test_partner_without_mfa_is_not_forced(partner_member):
    response = client_for(partner_member).get(reverse("home"))

    assert response.status_code == 200


def test_staff_login_asks_for_the_totp_code_before_signing_in(client, reviewer):
    # given a reviewer with TOTP
    secret = decrypt(Authenticator.objects.get(user=reviewer, type="totp").data["secret"])

    # when they sign in with the right password
    response = client.post(
        reverse("account_login"), {"login": reviewer.username, "password": PASSWORD}
    )

    # then they are not signed in yet: the MFA step comes first
    assert response.status_code == 302
    assert response["Location"] == reverse("mfa_authenticate")
    assert client.get(reverse("home")).context["user"].is_authenticated is False

    # and a wrong code is refused
    response = client.post(reverse("mfa_authenticate"), {"code": "000000"})
    assert response.status_code == 200
    assert client.get(reverse("home")).context["user"].is_authenticated is False

    # and the right code signs them in
    response = client.post(reverse("mfa_authenticate"), {"code": pyotp.TOTP(secret).now()})
    assert response.status_code == 302
    assert client.get(reverse("home")).context["user"] == reviewer


def test_staff_user_who_sets_up_totp_is_let_through(client, staff_without_mfa):
    client.force_login(staff_without_mfa)
    # allauth asks for a recent password before changing MFA
    client.post(reverse("account_reauthenticate"), {"password": PASSWORD})
    page = client.get(reverse("mfa_activate_totp"))
    assert page.status_code == 200
    secret = client.session["mfa.totp.secret"]

    response = client.post(reverse("mfa_activate_totp"), {"code": pyotp.TOTP(secret).now()})

    assert response.status_code == 302
    assert client.get(reverse("home")).status_code == 200


def test_admin_login_goes_through_allauth(client):
    response = client.get("/admin/login/")

    assert response.status_code == 302
    assert response["Location"].startswith(reverse("account_login"))


def test_totp_secrets_are_encrypted_at_rest(reviewer):
    stored = Authenticator.objects.get(user=reviewer, type="totp").data["secret"]

    assert stored != decrypt(stored)
    assert len(decrypt(stored)) == 32
