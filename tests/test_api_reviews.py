"""Reviewers work the queue through the API with the same rules as on the review page:
approve (four-eyes too), reject, question, claim; every refusal is a problem and changes
nothing."""

from __future__ import annotations

import pytest

from foundation.audit.models import AuditEvent
from portal.applications.models import Application
from portal.applications.states import ApplicationState
from portal.reviews.models import Approval, Review
from provisioning.credentials.models import Credential
from provisioning.grants.models import Grant
from tests.api_helpers import api_client_for, post_json
from tests.reviewing import queued_application

S = ApplicationState
PROBLEM = "application/problem+json"
pytestmark = pytest.mark.django_db


def test_the_queue_lists_waiting_applications_with_their_version(application, reviewer):
    # when
    response = api_client_for(reviewer).get("/api/v1/reviews/")
    # then
    assert response.status_code == 200
    row = response.json()["results"][0]
    assert row["id"] == application.pk
    assert row["organisation"] == "northwind"
    assert row["state"] == S.IN_REVIEW
    assert row["version"] == application.updated_at.isoformat()


def test_the_queue_filters_by_state_and_assignee(application, reviewer):
    client = api_client_for(reviewer)
    post_json(client, f"/api/v1/reviews/{application.pk}/claim/")

    mine = client.get("/api/v1/reviews/?assignee=me").json()
    unassigned = client.get("/api/v1/reviews/?assignee=none").json()
    questioned = client.get("/api/v1/reviews/?state=info_requested").json()

    assert [r["id"] for r in mine["results"]] == [application.pk]
    assert mine["results"][0]["assignee"] == "reviewer"
    assert unassigned["count"] == 0
    assert questioned["count"] == 0


def test_approving_creates_the_grant_and_a_key_per_nominee(application, reviewer):
    # when
    response = post_json(
        api_client_for(reviewer),
        f"/api/v1/reviews/{application.pk}/approve/",
        {"seats": 3, "version": application.updated_at.isoformat()},
    )
    # then
    assert response.status_code == 200, response.json()
    body = response.json()
    assert body["final"] is True
    grant = Grant.objects.get()
    assert body["grant"] == grant.pk
    assert grant.seats == 3
    assert sorted(body["credentials"]) == sorted(Credential.objects.values_list("pk", flat=True))
    assert len(body["credentials"]) == 2
    assert body["review"]["state"] == S.APPROVED
    assert AuditEvent.objects.filter(action="application.approved", actor=reviewer).exists()


def test_a_four_eyes_model_needs_a_second_different_reviewer(
    organisation, partner_admin, reviewer, second_reviewer
):
    # given
    application = queued_application(organisation, four_eyes=True, created_by=partner_admin)
    first = post_json(api_client_for(reviewer), f"/api/v1/reviews/{application.pk}/approve/")
    assert first.status_code == 200
    assert first.json()["final"] is False
    approval_id = first.json()["approval"]["id"]

    # when: the same reviewer tries the second approval
    again = post_json(
        api_client_for(reviewer),
        f"/api/v1/reviews/{application.pk}/approve/",
        {"confirms": approval_id},
    )
    # then
    assert again.status_code == 409
    assert again["Content-Type"] == PROBLEM
    assert "second reviewer" in again.json()["detail"]
    assert not Grant.objects.exists()

    # when: a colleague confirms the first approval
    second = post_json(
        api_client_for(second_reviewer),
        f"/api/v1/reviews/{application.pk}/approve/",
        {"confirms": approval_id},
    )
    # then
    assert second.status_code == 200, second.json()
    assert second.json()["final"] is True
    assert Approval.objects.filter(application=application).count() == 2
    assert Grant.objects.count() == 1


