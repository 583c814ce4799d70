"""The audit explorer: who may read it, each filter, keyset pages, one event's page."""

from __future__ import annotations

import datetime as dt
from unittest import mock

import pytest
from django.db import connection
from django.test.utils import CaptureQueriesContext
from django.urls import reverse

from foundation.audit.models import AuditEvent
from foundation.audit.services import audit_record
from portal.accounts.roles import Role
from portal.audit import links
from portal.audit.selectors import AuditFilter, audit_events, audit_page
from tests.conftest import client_for
from tests.factories import CoveredModelFactory, StageFactory, staff_user

pytestmark = pytest.mark.django_db

EXPLORER = reverse("audit:explorer")


def _events(n: int, **fields) -> list[AuditEvent]:
    fields.setdefault("action", "test.event")
    actor = fields.pop("actor", None)
    return [audit_record(actor=actor, reason=f"event {i}", **fields) for i in range(n)]


def _at(moment: dt.datetime, **fields) -> AuditEvent:
    with mock.patch("foundation.audit.services.timezone.now", return_value=moment):
        return audit_record(actor=None, **fields)


def _shown_ids(response) -> list[int]:
    return [row["event"].pk for row in response.context["rows"]]


# --- who may read --------------------------------------------------------------


def test_anonymous_is_sent_to_sign_in(client):
    response = client.get(EXPLORER)

    assert response.status_code == 302
    assert reverse("account_login") in response["Location"]


@pytest.mark.parametrize("persona", ["outsider", "partner_admin", "partner_member", "reviewer"])
def test_people_without_audit_access_are_refused(request, persona):
    response = client_for(request.getfixturevalue(persona)).get(EXPLORER)

    assert response.status_code == 403


@pytest.mark.parametrize("persona", ["compliance_officer", "auditor", "ops_user", "superuser"])
def test_compliance_auditors_and_ops_read_the_trail(request, persona):
    # given
    _events(2, action="organisation.registered")

    # when
    response = client_for(request.getfixturevalue(persona)).get(EXPLORER)

    # then
    assert response.status_code == 200
    assert b"organisation.registered" in response.content
    assert b"<caption>" in response.content


def test_staff_without_mfa_are_sent_to_set_it_up(staff_without_mfa):
    response = client_for(staff_without_mfa).get(EXPLORER)

    assert response.status_code == 302
    assert response["Location"] == reverse("mfa_index")


def test_an_auditor_without_mfa_is_sent_to_set_it_up_too(db):
    auditor = staff_user(Role.AUDITOR, mfa=False, username="auditor-no-mfa")

    response = client_for(auditor).get(EXPLORER)

    assert response.status_code == 302
    assert response["Location"] == reverse("mfa_index")


def test_the_explorer_is_in_the_navigation_of_its_readers(auditor, reviewer):
    assert EXPLORER.encode() in client_for(auditor).get(reverse("home")).content
    assert EXPLORER.encode() not in client_for(reviewer).get(reverse("home")).content


# --- filters ---------------------------------------------------------------------


def test_it_filters_by_actor(auditor, compliance_officer):
    # given
    mine = _events(2, actor=compliance_officer)
    _events(3)

    # when
    response = client_for(auditor).get(EXPLORER, {"actor": "compliance"})

    # then
    assert sorted(_shown_ids(response)) == [e.pk for e in mine]


def test_it_filters_by_exact_action_or_by_prefix(auditor):
    registered = _events(1, action="organisation.registered")
    trusted = _events(1, action="organisation.trusted_changed")
    _events(1, action="membership.added")
    client = client_for(auditor)

    exact = client.get(EXPLORER, {"action": "organisation.registered"})
    prefix = client.get(EXPLORER, {"action": "organisation."})
    star = client.get(EXPLORER, {"action": "organisation.t*"})

    assert _shown_ids(exact) == [registered[0].pk]
    assert _shown_ids(prefix) == [trusted[0].pk, registered[0].pk]
    assert _shown_ids(star) == [trusted[0].pk]


