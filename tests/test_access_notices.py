"""Partners hear of every change to their access: one notice and one email per person and
decision, with the legal basis where there is one, and nothing of anyone else."""

from __future__ import annotations

import datetime as dt
import json

import httpx
import pytest
from django.core import mail
from standardwebhooks.webhooks import Webhook

from portal.compliance.models import Determination
from portal.eligibility.models import Person
from portal.notifications.access import access_notices_dispatch, notice_emails_send
from portal.notifications.decisions import Outcome
from portal.notifications.models import Notification, WebhookDelivery, WebhookDeliveryState
from portal.notifications.webhooks import organisation_webhook_register, webhook_delivery_send
from provisioning.bulk.models import BulkKind
from provisioning.bulk.services import bulk_approve, bulk_execute, bulk_plan
from provisioning.bulk.stop import model_emergency_stop
from provisioning.credentials.services import credential_hold_person, credential_rotate
from provisioning.grants.models import SuspensionKind
from tests.factories import PersonFactory, StageFactory, UserFactory, add_member, staff_user
from tests.provisioning_fakes import active_grant, issue

pytestmark = pytest.mark.django_db


@pytest.fixture
def determination(compliance_officer):
    return Determination.objects.create(
        reference="BIS-2026-17",
        legal_basis="Export Administration Regulations, 15 CFR 744.23",
        effective_date=dt.date(2026, 6, 3),
        created_by=compliance_officer,
    )


@pytest.fixture
def world(organisation, other_organisation, partner_admin, partner_member, outsider):
    """Our organisation (an admin, a member holding a key, two more people) and another
    organisation with one key on the same model."""
    stage = StageFactory(covered_model__name="Mythos 5")
    ours = active_grant(organisation=organisation, stage=stage)
    theirs = active_grant(organisation=other_organisation, stage=stage)
    member_person = PersonFactory(organisation=organisation, user=partner_member)
    keys = [issue(ours, member_person).credential, issue(ours).credential, issue(ours).credential]
    their_key = issue(theirs).credential
    return {"stage": stage, "grant": ours, "keys": keys, "their_key": their_key}


def _notices(user):
    return list(Notification.objects.filter(user=user).exclude(decision_key=""))


def _send_all_emails() -> None:
    ids = list(Notification.objects.exclude(decision_key="").values_list("id", flat=True))
    notice_emails_send(notification_ids=ids)


def _stop(world, ops_user, determination):
    return model_emergency_stop(
        covered_model=world["stage"].covered_model,
        actor=ops_user,
        reason="Export ban on the Mythos family",
        kind=SuspensionKind.REGULATORY,
        reference=determination.reference,
    )


def test_an_emergency_stop_tells_each_admin_and_holder_once_with_reason_and_legal_basis(
    world, ops_user, determination, partner_admin, partner_member, outsider
):
    _stop(world, ops_user, determination)

    access_notices_dispatch()
    access_notices_dispatch()  # a second run finds nothing new

    [admin_notice] = _notices(partner_admin)
    assert admin_notice.verb == Outcome.SUSPENDED
    assert admin_notice.message.startswith(
        "Mythos 5 access for 3 people of Northwind Cyber was suspended on "
    )
    assert admin_notice.message.endswith("under determination BIS-2026-17")
    assert "Legal basis: Export Administration Regulations, 15 CFR 744.23" in admin_notice.body
    assert "Reason given: Export ban on the Mythos family" in admin_notice.body
    assert "What happens next:" in admin_notice.body
    assert "Who to contact:" in admin_notice.body
    assert "Elsewhere" not in admin_notice.body
    [member_notice] = _notices(partner_member)
    assert member_notice.message.startswith("Your Mythos 5 access was suspended on ")
    # Three people names appear to the admin; the member sees only their own access.
    assert "People:" not in member_notice.body
    [their_notice] = _notices(outsider)
    assert "1 person of Elsewhere Inc" in their_notice.message
    assert "Northwind" not in their_notice.message + their_notice.body


