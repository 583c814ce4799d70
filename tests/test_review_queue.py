"""The review queue: who sees it, what it filters and sorts, and that its cost does not
grow with its length. Permission tests for every review view."""

from __future__ import annotations

import pytest
from django.db import connection
from django.db.models import Count
from django.test.utils import CaptureQueriesContext

from portal.accounts.roles import Role
from portal.applications.states import ApplicationState
from portal.partners.models import Sector
from portal.reviews.models import Review
from portal.reviews.rules import default_terms
from portal.reviews.selectors import queue_base
from portal.reviews.services import review_approve, review_claim
from tests.conftest import client_for
from tests.factories import OrganisationFactory, PersonFactory, StageFactory, staff_user
from tests.reviewing import queued_application

S = ApplicationState
pytestmark = pytest.mark.django_db


def _queue(user, query=""):
    response = client_for(user).get(f"/reviews/{query}")
    assert response.status_code == 200
    return response.content.decode()


# --- Who may see it ---------------------------------------------------------------------


def test_anonymous_visitors_are_sent_to_sign_in():
    response = client_for(None).get("/reviews/")
    assert response.status_code == 302
    assert "/accounts/login/" in response["Location"]


@pytest.mark.parametrize("persona", ["outsider", "partner_admin", "partner_member", "ops_user"])
def test_partners_and_other_staff_may_not_see_the_queue(request, persona):
    user = request.getfixturevalue(persona)
    assert client_for(user).get("/reviews/").status_code == 403


def test_staff_without_mfa_are_sent_to_set_it_up(staff_without_mfa):
    response = client_for(staff_without_mfa).get("/reviews/")
    assert response.status_code == 302
    assert response["Location"].endswith("/accounts/2fa/")


@pytest.mark.parametrize("persona", ["reviewer", "compliance_officer", "auditor"])
def test_reviewers_compliance_and_auditors_see_the_queue(request, persona, organisation):
    application = queued_application(organisation)
    assert f"#{application.pk}" in _queue(request.getfixturevalue(persona))


def test_read_only_staff_see_no_decision_buttons_and_cannot_decide(
    compliance_officer, organisation
):
    # given
    application = queued_application(organisation)
    client = client_for(compliance_officer)

    # then
    page = client.get(f"/reviews/{application.pk}/").content.decode()
    assert "Only reviewers can act on applications." in page
    assert client.post(f"/reviews/{application.pk}/claim/").status_code == 403


# --- Every view, every persona -----------------------------------------------------------

STAFF_POSTS = ["claim", "release", "approve", "reject", "request-information", "comments"]


@pytest.mark.parametrize("action", [*STAFF_POSTS, "reassign"])
@pytest.mark.parametrize("persona", ["outsider", "partner_admin", "partner_member"])
def test_partners_may_not_act_as_reviewers(request, organisation, persona, action):
    application = queued_application(organisation)
    user = request.getfixturevalue(persona)
    response = client_for(user).post(f"/reviews/{application.pk}/{action}/", {"body": "x"})
    assert response.status_code == 403
    application.refresh_from_db()
    assert application.state == S.IN_REVIEW


@pytest.mark.parametrize("path", ["", *[f"{a}/" for a in STAFF_POSTS], "reassign/"])
def test_anonymous_and_staff_without_mfa_cannot_reach_a_review_view(
    organisation, staff_without_mfa, path
):
    application = queued_application(organisation)
    anonymous = client_for(None).post(f"/reviews/{application.pk}/{path}")
    assert anonymous.status_code == 302 and "/accounts/login/" in anonymous["Location"]
    no_mfa = client_for(staff_without_mfa).post(f"/reviews/{application.pk}/{path}")
    assert no_mfa.status_code == 302 and no_mfa["Location"].endswith("/accounts/2fa/")


def test_the_staff_page_of_an_application_is_for_staff_only(
    organisation, partner_admin, outsider, reviewer
):
    application = queued_application(organisation)
    assert client_for(reviewer).get(f"/reviews/{application.pk}/").status_code == 200
    assert client_for(partner_admin).get(f"/reviews/{application.pk}/").status_code == 403
    assert client_for(outsider).get(f"/reviews/{application.pk}/").status_code == 403


def test_a_reviewer_cannot_reassign_but_a_senior_reviewer_can(
    organisation, reviewer, second_reviewer
):
    application = queued_application(organisation)
    senior = staff_user(Role.SENIOR_REVIEWER, username="senior")
    data = {"assignee": str(second_reviewer.pk), "reason": "Balancing the load"}

    assert client_for(reviewer).post(f"/reviews/{application.pk}/reassign/", data).status_code == (
        403
    )
    response = client_for(senior).post(f"/reviews/{application.pk}/reassign/", data)
    assert response.status_code == 302
    assert Review.objects.get(pk=application.pk).assignee == second_reviewer