def test_the_action_field_suggests_every_recorded_action(auditor):
    _events(2, action="person.created")
    _events(1, action="membership.added")

    response = client_for(auditor).get(EXPLORER)

    assert response.context["actions"] == ["membership.added", "person.created"]
    assert b'<option value="person.created">' in response.content


def test_it_filters_by_object_type_and_id(auditor):
    target = _events(1, object_type="partners.organisation", object_id="7")
    _events(1, object_type="partners.organisation", object_id="8")
    _events(1, object_type="eligibility.person", object_id="7")

    response = client_for(auditor).get(
        EXPLORER, {"object_type": "partners.organisation", "object_id": "7"}
    )

    assert _shown_ids(response) == [target[0].pk]


def test_it_filters_by_organisation_slug(auditor, organisation, other_organisation):
    ours = _events(2, organisation_id=organisation.pk)
    _events(2, organisation_id=other_organisation.pk)

    response = client_for(auditor).get(EXPLORER, {"organisation": "northwind"})

    assert sorted(_shown_ids(response)) == [e.pk for e in ours]
    assert b"Northwind Cyber" in response.content


def test_an_unknown_organisation_gets_a_clear_message(auditor):
    _events(1)

    response = client_for(auditor).get(EXPLORER, {"organisation": "nobody"})

    assert response.status_code == 200
    assert response.context["rows"] == []
    assert "No organisation has the slug “nobody”" in response.content.decode()


def test_it_filters_by_covered_model_through_its_object_stages_and_payloads(auditor):
    # given
    model = CoveredModelFactory(slug="frontier-1")
    StageFactory(covered_model=CoveredModelFactory(slug="frontier-10"))
    stage = StageFactory(covered_model=model)
    expected = [
        audit_record(actor=None, action="covered_model.created", obj=model),
        audit_record(actor=None, action="stage.changed", obj=stage),
        audit_record(actor=None, action="grant.suspended", after={"model": "frontier-1"}),
        audit_record(actor=None, action="grant.restored", before={"covered_model": "frontier-1"}),
        audit_record(actor=None, action="bulk.planned", after={"models": ["x", "frontier-1"]}),
    ]
    # Near misses: another model whose slug starts the same way.
    audit_record(actor=None, action="grant.suspended", after={"model": "frontier-10"})
    audit_record(actor=None, action="bulk.planned", after={"models": ["frontier-10"]})
    audit_record(actor=None, action="covered_model.created", obj=CoveredModelFactory())

    # when
    response = client_for(auditor).get(EXPLORER, {"model": "frontier-1"})

    # then
    assert sorted(_shown_ids(response)) == sorted(e.pk for e in expected)


def test_an_unknown_model_gets_a_clear_message(auditor):
    response = client_for(auditor).get(EXPLORER, {"model": "no-such-model"})

    assert "No covered model has the slug “no-such-model”" in response.content.decode()


def test_date_range_is_inclusive_in_the_site_time_zone(auditor, settings):
    # given: 23:30 on the 9th in New York is 03:30 on the 10th in UTC
    settings.TIME_ZONE = "America/New_York"
    late_on_ninth = _at(dt.datetime(2026, 3, 10, 3, 30, tzinfo=dt.UTC), action="a")
    early_on_tenth = _at(dt.datetime(2026, 3, 10, 5, 0, tzinfo=dt.UTC), action="b")
    _at(dt.datetime(2026, 3, 12, 5, 0, tzinfo=dt.UTC), action="c")
    client = client_for(auditor)

    # when
    ninth = client.get(EXPLORER, {"date_from": "2026-03-09", "date_to": "2026-03-09"})
    ninth_to_tenth = client.get(EXPLORER, {"date_from": "2026-03-09", "date_to": "2026-03-10"})

    # then
    assert _shown_ids(ninth) == [late_on_ninth.pk]
    assert _shown_ids(ninth_to_tenth) == [early_on_tenth.pk, late_on_ninth.pk]


