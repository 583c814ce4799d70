"""The house 404 and 500 pages show with DEBUG on too (the demo); Django's technical pages
only when DEBUG_TECHNICAL_PAGES asks for them."""

from __future__ import annotations

import pytest
from django.test import Client
from django.urls import path

from portal.urls import urlpatterns as portal_urlpatterns

pytestmark = pytest.mark.django_db


def _boom(request):
    raise RuntimeError("kaboom")


urlpatterns = [path("boom/", _boom), *portal_urlpatterns]


@pytest.fixture
def debug(settings):
    settings.DEBUG = True
    settings.DEBUG_TECHNICAL_PAGES = False
    return settings


def test_an_unknown_page_is_the_house_404_with_debug_on(debug):
    response = Client().get("/no-such-page/")
    assert response.status_code == 404
    body = response.content.decode()
    assert "There is no such page, or you may not see it." in body
    assert "URLconf" not in body


def test_a_view_error_is_the_house_500_with_debug_on(debug, settings):
    settings.ROOT_URLCONF = __name__
    response = Client(raise_request_exception=False).get("/boom/")
    assert response.status_code == 500
    body = response.content.decode()
    assert "Something went wrong" in body
    assert "kaboom" not in body


def test_technical_pages_only_when_asked(debug):
    debug.DEBUG_TECHNICAL_PAGES = True
    response = Client().get("/no-such-page/")
    assert response.status_code == 404
    assert "URLconf" in response.content.decode()


def test_an_api_404_keeps_its_problem_body(debug, partner_admin):
    from tests.api_helpers import token_for

    response = Client().get(
        "/api/v1/grants/999999/", HTTP_AUTHORIZATION=f"Bearer {token_for(partner_admin)}"
    )
    assert response.status_code == 404
    assert response["Content-Type"].startswith("application/problem+json")