def test_the_applicants_review_page_is_for_the_organisation_only(
    organisation, partner_admin, partner_member, outsider
):
    application = queued_application(organisation)
    url = f"/reviews/applications/{application.pk}/"
    assert client_for(None).get(url).status_code == 302
    assert client_for(partner_admin).get(url).status_code == 200
    assert client_for(partner_member).get(url).status_code == 200
    assert client_for(outsider).get(url).status_code == 404


def test_a_reviewer_claims_through_the_page(organisation, reviewer):
    application = queued_application(organisation)
    response = client_for(reviewer).post(f"/reviews/{application.pk}/claim/")
    assert response.status_code == 302
    assert Review.objects.get(pk=application.pk).assignee == reviewer


def test_an_approval_beyond_the_stage_shows_the_limit_and_changes_nothing(organisation, reviewer):
    # given
    application = queued_application(organisation)
    terms = default_terms(application.stage)

    # when
    response = client_for(reviewer).post(
        f"/reviews/{application.pk}/approve/",
        {
            "seen": application.updated_at.isoformat(),
            "stage": application.stage_id,
            "seats": terms.seats + 1,
            "monthly_quota": terms.monthly_quota,
            "rate_limit_per_minute": terms.rate_limit_per_minute,
            "expires_on": terms.expires_at.date().isoformat(),
        },
        follow=True,
    )

    # then
    assert f"Seats must be between 1 and the Evaluation stage&#x27;s {terms.seats}" in (
        response.content.decode()
    )
    application.refresh_from_db()
    assert application.state == S.IN_REVIEW


def test_a_decision_from_a_stale_page_is_refused(organisation, reviewer):
    application = queued_application(organisation)
    response = client_for(reviewer).post(
        f"/reviews/{application.pk}/reject/",
        {"seen": "2000-01-01T00:00:00+00:00", "reason": "No."},
        follow=True,
    )
    assert "changed in the meantime" in response.content.decode()
    application.refresh_from_db()
    assert application.state == S.IN_REVIEW


# --- What it shows --------------------------------------------------------------------


def test_the_queue_lists_open_applications_only(organisation, reviewer):
    waiting = queued_application(organisation)
    closed = queued_application(organisation, state=S.REJECTED)
    draft = queued_application(organisation, state=S.DRAFT)
    page = _queue(reviewer)
    assert f"#{waiting.pk}<" in page
    assert f"#{closed.pk}<" not in page
    assert f"#{draft.pk}<" not in page


def test_overdue_applications_are_marked_against_the_deadline(organisation, reviewer, settings):
    # given
    settings.REVIEW_DEADLINE_DAYS = 3
    late = queued_application(organisation, submitted_days_ago=4)
    fresh = queued_application(organisation, submitted_days_ago=1)
    waiting_on_applicant = queued_application(
        organisation, submitted_days_ago=9, state=S.INFO_REQUESTED
    )

    # when
    page = _queue(reviewer, "?age=overdue")

    # then
    assert f"#{late.pk}<" in page
    assert f"#{fresh.pk}<" not in page
    assert f"#{waiting_on_applicant.pk}<" not in page
    assert "Overdue" in page
    assert "Review deadline: 3 days" in page


def test_the_queue_filters_by_model_stage_state_sector_country_and_assignee(reviewer):
    # given
    energy = OrganisationFactory(sector=Sector.ENERGY, country="GB", legal_name="Grid Co")
    cyber = OrganisationFactory(sector=Sector.CYBER_DEFENCE, country="US")
    limited = StageFactory(name="limited", position=2)
    a = queued_application(energy, stage=limited)
    b = queued_application(cyber, state=S.SCREENING)
    review_claim(actor=reviewer, application=b)

    # then
    def listed(query):
        page = _queue(reviewer, query)
        return {pk for pk in (a.pk, b.pk) if f"#{pk}<" in page}

    assert listed(f"?model={limited.covered_model.slug}") == {a.pk}
    assert listed("?stage=limited") == {a.pk}
    assert listed("?state=screening") == {b.pk}
    assert listed("?sector=energy") == {a.pk}
    assert listed("?country=GB") == {a.pk}
    assert listed("?assignee=me") == {b.pk}
    assert listed("?assignee=none") == {a.pk}
    assert listed(f"?assignee={reviewer.pk}") == {b.pk}
    assert listed("?q=grid") == {a.pk}