def test_one_email_per_person_and_decision_sent_after_the_dispatch(
    world, ops_user, determination, partner_admin, partner_member, outsider
):
    _stop(world, ops_user, determination)
    access_notices_dispatch()
    assert mail.outbox == []  # nothing leaves inside the dispatch transaction

    _send_all_emails()
    _send_all_emails()  # already sent: not again

    recipients = sorted(address for message in mail.outbox for address in message.to)
    assert recipients == sorted([partner_admin.email, partner_member.email, outsider.email])
    assert all(len(message.to) == 1 for message in mail.outbox)
    admin_mail = next(m for m in mail.outbox if m.to == [partner_admin.email])
    assert "BIS-2026-17" in admin_mail.subject
    assert "/provisioning/keys/" in admin_mail.body


def test_holders_reading_the_same_words_each_get_their_own_address_and_message_id(
    world, ops_user, determination, partner_member
):
    colleague = UserFactory(username="colleague", email="colleague@northwind.example")
    add_member(world["grant"].organisation, colleague)
    world["grant"].seats = 10
    world["grant"].save(update_fields=["seats"])
    issue(world["grant"], PersonFactory(organisation=world["grant"].organisation, user=colleague))
    _stop(world, ops_user, determination)
    access_notices_dispatch()

    _send_all_emails()

    holders = [m for m in mail.outbox if m.to in ([partner_member.email], [colleague.email])]
    assert len(holders) == 2
    assert holders[0].subject == holders[1].subject and holders[0].body == holders[1].body
    rendered = [m.message() for m in holders + holders]  # rendering again changes nothing
    assert [r.get_all("To") for r in rendered] == [m.to for m in holders + holders]
    assert len({r["Message-ID"] for r in rendered}) == 4


def test_the_restore_after_a_determination_is_a_second_notice(
    world, ops_user, determination, partner_admin, settings
):
    # Eligibility is another module's concern: these people are taken as eligible.
    settings.BULK_RESTORE_GATE = ""
    stop = _stop(world, ops_user, determination)
    access_notices_dispatch()
    approver = staff_user("ops")
    restore = bulk_plan(
        actor=approver,
        kind=BulkKind.RESTORE,
        filters={"organisation": world["grant"].organisation_id},
        reason="Licence BIS-2026-17 lets Northwind back in",
        suspension_kind=SuspensionKind.REGULATORY,
        reference=stop.bulk_action.reference,
    )
    bulk_approve(action=restore, actor=ops_user)
    bulk_execute(action=restore, actor=approver, run_now=True)

    access_notices_dispatch()

    notices = _notices(partner_admin)
    assert [n.verb for n in notices] == [Outcome.RESTORED, Outcome.SUSPENDED]
    assert "was restored on" in notices[0].message
    assert "The keys work again now" in notices[0].body


def test_a_screening_hold_says_nothing_of_the_match(world, partner_admin, compliance_officer):
    person = Person.objects.get(pk=world["keys"][1].person_id)
    credential_hold_person(
        person_id=person.pk,
        actor=compliance_officer,
        reason="potential match: SDN entry 36 IVANOV, Sergei (score 0.97)",
    )

    access_notices_dispatch()

    [notice] = _notices(partner_admin)
    assert notice.verb == Outcome.HELD
    assert "put on hold" in notice.message
    for secret in ("SDN", "IVANOV", "0.97", "match"):
        assert secret not in notice.message + notice.body


def test_a_rotation_tells_the_holder_but_not_the_admin_who_rotated(
    world, partner_admin, partner_member
):
    credential_rotate(actor=partner_admin, credential=world["keys"][0])

    access_notices_dispatch()

    assert _notices(partner_admin) == []
    [notice] = _notices(partner_member)
    assert notice.verb == Outcome.ROTATED
    assert "given a new key" in notice.message


def test_a_holder_who_left_the_organisation_hears_nothing(world, ops_user, determination):
    leaver = UserFactory(username="leaver")
    person = PersonFactory(organisation=world["grant"].organisation, user=leaver)
    world["grant"].seats = 10
    world["grant"].save(update_fields=["seats"])
    issue(world["grant"], person)  # a key but no membership

    _stop(world, ops_user, determination)
    access_notices_dispatch()

    assert _notices(leaver) == []


