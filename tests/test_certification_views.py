"""Certification pages: compliance opens and follows campaigns, partner admins certify
their own people only, auditors read and change nothing."""

from __future__ import annotations

import datetime as dt

import pytest
from django.db import connection
from django.test.utils import CaptureQueriesContext
from django.urls import reverse
from django.utils import timezone

from foundation.audit.models import AuditEvent
from portal.certification.models import Campaign, CertificationItem, Decision
from portal.certification.services import campaign_close_due, campaign_open
from portal.jobs.models import Job
from portal.jobs.services import job_run
from portal.partners.models import MemberRole
from provisioning.credentials.models import Credential, CredentialState
from tests.certification_helpers import open_campaign
from tests.conftest import client_for
from tests.factories import (
    OrganisationFactory,
    PersonFactory,
    StageFactory,
    UserFactory,
    add_member,
)
from tests.provisioning_fakes import active_grant, issue

pytestmark = [pytest.mark.django_db, pytest.mark.seats(50)]

LIST = reverse("certification:list")
NEW = reverse("certification:new")
TASKS = reverse("certification:tasks")
CONFIRM_ALL = reverse("certification:confirm_all")


def _decide(item):
    return reverse("certification:decide", args=[item.pk])


@pytest.fixture
def campaign(keys, stage, compliance_officer):
    return open_campaign(stage, compliance_officer, reminder_days=[3])


def _item(campaign, key):
    return CertificationItem.objects.get(campaign=campaign, credential=key.credential)


def _state(key):
    return Credential.objects.get(pk=key.credential.pk).state


# --- opening -------------------------------------------------------------------------------


def _form(stage, **overrides):
    deadline = timezone.now() + dt.timedelta(days=14)
    data = {
        "title": "Q4 recertification",
        "covered_model": stage.covered_model.pk,
        "deadline": deadline.strftime("%Y-%m-%dT%H:%M"),
        "reminder_days": "7, 3, 1",
        "allow_late_confirmations": "on",
    }
    data.update(overrides)
    return data


def test_compliance_opens_a_campaign_in_the_background_and_follows_it(
    compliance_officer, keys, stage
):
    # when the form is sent, a job is queued and its page followed
    response = client_for(compliance_officer).post(NEW, _form(stage))

    job = Job.objects.get()
    assert response.status_code == 302
    assert response["Location"] == reverse("jobs:detail", args=[job.pk])
    assert not Campaign.objects.exists()

    # then the worker opens it
    job_run(job.pk)
    campaign = Campaign.objects.get()
    assert campaign.item_count == 3
    assert campaign.reminder_days == [7, 3, 1]
    assert campaign.allow_late_confirmations


def test_a_campaign_on_a_model_without_grants_is_refused_on_the_form(compliance_officer):
    empty = StageFactory()

    response = client_for(compliance_officer).post(NEW, _form(empty))

    assert response.status_code == 200
    assert b"Nobody holds a live key for the model" in response.content
    assert not Campaign.objects.exists() and not Job.objects.exists()


@pytest.mark.parametrize(
    ("field", "value", "message"),
    [
        ("reminder_days", "seven", b"whole numbers of days"),
        ("reminder_days", "0", b"Each reminder must be 1 to 365 days"),
        ("deadline", "2001-01-01T00:00", b"The deadline must be in the future"),
        ("title", "", b"This field is required"),
    ],
)
def test_the_form_says_what_is_wrong(compliance_officer, keys, stage, field, value, message):
    response = client_for(compliance_officer).post(NEW, _form(stage, **{field: value}))

    assert response.status_code == 200
    assert message in response.content
    assert not Campaign.objects.exists()


@pytest.mark.parametrize(
    "persona", ["auditor", "ops_user", "reviewer", "partner_admin", "outsider"]
)
def test_only_compliance_opens_campaigns(request, persona, keys, stage):
    user = request.getfixturevalue(persona)

    response = client_for(user).post(NEW, _form(stage))

    assert response.status_code == 403
    assert not Campaign.objects.exists()


# --- compliance and auditors read progress -------------------------------------------------