def test_a_decision_on_a_stale_version_is_refused_and_changes_nothing(application, reviewer):
    # given: the reviewer read the application, then it changed
    seen = application.updated_at.isoformat()
    Application.objects.filter(pk=application.pk).update(
        updated_at=application.updated_at.replace(year=2030)
    )
    # when
    response = post_json(
        api_client_for(reviewer),
        f"/api/v1/reviews/{application.pk}/reject/",
        {"reason": "Not eligible.", "version": seen},
    )
    # then
    assert response.status_code == 409
    assert response.json()["type"].endswith("/stale-version")
    application.refresh_from_db()
    assert application.state == S.IN_REVIEW


def test_rejecting_needs_a_reason_and_then_tells_the_applicant(application, reviewer):
    client = api_client_for(reviewer)
    url = f"/api/v1/reviews/{application.pk}/reject/"

    missing = post_json(client, url, {})
    done = post_json(client, url, {"reason": "The use case is outside the programme."})

    assert missing.status_code == 400
    assert missing.json()["errors"] == [{"field": "reason", "message": "This field is required."}]
    assert done.status_code == 200
    assert done.json()["state"] == S.REJECTED


def test_a_question_moves_the_application_to_information_requested(application, reviewer):
    response = post_json(
        api_client_for(reviewer),
        f"/api/v1/reviews/{application.pk}/request-information/",
        {"message": "Which team will use the model?"},
    )
    assert response.status_code == 200
    assert response.json()["state"] == S.INFO_REQUESTED


def test_a_second_claim_is_a_conflict(application, reviewer, second_reviewer):
    first = post_json(api_client_for(reviewer), f"/api/v1/reviews/{application.pk}/claim/")
    second = post_json(api_client_for(second_reviewer), f"/api/v1/reviews/{application.pk}/claim/")

    assert first.status_code == 200
    assert first.json()["assignee"] == "reviewer"
    assert second.status_code == 409
    assert "claimed" in second.json()["detail"]
    assert Review.objects.get(pk=application.pk).assignee == reviewer


def test_comments_are_staff_only_notes(application, reviewer):
    response = post_json(
        api_client_for(reviewer), f"/api/v1/reviews/{application.pk}/comment/", {"body": "Checked."}
    )
    assert response.status_code == 201
    assert AuditEvent.objects.filter(action__startswith="review.comment").exists()


def test_a_reviewer_of_the_applying_organisation_may_not_decide(application, organisation):
    # given
    from portal.accounts.roles import Role
    from tests.factories import add_member, staff_user

    insider = staff_user(Role.REVIEWER, username="insider")
    add_member(organisation, insider, "member")
    # when
    response = post_json(api_client_for(insider), f"/api/v1/reviews/{application.pk}/approve/")
    # then
    assert response.status_code == 409
    assert "belong to this organisation" in response.json()["detail"]
    assert not Grant.objects.exists()


@pytest.mark.parametrize("persona", ["partner_admin", "partner_member", "outsider", "ops_user"])
def test_people_without_the_reviewer_role_are_refused(application, persona, request):
    client = api_client_for(request.getfixturevalue(persona))

    listed = client.get("/api/v1/reviews/")
    approved = post_json(client, f"/api/v1/reviews/{application.pk}/approve/")

    assert listed.status_code == 403
    assert approved.status_code == 403
    assert not Grant.objects.exists()


def test_an_auditor_reads_the_queue_but_cannot_decide(application, auditor):
    client = api_client_for(auditor)

    assert client.get(f"/api/v1/reviews/{application.pk}/").status_code == 200
    assert post_json(client, f"/api/v1/reviews/{application.pk}/approve/").status_code == 403


def test_a_read_only_token_cannot_decide(application, reviewer):
    response = post_json(
        api_client_for(reviewer, "read"), f"/api/v1/reviews/{application.pk}/claim/"
    )
    assert response.status_code == 403
    assert not Review.objects.filter(assignee=reviewer).exists()


