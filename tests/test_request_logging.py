"""Expected refusals log one line each, without a traceback; server errors keep theirs."""

from __future__ import annotations

import logging

import pytest
from django.urls import reverse

from tests.conftest import client_for

pytestmark = pytest.mark.django_db


def _request_records(caplog) -> list[logging.LogRecord]:
    return [r for r in caplog.records if r.name == "django.request"]


def test_a_refused_page_logs_one_line_without_a_traceback(outsider, caplog):
    with caplog.at_level(logging.WARNING, logger="django.request"):
        response = client_for(outsider).get(reverse("usage:alerts"))

    assert response.status_code == 403
    (record,) = _request_records(caplog)
    assert record.getMessage() == "Forbidden (Permission denied): /usage/alerts/"
    assert record.exc_info is None
    assert record.exc_text is None


def test_a_missing_page_logs_one_line_without_a_traceback(outsider, caplog):
    with caplog.at_level(logging.WARNING, logger="django.request"):
        response = client_for(outsider).get("/no-such-page/")

    assert response.status_code == 404
    (record,) = _request_records(caplog)
    assert record.getMessage() == "Not Found: /no-such-page/"
    assert record.exc_info is None


def test_django_records_reach_one_handler_only():
    # Django's default console handler on the "django" logger would print each record twice.
    assert logging.getLogger("django").handlers == []
    assert logging.getLogger("django").propagate is True