@pytest.mark.parametrize("persona", ["compliance_officer", "auditor"])
def test_readers_see_progress_per_organisation(request, persona, campaign, keys, partner_admin):
    client_for(partner_admin).post(_decide(_item(campaign, keys["ada"])), {"decision": "confirm"})

    response = client_for(request.getfixturevalue(persona)).get(
        reverse("certification:detail", args=[campaign.pk])
    )

    assert response.status_code == 200
    rows = {r["organisation__legal_name"]: r for r in response.context["page"].object_list}
    assert (rows["Northwind Cyber"]["confirmed"], rows["Northwind Cyber"]["pending"]) == (1, 1)
    assert rows["Northwind Cyber"]["percent_decided"] == 50
    assert (rows["Elsewhere Inc"]["confirmed"], rows["Elsewhere Inc"]["pending"]) == (0, 1)
    assert response.context["totals"]["total"] == 3
    assert b"<progress" in response.content


def test_progress_filters_by_name_and_status(compliance_officer, campaign, keys, partner_admin):
    client = client_for(compliance_officer)
    url = reverse("certification:detail", args=[campaign.pk])
    for item in CertificationItem.objects.filter(organisation__slug="northwind"):
        client_for(partner_admin).post(_decide(item), {"decision": "confirm"})

    def names(**params):
        page = client.get(url, params).context["page"]
        return [r["organisation__legal_name"] for r in page.object_list]

    assert names() == ["Elsewhere Inc", "Northwind Cyber"]
    assert names(q="north") == ["Northwind Cyber"]
    assert names(status="pending") == ["Elsewhere Inc"]
    assert names(status="complete") == ["Northwind Cyber"]


def test_the_campaign_list_filters_by_state(compliance_officer, campaign, keys, stage):
    lapsed = campaign_open(
        actor=compliance_officer,
        title="Lapsed one",
        covered_model=stage.covered_model,
        deadline=timezone.now() + dt.timedelta(days=1),
    )
    campaign_close_due(now=lapsed.deadline + dt.timedelta(minutes=1))
    client = client_for(compliance_officer)

    def titles(**params):
        return [c.title for c in client.get(LIST, params).context["page"].object_list]

    assert titles(state="open") == ["Q4 recertification"]
    assert titles(state="closed") == ["Lapsed one"]
    assert sorted(titles()) == ["Lapsed one", "Q4 recertification"]


def test_the_auditor_reads_an_organisations_items_but_cannot_decide(auditor, campaign, keys):
    client = client_for(auditor)
    item = _item(campaign, keys["ada"])

    page = client.get(
        reverse("certification:organisation", args=[campaign.pk, item.organisation_id])
    )
    response = client.post(_decide(item), {"decision": "revoke"})

    assert page.status_code == 200
    assert {i.person.legal_name for i in page.context["page"].object_list} == {
        "Ada Ours",
        "Bob Ours",
    }
    assert response.status_code == 403
    assert _item(campaign, keys["ada"]).decision == Decision.PENDING
    assert _state(keys["ada"]) == CredentialState.ACTIVE


# --- partner administrators certify their own people --------------------------------------


def test_a_partner_admin_sees_only_their_own_organisations_tasks(partner_admin, campaign, keys):
    response = client_for(partner_admin).get(TASKS)

    assert response.status_code == 200
    names = {i.person.legal_name for i in response.context["page"].object_list}
    assert names == {"Ada Ours", "Bob Ours"}
    assert b"Zed Theirs" not in response.content


def test_a_partner_admin_confirms_with_a_note_and_revokes(partner_admin, campaign, keys):
    client = client_for(partner_admin)

    confirmed = client.post(
        _decide(_item(campaign, keys["ada"])), {"decision": "confirm", "note": "On call"}
    )
    revoked = client.post(_decide(_item(campaign, keys["bob"])), {"decision": "revoke"})

    assert confirmed.status_code == revoked.status_code == 302
    ada = _item(campaign, keys["ada"])
    assert (ada.decision, ada.decided_by, ada.note) == (
        Decision.CONFIRMED,
        partner_admin,
        "On call",
    )
    assert _item(campaign, keys["bob"]).decision == Decision.REVOKED
    assert _state(keys["bob"]) == CredentialState.REVOKED
    assert AuditEvent.objects.filter(
        action="certification.confirmed", actor=partner_admin, reason="On call"
    ).exists()


def test_a_second_decision_on_the_same_person_is_refused_with_a_message(
    partner_admin, campaign, keys
):
    client = client_for(partner_admin)
    item = _item(campaign, keys["ada"])
    client.post(_decide(item), {"decision": "confirm"})

    response = client.post(_decide(item), {"decision": "revoke"}, follow=True)

    assert b"already confirmed" in response.content
    assert _state(keys["ada"]) == CredentialState.ACTIVE


