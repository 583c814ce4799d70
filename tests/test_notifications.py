"""Applicants hear about every decision and question, reviewers about new and overdue
applications; in the app and by email, sent only once the decision has committed."""

from __future__ import annotations

import pytest
from django.core import mail

from portal.applications.states import ApplicationState
from portal.notifications.models import Notification
from portal.notifications.services import Message, notification_send
from portal.partners.models import MemberRole
from portal.reviews.errors import ReviewError
from portal.reviews.reminders import reviews_notify_new, reviews_notify_overdue
from portal.reviews.rules import default_terms
from portal.reviews.services import (
    review_answer,
    review_approve,
    review_reject,
    review_request_information,
)
from tests.conftest import client_for
from tests.factories import UserFactory, add_member
from tests.reviewing import queued_application

S = ApplicationState
pytestmark = pytest.mark.django_db


@pytest.fixture
def application(organisation, partner_admin):
    creator = UserFactory(username="applicant")
    add_member(organisation, creator, MemberRole.ADMIN)
    return queued_application(organisation, created_by=creator)


def _recipients():
    return sorted(address for message in mail.outbox for address in message.to)


def test_a_rejection_emails_the_applicant_and_the_organisations_admins_after_commit(
    application, reviewer, partner_admin, django_capture_on_commit_callbacks
):
    # when
    with django_capture_on_commit_callbacks(execute=False) as callbacks:
        review_reject(actor=reviewer, application=application, reason="Out of scope.")
    assert mail.outbox == []  # nothing leaves before the decision commits
    for callback in callbacks:
        callback()

    # then
    assert _recipients() == sorted([application.created_by.email, partner_admin.email])
    assert all("Out of scope." in message.body for message in mail.outbox)
    assert all(len(message.to) == 1 for message in mail.outbox)
    assert Notification.objects.filter(
        user=partner_admin,
        verb="application.rejected",
        link=f"/reviews/applications/{application.pk}/",
    ).exists()


def test_an_approval_tells_the_applicant_and_the_nominees(
    application, reviewer, partner_admin, django_capture_on_commit_callbacks
):
    # given: the nominee has an account
    person = application.nominees.get()
    person.user = UserFactory(username="nominee")
    person.save(update_fields=["user"])

    # when
    with django_capture_on_commit_callbacks(execute=True):
        review_approve(
            actor=reviewer, application=application, terms=default_terms(application.stage)
        )

    # then
    assert {m.subject.split(":")[0] for m in mail.outbox} >= {"Approved"}
    assert Notification.objects.filter(user=partner_admin, verb="application.approved").exists()
    assert Notification.objects.filter(user=person.user, verb="credential.ready").exists()
    # The key itself never travels by email.
    assert not any("ck_" in m.body for m in mail.outbox)


def test_a_question_reaches_the_applicant_and_the_answer_reaches_the_assignee(
    application, reviewer, partner_admin, django_capture_on_commit_callbacks
):
    from portal.reviews.services import review_claim

    # given
    review_claim(actor=reviewer, application=application)

    # when
    with django_capture_on_commit_callbacks(execute=True):
        review_request_information(actor=reviewer, application=application, message="Why?")
    application.refresh_from_db()
    with django_capture_on_commit_callbacks(execute=True):
        review_answer(actor=partner_admin, application=application, response="Because.")

    # then
    assert "Why?" in mail.outbox[0].body
    assert Notification.objects.filter(
        user=partner_admin, verb="application.information_requested"
    ).exists()
    assert Notification.objects.filter(
        user=reviewer, verb="application.information_provided"
    ).exists()


def test_a_failed_decision_sends_nothing(application, reviewer, django_capture_on_commit_callbacks):
    with django_capture_on_commit_callbacks(execute=True), pytest.raises(ReviewError):
        review_reject(actor=reviewer, application=application, reason="")
    assert mail.outbox == []
    assert not Notification.objects.exists()