def test_the_queue_makes_the_same_queries_whatever_its_length(
    organisation, partner_admin, reviewer
):
    from django.db import connection
    from django.test.utils import CaptureQueriesContext

    client = api_client_for(reviewer)
    queued_application(organisation, created_by=partner_admin)
    client.get("/api/v1/reviews/")  # warm the token's last-used stamp and caches
    with CaptureQueriesContext(connection) as one:
        client.get("/api/v1/reviews/")
    for _ in range(3):
        queued_application(organisation, created_by=partner_admin)
    with CaptureQueriesContext(connection) as four:
        response = client.get("/api/v1/reviews/")

    assert response.json()["count"] == 4
    assert len(four) == len(one)


def test_a_senior_reviewer_reassigns_and_a_reviewer_may_not(application, reviewer, second_reviewer):
    from portal.accounts.roles import Role
    from tests.factories import staff_user

    senior = staff_user(Role.SENIOR_REVIEWER, username="senior")
    url = f"/api/v1/reviews/{application.pk}/reassign/"

    by_reviewer = post_json(api_client_for(reviewer), url, {"assignee": "reviewer"})
    by_senior = post_json(
        api_client_for(senior), url, {"assignee": "reviewer-two", "reason": "leave"}
    )
    unknown = post_json(api_client_for(senior), url, {"assignee": "nobody"})
    back = post_json(api_client_for(senior), url, {"assignee": None})

    assert by_reviewer.status_code == 403
    assert by_senior.status_code == 200
    assert by_senior.json()["assignee"] == "reviewer-two"
    assert unknown.json()["errors"] == [
        {"field": "assignee", "message": "No reviewer has this username."}
    ]
    assert back.json()["assignee"] is None
    assert AuditEvent.objects.filter(action="review.reassigned").count() == 2


def test_the_applicants_admin_answers_a_question_through_the_api(
    application, reviewer, partner_admin, partner_member, outsider
):
    # given: a reviewer asked a question
    post_json(
        api_client_for(reviewer),
        f"/api/v1/reviews/{application.pk}/request-information/",
        {"message": "Which team will use it?"},
    )
    url = f"/api/v1/applications/{application.pk}/answer/"
    # when
    by_outsider = post_json(api_client_for(outsider), url, {"response": "Ours."})
    by_member = post_json(api_client_for(partner_member), url, {"response": "Ours."})
    empty = post_json(api_client_for(partner_admin), url, {})
    by_admin = post_json(api_client_for(partner_admin), url, {"response": "The SOC team."})
    again = post_json(api_client_for(partner_admin), url, {"response": "Again."})
    # then
    assert by_outsider.status_code == 404
    assert by_member.status_code == 403
    assert empty.status_code == 400
    assert by_admin.status_code == 200
    assert by_admin.json()["state"] == S.IN_REVIEW
    assert again.status_code == 409
    assert "no open question" in again.json()["detail"]


def test_the_queue_is_counted_up_to_the_cap_as_on_the_page_and_pages_on_past_it(
    organisation, partner_admin, reviewer, monkeypatch
):
    # given: three applications in review, counted up to two
    monkeypatch.setattr("portal.reviews.selectors.QUEUE_COUNT_CAP", 2)
    applications = [queued_application(organisation, created_by=partner_admin) for _ in range(3)]
    client = api_client_for(reviewer)

    # when
    first = client.get("/api/v1/reviews/?page_size=1").json()
    last = client.get("/api/v1/reviews/?page_size=1&page=3").json()
    whole = client.get("/api/v1/reviews/").json()

    # then: the first page says "at least 2" and links on; the last page knows the length
    assert (first["count"], first["count_is_lower_bound"]) == (2, True)
    assert first["next"] is not None
    assert [r["id"] for r in last["results"]] == [applications[-1].pk]
    assert (last["count"], last["count_is_lower_bound"], last["next"]) == (3, False, None)
    assert (whole["count"], whole["count_is_lower_bound"]) == (3, False)
    assert client.get("/api/v1/reviews/?page_size=1&page=4").status_code == 404


def test_an_exact_queue_count_is_not_a_lower_bound(application, reviewer):
    body = api_client_for(reviewer).get("/api/v1/reviews/").json()

    assert (body["count"], body["count_is_lower_bound"]) == (1, False)