def test_an_end_date_before_the_start_date_is_refused_with_a_message(auditor):
    response = client_for(auditor).get(
        EXPLORER, {"date_from": "2026-03-10", "date_to": "2026-03-09"}
    )

    assert response.context["page"] is None
    assert b"The end date is before the start date." in response.content


def test_full_text_searches_the_reasons(auditor):
    hit = audit_record(actor=None, action="person.held", reason="Held after a screening hit")
    audit_record(actor=None, action="key.rotated", reason="Routine rotation of keys")

    response = client_for(auditor).get(EXPLORER, {"q": "screening"})

    assert _shown_ids(response) == [hit.pk]


def test_filters_combine(auditor, organisation, compliance_officer):
    target = audit_record(
        actor=compliance_officer,
        action="organisation.trusted_changed",
        organisation_id=organisation.pk,
        reason="Trusted after due diligence",
    )
    audit_record(actor=None, action="organisation.trusted_changed", organisation_id=organisation.pk)
    audit_record(actor=compliance_officer, action="organisation.registered")

    response = client_for(auditor).get(
        EXPLORER,
        {"actor": "compliance", "action": "organisation.", "organisation": "northwind", "q": "due"},
    )

    assert _shown_ids(response) == [target.pk]


# --- keyset pages ----------------------------------------------------------------


def test_pages_go_older_and_newer_by_keyset_without_overlap(auditor):
    # given: exactly two pages
    events = _events(100)
    newest_first = [e.pk for e in reversed(events)]
    client = client_for(auditor)

    # when
    first = client.get(EXPLORER)
    second = client.get(EXPLORER + first.context["older_url"])
    back = client.get(EXPLORER + second.context["newer_url"])

    # then
    assert _shown_ids(first) == newest_first[:50]
    assert first.context["newer_url"] is None
    assert first.context["older_url"] == f"?before={newest_first[49]}"
    assert _shown_ids(second) == newest_first[50:]
    assert second.context["older_url"] is None
    assert _shown_ids(back) == newest_first[:50]
    assert back.context["newer_url"] is None
    assert back.context["older_url"] is not None


def test_page_links_keep_the_filters(auditor):
    _events(60, action="kept.action")
    _events(5, action="other.action")

    first = client_for(auditor).get(EXPLORER, {"action": "kept.action"})
    second = client_for(auditor).get(EXPLORER + first.context["older_url"])

    assert "action=kept.action" in first.context["older_url"]
    assert len(_shown_ids(second)) == 10
    assert {row["event"].action for row in second.context["rows"]} == {"kept.action"}


def test_a_page_past_the_end_is_empty_and_offers_the_way_back(auditor):
    events = _events(3)

    response = client_for(auditor).get(EXPLORER, {"before": events[0].pk})

    assert response.context["rows"] == []
    assert b"No event matches these filters." in response.content
    assert response.context["older_url"] is None
    assert response.context["newer_url"] == "?"


def test_the_selector_pages_by_id_without_offset_or_count():
    events = _events(7)
    queryset = audit_events(AuditEvent.objects.all(), AuditFilter())

    with CaptureQueriesContext(connection) as queries:
        page = audit_page(queryset, before=events[4].pk, size=2)

    sql = " ".join(q["sql"].upper() for q in queries.captured_queries)
    assert [e.pk for e in page.events] == [events[3].pk, events[2].pk]
    assert "OFFSET" not in sql
    assert "COUNT(" not in sql
    assert page.has_newer and page.has_older


def test_a_malformed_cursor_is_refused(auditor):
    response = client_for(auditor).get(EXPLORER, {"before": "abc"})

    assert response.context["page"] is None