def test_a_partner_admin_cannot_decide_for_another_organisation(outsider, campaign, keys):
    item = _item(campaign, keys["ada"])

    response = client_for(outsider).post(_decide(item), {"decision": "revoke"})

    assert response.status_code == 404
    assert _item(campaign, keys["ada"]).decision == Decision.PENDING
    assert _state(keys["ada"]) == CredentialState.ACTIVE


def test_a_member_cannot_certify(partner_member, campaign, keys):
    client = client_for(partner_member)

    listing = client.get(TASKS)
    response = client.post(_decide(_item(campaign, keys["ada"])), {"decision": "confirm"})

    assert listing.status_code == 200
    assert list(listing.context["page"].object_list) == []
    assert b"Only your organisation's administrators certify" in listing.content
    assert response.status_code == 403
    assert _item(campaign, keys["ada"]).decision == Decision.PENDING


@pytest.mark.parametrize("persona", ["outsider", "partner_admin", "partner_member"])
def test_partners_cannot_read_campaign_pages(request, persona, campaign):
    client = client_for(request.getfixturevalue(persona))

    assert client.get(LIST).status_code == 403
    assert client.get(reverse("certification:detail", args=[campaign.pk])).status_code == 404


def test_confirm_all_shown_needs_the_tick_box(partner_admin, campaign, keys):
    client = client_for(partner_admin)
    shown = client.get(TASKS).context["pending_shown"]

    refused = client.post(CONFIRM_ALL, {"items": shown}, follow=True)

    assert b"Tick the box to confirm every person listed" in refused.content
    assert not CertificationItem.objects.filter(decision=Decision.CONFIRMED).exists()


def test_confirm_all_shown_confirms_exactly_the_admins_pending_people_shown(
    partner_admin, campaign, keys
):
    client = client_for(partner_admin)
    shown = client.get(TASKS).context["pending_shown"]

    response = client.post(CONFIRM_ALL, {"items": shown, "confirmed": "on", "note": "All current"})

    assert response.status_code == 302
    assert set(
        CertificationItem.objects.filter(decision=Decision.CONFIRMED).values_list(
            "person__legal_name", flat=True
        )
    ) == {"Ada Ours", "Bob Ours"}
    assert _item(campaign, keys["zed"]).decision == Decision.PENDING
    event = AuditEvent.objects.get(action="certification.confirmed")
    assert sorted(event.after["items"]) == sorted(shown)
    assert event.reason == "All current"


def test_confirm_all_refuses_a_list_that_is_not_what_the_admin_was_shown(
    partner_admin, campaign, keys
):
    # given: another organisation's item slipped into the posted list
    client = client_for(partner_admin)
    shown = client.get(TASKS).context["pending_shown"]
    foreign = _item(campaign, keys["zed"]).pk

    response = client.post(
        CONFIRM_ALL, {"items": [*shown, foreign], "confirmed": "on"}, follow=True
    )

    assert b"no longer waiting for you" in response.content
    assert not CertificationItem.objects.filter(decision=Decision.CONFIRMED).exists()


def test_a_late_confirmation_from_the_task_list_restores_access(partner_admin, campaign, keys):
    campaign_close_due(now=campaign.deadline + dt.timedelta(minutes=1))
    assert _state(keys["ada"]) == CredentialState.SUSPENDED
    client = client_for(partner_admin)

    listing = client.get(TASKS)
    response = client.post(
        _decide(_item(campaign, keys["ada"])), {"decision": "confirm"}, follow=True
    )

    assert b"Confirm and restore" in listing.content
    assert listing.context["pending_shown"] == []  # lapsed ones are confirmed one by one
    assert b"Access restored" in response.content
    assert _state(keys["ada"]) == CredentialState.ACTIVE


def test_the_task_list_filters_by_campaign_decision_and_name(partner_admin, campaign, keys, stage):
    client = client_for(partner_admin)
    client.post(_decide(_item(campaign, keys["ada"])), {"decision": "confirm"})

    def names(**params):
        return sorted(
            i.person.legal_name for i in client.get(TASKS, params).context["page"].object_list
        )

    assert names() == ["Bob Ours"]
    assert names(decision="all") == ["Ada Ours", "Bob Ours"]
    assert names(decision="confirmed") == ["Ada Ours"]
    assert names(decision="all", q="ada") == ["Ada Ours"]
    assert names(decision="all", campaign=campaign.pk + 1) == []


# --- query counts ---------------------------------------------------------------------------


