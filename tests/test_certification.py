"""Access certification campaigns: open, remind, decide, suspend at the deadline, restore.

The lifecycle of issue 8 item 2: compliance opens a campaign, partner admins are reminded
per schedule (once per step), confirm or revoke person by person, and at the deadline
every key nobody vouched for is suspended with reason ``certification``; a later
confirmation lifts only that reason.
"""

from __future__ import annotations

import datetime as dt
import threading

import pytest
from django.core import mail
from django.db import connection
from django.utils import timezone

from foundation.audit.chain import verify_chain
from foundation.audit.models import AuditEvent
from portal.certification.models import (
    Campaign,
    CampaignError,
    CampaignReminder,
    CampaignState,
    CertificationItem,
    Decision,
)
from portal.certification.selectors import lapsed_count, open_campaigns_progress
from portal.certification.services import (
    campaign_close_due,
    campaign_open,
    campaign_send_reminders,
    item_revoke,
    items_confirm,
)
from portal.notifications.models import Notification
from portal.partners.models import MemberRole
from provisioning.bulk.credentials import credentials_restore, credentials_suspend
from provisioning.bulk.models import CredentialReason
from provisioning.credentials.models import Credential, CredentialState
from provisioning.credentials.services import credential_hold_person, credential_revoke
from provisioning.deliveries.models import Change
from provisioning.grants.services import grant_restore, grant_suspend
from tests.certification_helpers import acme_and_its_admin
from tests.concurrency import in_threads
from tests.factories import (
    OrganisationFactory,
    PersonFactory,
    StageFactory,
    UserFactory,
    add_member,
)
from tests.provisioning_fakes import active_grant, issue

pytestmark = pytest.mark.django_db


@pytest.fixture
def world(organisation, partner_admin, compliance_officer):
    """Ours: three keys on model A. Theirs: one key on A. Plus a key on model B (out of scope)."""
    stage_a = StageFactory(seats=10)
    stage_b = StageFactory(seats=10)
    other, other_admin = acme_and_its_admin()
    ours = active_grant(organisation=organisation, stage=stage_a)
    theirs = active_grant(organisation=other, stage=stage_a)
    keys = {
        name: issue(ours, PersonFactory(organisation=organisation, legal_name=name)).credential
        for name in ("Ada", "Bob", "Cy")
    }
    keys["Dee"] = issue(theirs, PersonFactory(organisation=other, legal_name="Dee")).credential
    keys["Eve"] = issue(
        active_grant(organisation=organisation, stage=stage_b),
        PersonFactory(organisation=organisation, legal_name="Eve"),
    ).credential
    return {
        "model": stage_a.covered_model,
        "other_model": stage_b.covered_model,
        "grant": ours,
        "keys": keys,
        "other_admin": other_admin,
    }


def _open(world, actor, *, days=10, reminders=(7, 3), title="Q4 recertification", **kwargs):
    return campaign_open(
        actor=actor,
        title=title,
        covered_model=world["model"],
        deadline=timezone.now() + dt.timedelta(days=days),
        reminder_days=reminders,
        **kwargs,
    )


def _item(campaign, credential):
    return CertificationItem.objects.get(campaign=campaign, credential=credential)


def _state(credential):
    return Credential.objects.get(pk=credential.pk).state


def _after_deadline(campaign):
    return campaign.deadline + dt.timedelta(minutes=1)


def test_opening_snapshots_one_pending_item_per_live_key_in_scope(
    world, compliance_officer, partner_admin
):
    # when
    campaign = _open(world, compliance_officer)

    # then
    items = CertificationItem.objects.filter(campaign=campaign)
    assert campaign.item_count == 4 == items.count()
    assert {i.credential_id for i in items} == {
        world["keys"][n].pk for n in ("Ada", "Bob", "Cy", "Dee")
    }
    assert set(items.values_list("decision", flat=True)) == {Decision.PENDING}
    assert campaign.state == CampaignState.OPEN
    assert sorted(campaign.reminders.values_list("days_before", flat=True)) == [3, 7]
    assert AuditEvent.objects.filter(
        action="certification.campaign_opened", object_id=str(campaign.pk)
    ).exists()
    assert Notification.objects.filter(user=partner_admin, verb="certification.opened").exists()
    assert Notification.objects.filter(
        user=world["other_admin"], verb="certification.opened"
    ).exists()


