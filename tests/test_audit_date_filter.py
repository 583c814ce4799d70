"""The explorer's date filter read as an id range, and the events stamped out of time order."""

from __future__ import annotations

import datetime as dt
from unittest import mock

import pytest
from django.db import connection
from django.test.utils import CaptureQueriesContext
from django.urls import reverse

from foundation.audit.models import AuditEvent, AuditOutOfOrder
from foundation.audit.services import audit_record
from portal.audit.selectors import AuditFilter, audit_events, audit_page
from tests.conftest import client_for

pytestmark = pytest.mark.django_db

EXPLORER = reverse("audit:explorer")


def _at(year: int, month: int, day: int, action: str = "test.event") -> AuditEvent:
    moment = dt.datetime(year, month, day, 12, 0, tzinfo=dt.UTC)
    with mock.patch("foundation.audit.services.timezone.now", return_value=moment):
        return audit_record(actor=None, action=action)


def _shown_ids(response) -> list[int]:
    return [row["event"].pk for row in response.context["rows"]]


def _between(start: dt.date | None, end: dt.date | None) -> list[int]:
    page = audit_page(
        audit_events(AuditEvent.objects.all(), AuditFilter(date_from=start, date_to=end))
    )
    return [event.pk for event in page.events]


def test_only_an_event_stamped_before_an_earlier_one_is_named():
    # given: a clock that stepped back between the second and the third event
    first = _at(2030, 3, 10)
    second = _at(2030, 3, 12)
    stepped_back = _at(2030, 3, 11)
    after = _at(2030, 3, 13)
    same_stamp = _at(2030, 3, 13)

    # then
    named = set(AuditOutOfOrder.objects.values_list("event_id", flat=True))
    assert stepped_back.pk in named
    assert not named & {first.pk, second.pk, after.pk, same_stamp.pk}


def test_a_clock_far_behind_the_latest_stamp_is_logged(caplog):
    # given: one writer stamped an event a day ahead; a second writer's clock is right
    _at(2030, 3, 12)

    # when: the right clock writes a second later and a day behind
    with caplog.at_level("WARNING", logger="foundation.audit.services"):
        _at(2030, 3, 11)

    # then: the skew is in the logs, with what to check
    assert "a server clock is off" in caplog.text
    assert "1 day" in caplog.text


def test_an_event_stamped_out_of_order_is_still_found_by_its_date(auditor):
    # given: ids in chain order, stamps not
    tenth = _at(2030, 3, 10)
    twelfth = _at(2030, 3, 12)
    eleventh = _at(2030, 3, 11)  # written after the 12th: a clock stepped back
    fourteenth = _at(2030, 3, 14)
    client = client_for(auditor)

    # when
    only_eleventh = client.get(EXPLORER, {"date_from": "2030-03-11", "date_to": "2030-03-11"})
    tenth_to_twelfth = client.get(EXPLORER, {"date_from": "2030-03-10", "date_to": "2030-03-12"})
    from_eleventh = client.get(EXPLORER, {"date_from": "2030-03-11"})

    # then
    assert _shown_ids(only_eleventh) == [eleventh.pk]
    assert _shown_ids(tenth_to_twelfth) == [eleventh.pk, twelfth.pk, tenth.pk]
    assert [pk for pk in _shown_ids(from_eleventh) if pk <= fourteenth.pk] == [
        fourteenth.pk,
        eleventh.pk,
        twelfth.pk,
    ]


def test_a_date_filter_matches_exactly_what_the_stamps_say():
    # given: events over three months, two written with a clock behind
    days = [(2031, 1, 5), (2031, 1, 31), (2031, 2, 1), (2031, 2, 14), (2031, 2, 28)]
    days += [(2031, 1, 20), (2031, 3, 1), (2031, 2, 10), (2031, 3, 15)]
    events = [_at(*day) for day in days]

    # when / then: every range gives the events whose stamp falls in it, newest id first
    for start, end in [
        (dt.date(2031, 1, 1), dt.date(2031, 1, 31)),
        (dt.date(2031, 2, 1), dt.date(2031, 2, 28)),
        (dt.date(2031, 2, 11), dt.date(2031, 2, 27)),
        (dt.date(2031, 3, 2), dt.date(2031, 3, 31)),
        (None, dt.date(2031, 1, 31)),
        (dt.date(2031, 2, 15), None),
    ]:
        expected = [
            e.pk
            for e in reversed(events)
            if (start is None or e.created_at.date() >= start)
            and (end is None or e.created_at.date() <= end)
        ]
        shown = [pk for pk in _between(start, end) if pk in {e.pk for e in events}]
        assert shown == expected, (start, end)


def test_a_range_without_events_is_an_empty_page():
    _at(2032, 5, 1)

    assert _between(dt.date(2032, 6, 1), dt.date(2032, 6, 30)) == []
    assert _between(dt.date(2040, 1, 1), None) == []


def test_a_date_filter_costs_the_same_queries_whatever_the_span(auditor):
    # given
    for day in range(1, 29):
        _at(2033, 7, day)
    client = client_for(auditor)
    client.get(EXPLORER, {"date_from": "2033-07-01", "date_to": "2033-07-02"})  # warm up

    # when
    with CaptureQueriesContext(connection) as narrow:
        client.get(EXPLORER, {"date_from": "2033-07-01", "date_to": "2033-07-02"})
    with CaptureQueriesContext(connection) as wide:
        client.get(EXPLORER, {"date_from": "2033-07-01", "date_to": "2033-07-28"})

    # then
    assert len(narrow) == len(wide)


@pytest.mark.skipif(connection.vendor != "postgresql", reason="PostgreSQL's trigger")
def test_the_out_of_order_names_are_append_only_on_postgresql():
    from django.db import DatabaseError, transaction

    _at(2034, 1, 2)
    named = _at(2034, 1, 1)

    with pytest.raises(DatabaseError), transaction.atomic():
        AuditOutOfOrder.objects.filter(event_id=named.pk).delete()