def test_the_query_count_does_not_grow_with_the_rows(
    auditor, organisation, django_assert_max_num_queries
):
    # given
    _events(5, organisation_id=organisation.pk, action="a.b")
    client = client_for(auditor)
    client.get(EXPLORER)  # session and permission caches warm
    with CaptureQueriesContext(connection) as few:
        client.get(EXPLORER, {"before": 10**9})

    # when
    _events(55, organisation_id=organisation.pk, action="c.d")
    with django_assert_max_num_queries(len(few)), CaptureQueriesContext(connection) as many:
        response = client.get(EXPLORER, {"before": 10**9})

    # then
    assert len(_shown_ids(response)) == 50
    assert len(many) == len(few)


def test_htmx_requests_get_only_the_rows(auditor):
    _events(1)

    response = client_for(auditor).get(EXPLORER, HTTP_HX_REQUEST="true")

    assert b"<h1>" not in response.content
    assert b"<table" in response.content


# --- one event -------------------------------------------------------------------


def test_an_event_page_shows_before_after_with_changed_keys_marked(auditor):
    # given
    event = audit_record(
        actor=None,
        action="organisation.verification_changed",
        object_type="partners.organisation",
        object_id="4",
        before={"verification_state": "unverified", "sector": "energy"},
        after={"verification_state": "verified", "sector": "energy", "note": "checked"},
        reason="Registry extract matches",
    )

    # when
    response = client_for(auditor).get(reverse("audit:event", args=[event.pk]))

    # then
    content = response.content.decode()
    assert response.status_code == 200
    statuses = {line.key: line.status for line in response.context["lines"]}
    assert statuses == {"note": "added", "sector": "same", "verification_state": "changed"}
    assert 'class="audit-diff__changed"' in content
    assert "&quot;verification_state&quot;: &quot;verified&quot;" in content
    assert response.context["hash_ok"] is True


def test_an_event_links_to_its_object_only_where_a_page_exists(auditor, monkeypatch):
    # given: one type whose page exists, one whose page is not installed yet
    monkeypatch.setitem(links.OBJECT_URL_NAMES, "test.linked", "audit:event")
    monkeypatch.setitem(links.OBJECT_URL_NAMES, "test.unlinked", "nowhere:detail")
    linked = audit_record(actor=None, action="x", object_type="test.linked", object_id="1")
    unlinked = audit_record(actor=None, action="x", object_type="test.unlinked", object_id="2")

    # when
    listing = client_for(auditor).get(EXPLORER)
    page = client_for(auditor).get(reverse("audit:event", args=[unlinked.pk]))

    # then
    rows = {row["event"].pk: row["object_url"] for row in listing.context["rows"]}
    assert rows[linked.pk] == reverse("audit:event", args=["1"])
    assert rows[unlinked.pk] is None
    assert page.status_code == 200


def test_an_event_page_links_to_the_previous_event_in_the_chain(auditor):
    first, second = _events(2)

    response = client_for(auditor).get(reverse("audit:event", args=[second.pk]))

    assert response.context["previous"].pk == first.pk


@pytest.mark.parametrize("persona", ["outsider", "partner_admin", "reviewer"])
def test_an_event_page_is_refused_to_people_without_audit_access(request, persona):
    (event,) = _events(1)

    response = client_for(request.getfixturevalue(persona)).get(
        reverse("audit:event", args=[event.pk])
    )

    assert response.status_code == 403


def test_an_event_page_sends_anonymous_to_sign_in_and_staff_without_mfa_to_set_up(
    client, staff_without_mfa
):
    (event,) = _events(1)
    url = reverse("audit:event", args=[event.pk])

    assert reverse("account_login") in client.get(url)["Location"]
    assert client_for(staff_without_mfa).get(url)["Location"] == reverse("mfa_index")


def test_a_missing_event_is_not_found(auditor):
    response = client_for(auditor).get(reverse("audit:event", args=[999999]))

    assert response.status_code == 404