def test_reviewers_hear_once_about_a_new_application_but_not_those_of_their_own_organisation(
    application, reviewer, second_reviewer, django_capture_on_commit_callbacks
):
    # given: the second reviewer belongs to the applicant organisation
    add_member(application.organisation, second_reviewer, MemberRole.MEMBER)

    # when
    with django_capture_on_commit_callbacks(execute=True):
        first_run = reviews_notify_new()
        second_run = reviews_notify_new()

    # then
    assert (first_run, second_run) == (1, 0)
    assert Notification.objects.filter(user=reviewer, verb="application.queued").count() == 1
    assert not Notification.objects.filter(user=second_reviewer).exists()
    assert [m.to for m in mail.outbox] == [[reviewer.email]]


def test_reviewers_hear_once_about_an_overdue_application(
    organisation, reviewer, settings, django_capture_on_commit_callbacks
):
    # given
    settings.REVIEW_DEADLINE_DAYS = 2
    late = queued_application(organisation, submitted_days_ago=3)
    queued_application(organisation, submitted_days_ago=1)

    # when
    runs = [reviews_notify_overdue(), reviews_notify_overdue()]

    # then
    assert runs == [1, 0]
    notification = Notification.objects.get(user=reviewer, verb="application.overdue")
    assert f"#{late.pk}" in notification.message


def test_beat_runs_both_reminder_tasks_by_name(settings):
    from portal.reviews.tasks import notify_new, notify_overdue

    scheduled = {entry["task"] for entry in settings.CELERY_BEAT_SCHEDULE.values()}
    assert {notify_new.name, notify_overdue.name} <= scheduled
    assert notify_overdue.name == "reviews.notify_overdue"


# --- The in-app list --------------------------------------------------------------------


def _notify(user, text="Hello"):
    return notification_send(
        users=[user], message=Message(verb="test", subject=text, body=text), email=False
    )[0]


def test_anonymous_visitors_are_sent_to_sign_in():
    response = client_for(None).get("/notifications/")
    assert response.status_code == 302 and "/accounts/login/" in response["Location"]


def test_staff_without_mfa_are_sent_to_set_it_up(staff_without_mfa):
    response = client_for(staff_without_mfa).get("/notifications/")
    assert response["Location"].endswith("/accounts/2fa/")


@pytest.mark.parametrize("persona", ["partner_admin", "partner_member", "reviewer", "outsider"])
def test_each_user_sees_only_their_own_notifications(request, persona, partner_admin):
    user = request.getfixturevalue(persona)
    _notify(user, "Yours")
    if user != partner_admin:
        _notify(partner_admin, "Not yours")

    page = client_for(user).get("/notifications/").content.decode()

    assert "Yours" in page
    assert "Not yours" not in page


def test_a_user_marks_their_notification_read(partner_admin):
    notification = _notify(partner_admin)
    response = client_for(partner_admin).post(f"/notifications/{notification.pk}/read/")
    assert response.status_code == 302
    notification.refresh_from_db()
    assert notification.is_read


def test_nobody_marks_someone_elses_notification_read(partner_admin, outsider):
    notification = _notify(partner_admin)
    response = client_for(outsider).post(f"/notifications/{notification.pk}/read/")
    assert response.status_code == 404
    notification.refresh_from_db()
    assert not notification.is_read


def test_mark_read_refuses_get_and_only_redirects_within_the_site(partner_admin):
    notification = _notify(partner_admin)
    client = client_for(partner_admin)
    assert client.get(f"/notifications/{notification.pk}/read/").status_code == 405
    response = client.post(
        f"/notifications/{notification.pk}/read/", {"next": "https://evil.example/"}
    )
    assert response["Location"] == "/notifications/"


def test_mark_all_read(partner_admin):
    _notify(partner_admin)
    _notify(partner_admin)
    client_for(partner_admin).post("/notifications/read-all/")
    assert not Notification.objects.filter(read_at__isnull=True).exists()
    page = client_for(partner_admin).get("/notifications/?unread=1").content.decode()
    assert "No unread notifications." in page