def test_a_campaign_for_all_models_takes_every_live_key_including_suspended_ones(
    world, compliance_officer
):
    # given: Bob's key is suspended by a person rule, but still live
    credentials_suspend(
        credential_ids=[world["keys"]["Bob"].pk],
        kind="regulatory",
        reference="DET-1",
        actor=None,
        note="",
    )
    credential_revoke(actor=None, credential=world["keys"]["Cy"])

    # when
    campaign = campaign_open(
        actor=compliance_officer,
        title="Everything",
        covered_model=None,
        deadline=timezone.now() + dt.timedelta(days=3),
    )

    # then: the revoked key is not asked about; the suspended one is
    names = set(
        CertificationItem.objects.filter(campaign=campaign).values_list(
            "person__legal_name", flat=True
        )
    )
    assert names == {"Ada", "Bob", "Dee", "Eve"}


def test_a_campaign_on_a_model_nobody_holds_is_refused_with_a_clear_message(compliance_officer):
    # given: a model with stages but no grant, and one whose only key is revoked
    empty = StageFactory().covered_model
    stage = StageFactory()
    key = issue(active_grant(stage=stage)).credential
    credential_revoke(actor=None, credential=key)

    for model in (empty, stage.covered_model):
        # when
        with pytest.raises(CampaignError, match="Nobody holds a live key for the model"):
            campaign_open(
                actor=compliance_officer,
                title="Nothing to see",
                covered_model=model,
                deadline=timezone.now() + dt.timedelta(days=3),
            )

    # then
    assert not Campaign.objects.exists()
    assert not AuditEvent.objects.filter(action="certification.campaign_opened").exists()


@pytest.mark.parametrize(
    ("kwargs", "message"),
    [
        ({"deadline": -1}, "deadline must be in the future"),
        ({"reminder_days": [0]}, "whole numbers from 1"),
        ({"title": "  "}, "title"),
    ],
)
def test_opening_refuses_bad_input(world, compliance_officer, kwargs, message):
    args = {
        "actor": compliance_officer,
        "title": "Q4",
        "covered_model": world["model"],
        "deadline": timezone.now() + dt.timedelta(days=3),
        "reminder_days": [1],
    }
    if "deadline" in kwargs:
        kwargs = {"deadline": timezone.now() + dt.timedelta(days=kwargs["deadline"])}
    args.update(kwargs)

    with pytest.raises(CampaignError, match=message):
        campaign_open(**args)
    assert not Campaign.objects.exists()