def test_reason_search_pages_match_an_unbounded_walk_whatever_the_window(monkeypatch):
    # given: matches spread so that a small window next to the cursor holds only some of them
    events = [
        audit_record(actor=None, action="test.event", reason=f"{word} note {i}")
        for i, word in enumerate(["drift"] * 3 + ["quota"] * 9 + ["drift", "quota"] * 6)
    ]
    queryset = audit_events(AuditEvent.objects.all(), AuditFilter(text="drift"))
    expected = [e.pk for e in reversed(events) if e.reason.startswith("drift")]
    monkeypatch.setattr("portal.audit.selectors.SEARCH_WINDOW", 4)

    def walk(**cursor: int | None) -> tuple[list[int], bool, bool]:
        page = audit_page(queryset, size=2, searching=True, **cursor)
        return [e.pk for e in page.events], page.has_newer, page.has_older

    # when: every page going older, then every page going back newer
    older, cursor, has_older = [], None, True
    while has_older:
        ids, _, has_older = walk(before=cursor)
        older += ids
        cursor = ids[-1]
    newer, cursor, has_newer = [], expected[-1], True
    while has_newer:
        ids, has_newer, _ = walk(after=cursor)
        newer = ids + newer
        cursor = ids[0]

    # then: the same events, in the same order, as the plain walk by id
    assert older == expected
    assert newer == expected[:-1]
    assert walk()[0] == [e.pk for e in audit_page(queryset, size=2).events]
    assert walk(before=expected[0] + 1)[0] == expected[:2]


# --- pickers ---------------------------------------------------------------------


def test_the_pickers_offer_actors_actions_organisations_and_models_by_name(
    auditor, organisation, compliance_officer
):
    # given
    CoveredModelFactory(slug="fable", name="Fable")
    audit_record(actor=compliance_officer, action="grant.suspended")

    # when
    response = client_for(auditor).get(EXPLORER)

    # then
    assert response.status_code == 200
    body = response.content.decode()
    assert f'<option value="{organisation.slug}">{organisation.legal_name}</option>' in body
    assert '<option value="fable">Fable</option>' in body
    assert '<option value="grant.suspended">Grant suspended</option>' in body
    assert '<option value="grant.">Any grant event</option>' in body
    assert f'<option value="{compliance_officer.username}"></option>' in body
    assert 'list="audit-actors"' in body


def test_a_picked_organisation_and_model_stay_selected(auditor, organisation):
    CoveredModelFactory(slug="fable", name="Fable")

    response = client_for(auditor).get(
        EXPLORER, {"organisation": organisation.slug, "model": "fable"}
    )

    assert response.status_code == 200
    body = response.content.decode()
    assert f'<option value="{organisation.slug}" selected>' in body
    assert '<option value="fable" selected>Fable</option>' in body


def test_the_pickers_cost_the_same_queries_whatever_the_number_of_choices(
    auditor, django_assert_max_num_queries
):
    # given
    from tests.factories import OrganisationFactory

    OrganisationFactory.create_batch(2)
    CoveredModelFactory.create_batch(2)
    client = client_for(auditor)
    client.get(EXPLORER)  # session and permission caches warm
    with CaptureQueriesContext(connection) as few:
        first = client.get(EXPLORER)
    assert first.status_code == 200

    # when
    OrganisationFactory.create_batch(20)
    CoveredModelFactory.create_batch(10)
    for i in range(10):
        audit_record(actor=staff_user(Role.OPS), action=f"family{i}.done")
    with django_assert_max_num_queries(len(few)):
        response = client.get(EXPLORER)

    # then
    assert response.status_code == 200


def test_event_rows_name_the_object_kind_in_words(auditor, organisation):
    audit_record(actor=None, action="organisation.registered", obj=organisation)

    response = client_for(auditor).get(EXPLORER)

    assert response.status_code == 200
    assert response.context["rows"][0]["kind"] == "Organisation"
    assert b"partners.organisation #" not in response.content


@pytest.mark.parametrize("name", ["date_from", "date_to"])
def test_the_calendars_last_day_is_a_form_error_not_a_server_error(auditor, name):
    response = client_for(auditor).get(EXPLORER, {name: "9999-12-31"})

    assert response.status_code == 200
    assert "Give a date before 31 December 9999." in response.content.decode()