def _count_queries(client, url):
    client.get(url)  # warm session and permission caches
    with CaptureQueriesContext(connection) as queries:
        response = client.get(url)
    assert response.status_code == 200
    return len(queries)


def _more_people(organisation, stage, n):
    grant = active_grant(organisation=organisation, stage=stage)
    for _ in range(n):
        issue(grant, PersonFactory(organisation=organisation))


def _more_organisations(stage, n):
    for _ in range(n):
        organisation = OrganisationFactory()
        add_member(organisation, UserFactory(), MemberRole.ADMIN)
        _more_people(organisation, stage, 1)


def _open(compliance_officer, stage, title="Q"):
    return campaign_open(
        actor=compliance_officer,
        title=title,
        covered_model=stage.covered_model,
        deadline=timezone.now() + dt.timedelta(days=5),
    )


def test_the_task_list_query_count_does_not_grow_with_the_rows(
    partner_admin, organisation, stage, compliance_officer
):
    _more_people(organisation, stage, 2)
    _open(compliance_officer, stage)
    client = client_for(partner_admin)
    few = _count_queries(client, TASKS)

    _more_people(organisation, stage, 20)
    _open(compliance_officer, stage, title="Second")
    many = _count_queries(client, TASKS)

    assert many == few


def test_the_campaign_list_and_progress_query_counts_do_not_grow(compliance_officer, stage):
    _more_organisations(stage, 2)
    first = _open(compliance_officer, stage)
    client = client_for(compliance_officer)
    detail = reverse("certification:detail", args=[first.pk])
    few = (_count_queries(client, LIST), _count_queries(client, detail))

    _more_organisations(stage, 12)
    for n in range(8):
        _open(compliance_officer, stage, title=f"Q{n}")
    second = Campaign.objects.order_by("-pk").first()
    detail = reverse("certification:detail", args=[second.pk])
    many = (_count_queries(client, LIST), _count_queries(client, detail))

    assert many == few


# --- live progress ---------------------------------------------------------------


def test_an_open_campaigns_page_polls_its_progress_fragment(compliance_officer, campaign):
    response = client_for(compliance_officer).get(
        reverse("certification:detail", args=[campaign.pk])
    )

    assert response.status_code == 200
    progress = reverse("certification:progress", args=[campaign.pk])
    assert f'hx-get="{progress}"'.encode() in response.content


def test_the_progress_fragment_follows_decisions_as_they_are_made(
    compliance_officer, campaign, keys
):
    client = client_for(compliance_officer)
    url = reverse("certification:progress", args=[campaign.pk])
    before = client.get(url)

    CertificationItem.objects.filter(pk=_item(campaign, keys["ada"]).pk).update(
        decision=Decision.CONFIRMED, decided_at=timezone.now()
    )
    after = client.get(url)

    assert before.status_code == 200
    assert b"Decided: 0 of 3 people" in before.content
    assert b"<h1" not in before.content  # a fragment, not a page
    assert after.status_code == 200
    assert b"Decided: 1 of 3 people" in after.content
    assert b"hx-get" in after.content  # still open: keeps polling


def test_a_closed_campaign_stops_polling(compliance_officer, campaign):
    Campaign.objects.filter(pk=campaign.pk).update(state="closed", closed_at=timezone.now())

    response = client_for(compliance_officer).get(
        reverse("certification:progress", args=[campaign.pk])
    )

    assert response.status_code == 200
    assert b"hx-get" not in response.content


def test_a_campaign_with_nobody_left_never_draws_a_bar_for_nobody(compliance_officer, campaign):
    CertificationItem.objects.filter(campaign=campaign).delete()

    response = client_for(compliance_officer).get(
        reverse("certification:progress", args=[campaign.pk])
    )

    assert response.status_code == 200
    assert b"<progress" not in response.content
    assert b"0 of 0" not in response.content
    assert b"Nobody to certify" in response.content


def test_the_auditor_reads_the_progress_fragment(auditor, campaign):
    response = client_for(auditor).get(reverse("certification:progress", args=[campaign.pk]))

    assert response.status_code == 200


@pytest.mark.parametrize("persona", ["partner_admin", "outsider", "reviewer", "ops_user"])
def test_the_progress_fragment_is_not_for_partners_or_reviewers(request, persona, campaign):
    response = client_for(request.getfixturevalue(persona)).get(
        reverse("certification:progress", args=[campaign.pk])
    )

    assert response.status_code == 404