def test_the_full_lifecycle_remind_decide_suspend_and_restore(
    world, compliance_officer, partner_admin, django_capture_on_commit_callbacks
):
    keys = world["keys"]
    campaign = _open(world, compliance_officer)
    mail.outbox.clear()

    # when: the first reminder step falls due, and beat runs twice
    seven_days_before = campaign.deadline - dt.timedelta(days=7) + dt.timedelta(minutes=1)
    with django_capture_on_commit_callbacks(execute=True):
        first = campaign_send_reminders(now=seven_days_before)
    with django_capture_on_commit_callbacks(execute=True):
        again = campaign_send_reminders(now=seven_days_before)

    # then: both organisations' admins are reminded once
    assert (first, again) == (1, 0)
    assert sorted(m.to[0] for m in mail.outbox) == sorted(
        [partner_admin.email, world["other_admin"].email]
    )
    assert all("Reminder" in m.subject for m in mail.outbox)
    step = CampaignReminder.objects.get(campaign=campaign, days_before=7)
    assert step.sent_at is not None and step.recipients == 2

    # when: our admin confirms Ada, revokes Bob; theirs confirms Dee
    items_confirm(
        actor=partner_admin,
        item_ids=[_item(campaign, keys["Ada"]).pk],
        note="Still on the SOC team",
    )
    item_revoke(actor=partner_admin, item_id=_item(campaign, keys["Bob"]).pk, note="Left")
    items_confirm(actor=world["other_admin"], item_ids=[_item(campaign, keys["Dee"]).pk])

    # then: decisions recorded, Bob's key revoked through the credential service
    ada = _item(campaign, keys["Ada"])
    assert (ada.decision, ada.decided_by, ada.note) == (
        Decision.CONFIRMED,
        partner_admin,
        "Still on the SOC team",
    )
    assert ada.decided_at is not None
    assert _item(campaign, keys["Bob"]).decision == Decision.REVOKED
    assert _state(keys["Bob"]) == CredentialState.REVOKED
    assert Change.objects.filter(credential=keys["Bob"], cause="credential.revoked").exists()
    assert AuditEvent.objects.filter(action="certification.confirmed").count() == 2
    assert AuditEvent.objects.filter(action="certification.revoked").count() == 1

    # when: the second step: only our organisation still has someone pending
    mail.outbox.clear()
    with django_capture_on_commit_callbacks(execute=True):
        campaign_send_reminders(now=campaign.deadline - dt.timedelta(days=3))
    assert [m.to[0] for m in mail.outbox] == [partner_admin.email]
    assert "1 people" in mail.outbox[0].body

    # when: the deadline passes
    changes_before = Change.objects.count()
    closed = campaign_close_due(now=_after_deadline(campaign))
    assert campaign_close_due(now=_after_deadline(campaign)) == 0  # idempotent

    # then: only Cy, whom nobody confirmed, is suspended with reason certification
    assert closed == 1
    campaign.refresh_from_db()
    assert campaign.state == CampaignState.CLOSED and campaign.suspended_count == 1
    assert _state(keys["Cy"]) == CredentialState.SUSPENDED
    assert _state(keys["Ada"]) == _state(keys["Dee"]) == CredentialState.ACTIVE
    assert _item(campaign, keys["Cy"]).decision == Decision.SUSPENDED
    assert list(CredentialReason.objects.values_list("credential_id", "kind", "reference")) == [
        (keys["Cy"].pk, "certification", campaign.reference)
    ]
    new_changes = Change.objects.filter(pk__gt=0).order_by("pk")[changes_before:]
    assert [(c.credential_id, c.cause, c.active) for c in new_changes] == [
        (keys["Cy"].pk, "credential.suspended:certification", False)
    ]
    assert AuditEvent.objects.filter(action="certification.campaign_closed").exists()
    assert AuditEvent.objects.filter(action="credential.bulk_suspended").exists()
    assert Notification.objects.filter(user=partner_admin, verb="certification.suspended").exists()
    assert not Notification.objects.filter(
        user=world["other_admin"], verb="certification.suspended"
    ).exists()

    # when: a reminder step left over after the deadline is never sent
    assert campaign_send_reminders(now=_after_deadline(campaign)) == 0

    # when: our admin confirms Cy late
    result = items_confirm(actor=partner_admin, item_ids=[_item(campaign, keys["Cy"]).pk])

    # then: the certification reason is gone and the key is active again
    assert (result.confirmed, result.restored) == (1, 1)
    assert _state(keys["Cy"]) == CredentialState.ACTIVE
    assert not CredentialReason.objects.exists()
    assert Change.objects.filter(
        credential=keys["Cy"], cause="credential.restored:certification", active=True
    ).exists()
    assert _item(campaign, keys["Cy"]).decision == Decision.CONFIRMED
    assert verify_chain().ok


def test_a_late_confirmation_does_not_restore_a_key_another_credential_reason_holds(
    world, compliance_officer, partner_admin
):
    keys = world["keys"]
    campaign = _open(world, compliance_officer)
    campaign_close_due(now=_after_deadline(campaign))
    credentials_suspend(
        credential_ids=[keys["Ada"].pk], kind="regulatory", reference="DET-9", actor=None, note=""
    )

    # when
    result = items_confirm(actor=partner_admin, item_ids=[_item(campaign, keys["Ada"]).pk])

    # then: only the certification reason went; the key stays suspended
    assert (result.confirmed, result.restored) == (1, 0)
    assert _state(keys["Ada"]) == CredentialState.SUSPENDED
    assert list(
        CredentialReason.objects.filter(credential=keys["Ada"]).values_list("kind", flat=True)
    ) == ["regulatory"]

    # and lifting the other reason brings it back, because nothing else holds it
    credentials_restore(
        credential_ids=[keys["Ada"].pk], kind="regulatory", reference="DET-9", actor=None, note=""
    )
    assert _state(keys["Ada"]) == CredentialState.ACTIVE