def test_decisions_before_the_cursor_started_are_history_not_news(
    world, ops_user, determination, partner_admin
):
    from portal.notifications.models import AccessNoticeCursor

    _stop(world, ops_user, determination)
    from foundation.audit.models import AuditEvent

    AccessNoticeCursor.objects.update_or_create(
        pk=1, defaults={"last_event_id": AuditEvent.objects.order_by("-id").first().pk}
    )
    access_notices_dispatch()
    assert _notices(partner_admin) == []


def test_a_decision_read_again_writes_and_counts_no_notice_twice(
    world, ops_user, determination, partner_admin
):
    from portal.notifications.models import AccessNoticeCursor

    _stop(world, ops_user, determination)
    first = access_notices_dispatch()
    AccessNoticeCursor.objects.filter(pk=1).update(last_event_id=0)  # read it all again

    assert first == Notification.objects.exclude(decision_key="").count() > 0
    assert access_notices_dispatch() == 0
    assert len(_notices(partner_admin)) == 1


# --- the organisation's own webhook --------------------------------------------------------


def _webhook_told_of_the_stop(world, ops_user, determination, partner_admin):
    """Our organisation registers an endpoint, then the stop's notices are dispatched: the
    endpoint and its one delivery."""
    registered = organisation_webhook_register(
        actor=partner_admin,
        organisation=world["grant"].organisation,
        url="https://hooks.northwind.example/clearance",
    )
    _stop(world, ops_user, determination)
    access_notices_dispatch()
    [delivery] = WebhookDelivery.objects.all()
    return registered, delivery


def test_the_organisations_endpoint_receives_the_same_event_signed(
    world, ops_user, determination, partner_admin, settings
):
    settings.ORGANISATION_WEBHOOK_ALLOW_PRIVATE = True
    registered, delivery = _webhook_told_of_the_stop(world, ops_user, determination, partner_admin)
    received: list[httpx.Request] = []

    def receiver(request: httpx.Request) -> httpx.Response:
        received.append(request)
        return httpx.Response(204)

    client = httpx.Client(transport=httpx.MockTransport(receiver))
    assert webhook_delivery_send(delivery_id=delivery.pk, client=client) is True

    [request] = received
    body = request.content.decode()
    headers = {k: v for k, v in request.headers.items() if k.startswith("webhook-")}
    verified = Webhook(registered.secret).verify(body, headers)
    assert verified["type"] == Outcome.SUSPENDED
    assert verified["data"]["organisation"] == "northwind"
    assert verified["data"]["keys"] == 3
    assert verified["data"]["reference"] == "BIS-2026-17"
    assert sorted(verified["data"]["key_prefixes"]) == sorted(k.key_prefix for k in world["keys"])
    assert world["their_key"].key_prefix not in json.dumps(verified)
    delivery.refresh_from_db()
    assert delivery.state == WebhookDeliveryState.DELIVERED
    # Delivered once: another attempt finds nothing to do.
    assert webhook_delivery_send(delivery_id=delivery.pk, client=client) is False


def test_a_refused_delivery_backs_off_and_keeps_the_same_message_id(
    world, ops_user, determination, partner_admin, settings
):
    settings.ORGANISATION_WEBHOOK_ALLOW_PRIVATE = True
    _, delivery = _webhook_told_of_the_stop(world, ops_user, determination, partner_admin)
    client = httpx.Client(transport=httpx.MockTransport(lambda r: httpx.Response(503)))

    assert webhook_delivery_send(delivery_id=delivery.pk, client=client) is False

    delivery.refresh_from_db()
    assert delivery.state == WebhookDeliveryState.FAILED
    assert delivery.attempts == 1
    assert delivery.last_error == "HTTP 503"
    assert delivery.message_id.startswith("msg_")


def test_an_endpoint_on_a_private_address_is_refused(organisation, partner_admin, settings):
    from portal.notifications.webhooks import WebhookEndpointError

    settings.ORGANISATION_WEBHOOK_ALLOW_PRIVATE = False
    with pytest.raises(WebhookEndpointError, match="https"):
        organisation_webhook_register(
            actor=partner_admin, organisation=organisation, url="http://hooks.example/x"
        )
    with pytest.raises(WebhookEndpointError, match="private address"):
        organisation_webhook_register(
            actor=partner_admin, organisation=organisation, url="https://127.0.0.1/x"
        )


