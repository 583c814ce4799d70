"""In a real browser: staff sign in with password and TOTP; staff without MFA must set it up."""

from __future__ import annotations

import pyotp
import pytest
from allauth.mfa.models import Authenticator
from allauth.mfa.utils import decrypt

from tests.factories import PASSWORD

pytestmark = [pytest.mark.browser, pytest.mark.django_db(transaction=True)]


def test_a_reviewer_signs_in_with_password_and_totp(page, live_server, reviewer):
    secret = decrypt(Authenticator.objects.get(user=reviewer, type="totp").data["secret"])

    page.goto(f"{live_server.url}/accounts/login/")
    page.get_by_label("Login").fill(reviewer.username)
    page.get_by_label("Password").fill(PASSWORD)
    page.get_by_role("button", name="Sign In").click()
    page.get_by_label("Code").fill(pyotp.TOTP(secret).now())
    page.get_by_role("button", name="Sign In").click()

    page.get_by_role("heading", name="Your work").wait_for()
    assert page.get_by_role("navigation", name="Main").is_visible()


def test_a_staff_user_without_mfa_lands_on_the_mfa_setup_page(page, live_server, staff_without_mfa):
    page.goto(f"{live_server.url}/accounts/login/")
    page.get_by_label("Login").fill(staff_without_mfa.username)
    page.get_by_label("Password").fill(PASSWORD)
    page.get_by_role("button", name="Sign In").click()

    page.wait_for_url("**/accounts/2fa/")
    assert "two-factor authentication" in page.content().lower()
    page.goto(f"{live_server.url}/")
    page.wait_for_url("**/accounts/2fa/")