def test_a_late_confirmation_does_not_restore_a_key_whose_grant_or_person_is_held(
    world, compliance_officer, partner_admin
):
    keys = world["keys"]
    campaign = _open(world, compliance_officer)
    campaign_close_due(now=_after_deadline(campaign))
    grant_suspend(grants=[world["grant"].pk], reason="ops", reference="manual-1", actor=None)
    credential_hold_person(person_id=keys["Bob"].person_id, actor=None, reason="screening hit")

    # when
    items_confirm(
        actor=partner_admin,
        item_ids=[_item(campaign, keys[n]).pk for n in ("Ada", "Bob")],
    )

    # then: their certification reasons are gone, but the grant and the hold still hold them
    assert not CredentialReason.objects.filter(
        credential__in=[keys["Ada"], keys["Bob"]], kind="certification"
    ).exists()
    assert _state(keys["Ada"]) == _state(keys["Bob"]) == CredentialState.SUSPENDED

    # when the grant comes back, Ada returns; Bob stays held by screening
    grant_restore(grants=[world["grant"].pk], reason="ops", reference="manual-1", actor=None)
    assert _state(keys["Ada"]) == CredentialState.ACTIVE
    assert _state(keys["Bob"]) == CredentialState.SUSPENDED


def test_a_key_suspended_for_another_reason_stays_suspended_when_that_reason_lifts(
    world, compliance_officer
):
    keys = world["keys"]
    credentials_suspend(
        credential_ids=[keys["Cy"].pk], kind="regulatory", reference="DET-2", actor=None, note=""
    )
    campaign = _open(world, compliance_officer)
    campaign_close_due(now=_after_deadline(campaign))

    # when: the determination's person rule is lifted, but nobody certified Cy
    credentials_restore(
        credential_ids=[keys["Cy"].pk], kind="regulatory", reference="DET-2", actor=None, note=""
    )

    # then
    assert _item(campaign, keys["Cy"]).decision == Decision.SUSPENDED
    assert _state(keys["Cy"]) == CredentialState.SUSPENDED


def test_a_campaign_without_late_confirmations_refuses_them(
    world, compliance_officer, partner_admin
):
    keys = world["keys"]
    campaign = _open(world, compliance_officer, allow_late_confirmations=False)
    campaign_close_due(now=_after_deadline(campaign))

    result = items_confirm(actor=partner_admin, item_ids=[_item(campaign, keys["Ada"]).pk])

    assert result.confirmed == 0
    assert "no longer accepts confirmations" in result.skipped[_item(campaign, keys["Ada"]).pk]
    assert _state(keys["Ada"]) == CredentialState.SUSPENDED
    assert _item(campaign, keys["Ada"]).decision == Decision.SUSPENDED


def test_a_decided_item_cannot_be_decided_again(world, compliance_officer, partner_admin):
    campaign = _open(world, compliance_officer)
    item = _item(campaign, world["keys"]["Ada"])
    items_confirm(actor=partner_admin, item_ids=[item.pk])

    again = items_confirm(actor=partner_admin, item_ids=[item.pk])
    with pytest.raises(CampaignError, match="already confirmed"):
        item_revoke(actor=partner_admin, item_id=item.pk)

    assert again.confirmed == 0
    assert again.skipped == {item.pk: "already confirmed"}
    assert _state(world["keys"]["Ada"]) == CredentialState.ACTIVE
    assert AuditEvent.objects.filter(action="certification.confirmed").count() == 1


def test_a_key_revoked_elsewhere_before_the_deadline_is_recorded_not_suspended(
    world, compliance_officer
):
    campaign = _open(world, compliance_officer)
    credential_revoke(actor=None, credential=world["keys"]["Ada"])

    campaign_close_due(now=_after_deadline(campaign))

    assert _item(campaign, world["keys"]["Ada"]).decision == Decision.REVOKED
    assert not CredentialReason.objects.filter(credential=world["keys"]["Ada"]).exists()


def test_reminder_steps_already_past_at_opening_are_not_scheduled(world, compliance_officer):
    campaign = _open(world, compliance_officer, days=2, reminders=(7, 1))

    assert list(campaign.reminders.values_list("days_before", flat=True)) == [1]