def test_member_of_two_organisations_gets_one_notice_per_organisation(
    world, ops_user, determination, other_organisation, partner_admin
):
    add_member(other_organisation, partner_admin)
    _stop(world, ops_user, determination)
    access_notices_dispatch()
    # Admin here; a plain member there, holding no key there: nothing about the other one.
    assert len(_notices(partner_admin)) == 1


def test_the_notifications_page_shows_the_notice_with_reason_and_legal_basis(
    world, ops_user, determination, partner_admin
):
    from django.urls import reverse

    from tests.conftest import client_for

    _stop(world, ops_user, determination)
    access_notices_dispatch()

    response = client_for(partner_admin).get(reverse("notifications:list"))

    assert response.status_code == 200
    page = response.content.decode()
    assert "Mythos 5 access for 3 people of Northwind Cyber was suspended" in page
    assert "Legal basis: Export Administration Regulations, 15 CFR 744.23" in page
    assert '<span class="badge badge--count">1<' in page


def test_a_holder_collecting_their_own_key_tells_nobody(world, partner_admin, partner_member):
    from provisioning.credentials.services import credential_collect

    credential_collect(actor=partner_member, credential=world["keys"][0])

    access_notices_dispatch()

    assert _notices(partner_admin) == []
    assert _notices(partner_member) == []


def test_releasing_a_screening_hold_says_the_check_is_finished(
    world, partner_admin, compliance_officer
):
    from provisioning.credentials.services import credential_release_person

    person_id = world["keys"][1].person_id
    credential_hold_person(person_id=person_id, actor=compliance_officer, reason="hit")
    credential_release_person(person_id=person_id, actor=compliance_officer, reason="cleared")

    access_notices_dispatch()

    held, restored = sorted(_notices(partner_admin), key=lambda n: n.pk)
    assert held.verb == Outcome.HELD
    assert restored.verb == Outcome.RESTORED
    assert "The routine compliance check on the person is finished." in restored.body


def test_the_admin_registers_an_endpoint_on_the_page_and_sees_the_secret_once(
    organisation, partner_admin, partner_member, settings
):
    from django.urls import reverse

    from portal.notifications.models import OrganisationWebhook
    from tests.conftest import client_for

    settings.ORGANISATION_WEBHOOK_ALLOW_PRIVATE = True
    url = reverse("notifications:webhooks", args=[organisation.slug])
    assert (
        'href="' + url + '"'
        in client_for(partner_admin).get(reverse("partners:organisation")).content.decode()
    )

    response = client_for(partner_admin).post(
        url, {"url": "https://hooks.northwind.example/in", "description": "SOC"}
    )

    assert response.status_code == 200
    assert response["Cache-Control"] == "no-store"
    endpoint = OrganisationWebhook.objects.get()
    assert "whsec_" in response.content.decode()
    assert "whsec_" not in endpoint.secret_encrypted
    assert "whsec_" not in client_for(partner_admin).get(url).content.decode()
    assert client_for(partner_member).get(url).status_code == 404


def test_a_bad_endpoint_keeps_what_was_typed_with_the_reason(organisation, partner_admin, settings):
    from django.urls import reverse

    from tests.conftest import client_for

    settings.ORGANISATION_WEBHOOK_ALLOW_PRIVATE = False
    response = client_for(partner_admin).post(
        reverse("notifications:webhooks", args=[organisation.slug]),
        {"url": "http://hooks.example/in"},
    )
    assert response.status_code == 400
    page = response.content.decode()
    assert 'value="http://hooks.example/in"' in page
    assert "must be an https:// URL" in page


def test_a_rotation_by_staff_tells_the_holder_and_the_admins_and_how_to_collect(
    world, partner_admin, partner_member
):
    ops = staff_user("ops", username="ops-rotator")
    credential_rotate(actor=ops, credential=world["keys"][0])

    access_notices_dispatch()

    [notice] = _notices(partner_member)
    assert notice.verb == Outcome.ROTATED
    assert notice.message.startswith("Your Mythos 5 access was given a new key")
    assert "collects the new key from the Keys page" in notice.body
    [admin_notice] = _notices(partner_admin)
    assert "1 person of Northwind Cyber was given a new key" in admin_notice.message
    assert _notices(ops) == []