def test_the_queue_searches_by_nominated_person(organisation, reviewer):
    application = queued_application(organisation)
    PersonFactory(organisation=organisation, legal_name="Zed Unlisted")
    person = application.nominees.get()
    person.legal_name = "Ada Lovelace"
    person.save(update_fields=["legal_name"])
    other = queued_application(OrganisationFactory())

    page = _queue(reviewer, "?q=lovelace")
    assert f"#{application.pk}<" in page
    assert f"#{other.pk}<" not in page


def test_the_queue_sorts_oldest_or_newest_first(organisation, reviewer):
    old = queued_application(organisation, submitted_days_ago=2)
    new = queued_application(organisation, submitted_days_ago=0)
    oldest = _queue(reviewer)
    newest = _queue(reviewer, "?sort=newest")
    assert oldest.index(f"#{old.pk}<") < oldest.index(f"#{new.pk}<")
    assert newest.index(f"#{new.pk}<") < newest.index(f"#{old.pk}<")


def test_the_queue_counts_applications_per_state(organisation, reviewer, second_reviewer):
    queued_application(organisation)
    queued_application(organisation)
    queued_application(organisation, state=S.INFO_REQUESTED)
    four_eyes = queued_application(organisation, four_eyes=True)
    review_approve(
        actor=second_reviewer, application=four_eyes, terms=default_terms(four_eyes.stage)
    )

    page = _queue(reviewer)

    assert "In review <strong>3</strong>" in page
    assert "Information requested <strong>1</strong>" in page
    assert "Awaiting second approval <strong>1</strong>" in page
    assert "All open <strong>4</strong>" in page


def test_the_queue_is_paginated(organisation, reviewer):
    for _ in range(26):
        queued_application(organisation)
    assert "Page 1 of 2" in _queue(reviewer)
    assert "Page 2 of 2" in _queue(reviewer, "?page=2")


def test_a_filtered_queue_pages_by_the_length_of_its_own_list(organisation, reviewer):
    for _ in range(26):
        queued_application(organisation)
    waiting = queued_application(organisation, state=S.INFO_REQUESTED)

    page = _queue(reviewer, "?state=info_requested")

    assert "Page 1 of 2" not in page
    assert f"#{waiting.pk}<" in page
    assert "Page 1 of 2" in _queue(reviewer, "?state=in_review")
    assert "Page 2 of 2" in _queue(reviewer, "?state=in_review&page=2")
    assert "Page 2 of 2" not in _queue(reviewer, "?state=awaiting_second&page=2")


def test_a_state_past_the_count_cap_is_shown_as_at_least_the_cap(
    organisation, reviewer, monkeypatch
):
    # given: more applications in review than the queue counts
    monkeypatch.setattr("portal.reviews.selectors.QUEUE_COUNT_CAP", 2)
    for _ in range(3):
        queued_application(organisation)
    queued_application(organisation, state=S.INFO_REQUESTED)

    # when
    page = _queue(reviewer)

    # then: the capped state and the total say "at least", the other state is exact
    assert "In review <strong>2+</strong>" in page
    assert "Information requested <strong>1</strong>" in page
    assert "All open <strong>3+</strong>" in page


def test_the_pages_go_on_past_a_capped_count(organisation, reviewer, monkeypatch):
    # given: 60 applications in review, counted up to 30 (two pages of 25 and one of 10)
    monkeypatch.setattr("portal.reviews.selectors.QUEUE_COUNT_CAP", 30)
    applications = [queued_application(organisation) for _ in range(60)]

    # when
    second = _queue(reviewer, "?state=in_review&page=2")
    third = _queue(reviewer, "?state=in_review&page=3")
    beyond = _queue(reviewer, "?state=in_review&page=9")
    absurd = _queue(reviewer, "?state=in_review&page=99999999999999999999")

    # then: page 3 is reachable and, the last, knows the length; a page past the rows shows
    # the last page within the count
    assert "Page 2 of 3+ (51+ in all)" in second
    assert 'rel="next"' in second
    assert "Page 3 of 3 (60 in all)" in third
    assert 'rel="next"' not in third
    assert f"#{applications[-1].pk}<" in third
    assert "Page 2 of 3+" in beyond
    assert "Page 2 of 3+" in absurd


# --- Cost ------------------------------------------------------------------------------


def _fill(count):
    organisation = OrganisationFactory()
    stage = StageFactory()
    four_eyes = StageFactory(covered_model__four_eyes=True)
    for index in range(count):
        queued_application(
            organisation,
            stage=four_eyes if index % 3 == 0 else stage,
            nominees=2,
            submitted_days_ago=index % 9,
        )