def test_the_dashboard_counts_pending_and_lapsed_certifications(
    world, compliance_officer, partner_admin
):
    open_one = _open(world, compliance_officer)
    items_confirm(actor=partner_admin, item_ids=[_item(open_one, world["keys"]["Ada"]).pk])
    lapsed = _open(world, compliance_officer, days=1)
    campaign_close_due(now=_after_deadline(lapsed))

    assert open_campaigns_progress() == (3, 4)
    assert lapsed_count() == 4


def test_the_beat_tasks_are_scheduled_and_run_the_services(world, compliance_officer, settings):
    from portal.certification.tasks import close_due, send_reminders

    schedule = {entry["task"] for entry in settings.CELERY_BEAT_SCHEDULE.values()}
    campaign = _open(world, compliance_officer, days=1, reminders=())
    Campaign.objects.filter(pk=campaign.pk).update(deadline=timezone.now())

    assert {"certification.send_reminders", "certification.close_due"} <= schedule
    assert send_reminders() == 0
    assert close_due() == 1
    assert Campaign.objects.get(pk=campaign.pk).state == CampaignState.CLOSED


def _race(*calls):
    barrier = threading.Barrier(len(calls))
    errors: list[BaseException] = []

    def run(call):
        barrier.wait()
        try:
            call()
        except BaseException as exc:
            errors.append(exc)

    in_threads(run, [(call,) for call in calls])
    assert errors == []


@pytest.mark.django_db(transaction=True)
def test_confirmations_racing_the_deadline_end_consistent(compliance_officer):
    if connection.vendor != "postgresql":
        pytest.skip("SQLite has a single writer: there is no race to test.")
    # given: ten people, an open campaign, and its deadline just passed
    organisation = OrganisationFactory()
    admin = UserFactory()
    add_member(organisation, admin, MemberRole.ADMIN)
    grant = active_grant(organisation=organisation, stage=StageFactory(seats=20))
    keys = [issue(grant).credential for _ in range(10)]
    campaign = campaign_open(
        actor=compliance_officer,
        title="Race",
        covered_model=grant.covered_model,
        deadline=timezone.now() + dt.timedelta(days=1),
    )
    items = list(campaign.items.order_by("pk").values_list("pk", flat=True))
    after = _after_deadline(campaign)

    # when: the beat task closes while the admin confirms one by one
    _race(
        lambda: campaign_close_due(now=after),
        *[lambda pk=pk: items_confirm(actor=admin, item_ids=[pk]) for pk in items],
    )

    # then: every item is confirmed (key active, no reason left), whichever came first
    rows = CertificationItem.objects.filter(campaign=campaign).select_related("credential")
    assert {row.decision for row in rows} == {Decision.CONFIRMED}
    assert {row.credential.state for row in rows} == {CredentialState.ACTIVE}
    assert not CredentialReason.objects.filter(credential__in=keys).exists()
    assert Campaign.objects.get(pk=campaign.pk).state == CampaignState.CLOSED


@pytest.mark.django_db(transaction=True)
def test_overlapping_reminder_runs_send_each_step_once(compliance_officer):
    if connection.vendor != "postgresql":
        pytest.skip("SQLite has a single writer: there is no race to test.")
    organisation = OrganisationFactory()
    add_member(organisation, UserFactory(), MemberRole.ADMIN)
    grant = active_grant(organisation=organisation)
    issue(grant)
    campaign = campaign_open(
        actor=compliance_officer,
        title="Race",
        covered_model=grant.covered_model,
        deadline=timezone.now() + dt.timedelta(days=10),
        reminder_days=[7],
    )
    due = campaign.deadline - dt.timedelta(days=6)

    _race(*[lambda: campaign_send_reminders(now=due) for _ in range(4)])

    assert Notification.objects.filter(verb="certification.reminder").count() == 1
    assert AuditEvent.objects.filter(action="certification.reminded").count() == 1


def test_braces_in_a_title_are_just_text_in_the_notices(world, compliance_officer, partner_admin):
    campaign = _open(world, compliance_officer, title="Q4 {count} {0} review")

    campaign_close_due(now=_after_deadline(campaign))

    subjects = list(
        Notification.objects.filter(user=partner_admin).values_list("message", flat=True)
    )
    assert any(s.endswith(": Q4 {count} {0} review") for s in subjects)
    assert "3 keys suspended: nobody certified them in Q4 {count} {0} review" in subjects