def _queries_for_queue(user):
    client = client_for(user)
    client.get("/reviews/")  # warm the session and caches
    with CaptureQueriesContext(connection) as queries:
        response = client.get("/reviews/?sort=organisation")
    assert response.status_code == 200
    return len(queries)


def test_the_queue_costs_the_same_queries_for_3_or_40_applications(
    reviewer, second_reviewer, django_assert_max_num_queries
):
    # given
    _fill(3)
    few = _queries_for_queue(reviewer)
    _fill(36)
    claimed = queued_application(OrganisationFactory())
    review_claim(actor=second_reviewer, application=claimed)

    # when
    many = _queries_for_queue(reviewer)

    # then
    assert many == few
    client = client_for(reviewer)
    client.get("/reviews/")
    with django_assert_max_num_queries(few):
        client.get("/reviews/?sort=organisation&state=in_review")


def test_the_queue_counts_its_applications_once(reviewer):
    _fill(3)
    client = client_for(reviewer)
    client.get("/reviews/")

    with CaptureQueriesContext(connection) as queries:
        client.get("/reviews/")

    # The counts per state give the paginator its length: no COUNT of the whole queue.
    whole = 'SELECT COUNT(*) AS "__count" FROM "applications_application"'
    assert not [q["sql"] for q in queries if q["sql"].startswith(whole)]
    assert any("GROUP BY" in q["sql"] and "COUNT(" in q["sql"] for q in queries)


@pytest.mark.skipif(connection.vendor != "postgresql", reason="PostgreSQL plans")
def test_the_counts_per_state_can_be_read_from_an_index_alone(reviewer):
    _fill(3)
    counts = queue_base(reviewer).order_by().values("state").annotate(n=Count("*"))
    with connection.cursor() as cursor:
        # Tiny tables are cheaper to scan: ask whether the index can answer at all.
        cursor.execute("SET LOCAL enable_seqscan = off")
        cursor.execute("SET LOCAL enable_bitmapscan = off")

    plan = counts.explain()

    assert "Index Only Scan using application_queue_count" in plan


def test_the_age_shown_is_the_time_since_submission(organisation, reviewer):
    queued_application(organisation, submitted_days_ago=2.5)
    assert "2 days" in _queue(reviewer)


# --- The staff application page ----------------------------------------------------------


def test_the_staff_page_shows_the_evidence_the_history_and_earlier_grants(
    organisation, reviewer, second_reviewer
):
    from django.utils import timezone

    from portal.screening.models import ListEntry, ListVersion, ScreeningMatch, ScreeningRun

    # given: an earlier approved application with its grant
    earlier = queued_application(organisation)
    grant = review_approve(
        actor=second_reviewer, application=earlier, terms=default_terms(earlier.stage)
    ).grant
    # and a current application whose nominee matched a list entry
    application = queued_application(organisation)
    application.eligibility_snapshot = {
        "evaluated_at": "2026-11-01T10:00:00+00:00",
        "rule": {"kind": "open", "source": "default rule"},
        "outcome": "pass",
        "people": [
            {
                "person_id": application.nominees.get().pk,
                "outcome": "needs_review",
                "checks": [
                    {"code": "screening", "outcome": "needs_review", "message": "Not run yet."}
                ],
            }
        ],
    }
    application.save(update_fields=["eligibility_snapshot"])
    person = application.nominees.get()
    version = ListVersion.objects.create(
        list_format="csl", file_name="csl.csv", sha256="0" * 64, loaded_at=timezone.now()
    )
    entry = ListEntry.objects.create(
        version=version,
        source_list="Entity List",
        entity_id="E-42",
        entry_type="individual",
        primary_name="Ivan Listed",
        content_hash="1" * 64,
    )
    run = ScreeningRun.objects.create(
        person=person, threshold=0.85, created_at=timezone.now(), state_before="", state_after=""
    )
    ScreeningMatch.objects.create(
        run=run,
        person=person,
        entry=entry,
        matched_alias="Ivan Listed",
        alias_kind="primary",
        score=0.91,
    )

    # when
    page = client_for(reviewer).get(f"/reviews/{application.pk}/").content.decode()

    # then
    assert "Organisation verified" in page  # live checks, as words
    assert "Not run yet." in page  # the submission snapshot
    assert "Ivan Listed" in page and "E-42" in page and "0.91" in page
    assert f"#{earlier.pk}</a>" in page  # earlier applications
    assert f"#{grant.pk}</td>" in page  # the organisation's grants
    assert "Application approved" in page  # the organisation's history, in words
    assert "application.approved" not in page
    assert "Northwind Cyber" in page
