"""Invitations: signed, expiring, single-use links; admins invite and remove members."""

from __future__ import annotations

import datetime as dt
import re

import pytest
from django.core import mail
from django.db import connection
from django.test.utils import CaptureQueriesContext
from django.urls import reverse
from django.utils import timezone

from foundation.audit.models import AuditEvent
from portal.partners.errors import InvitationError
from portal.partners.invitations import (
    invitation_accept,
    invitation_create,
    token_hash,
)
from portal.partners.models import Invitation, MemberRole, Membership
from tests.conftest import client_for
from tests.factories import UserFactory, add_member

pytestmark = pytest.mark.django_db


def token_of(link: str) -> str:
    return re.search(r"/invitations/([^/]+)/$", link).group(1)


@pytest.fixture
def invitee(db):
    return UserFactory(username="newcomer", email="newcomer@northwind.example")


def invite(admin, organisation, email="newcomer@northwind.example", role=MemberRole.MEMBER):
    return invitation_create(actor=admin, organisation=organisation, email=email, role=role)


def test_an_invitation_stores_only_a_hash_and_emails_a_signed_link(
    partner_admin, organisation, django_capture_on_commit_callbacks
):
    with django_capture_on_commit_callbacks(execute=True):
        issued = invite(partner_admin, organisation)

    token = token_of(issued.link)
    raw = token.split(":", 1)[0]
    invitation = Invitation.objects.get()
    assert invitation.token_hash == token_hash(raw)
    assert raw not in str(Invitation.objects.values().get())
    assert len(mail.outbox) == 1
    assert issued.link in mail.outbox[0].body
    assert mail.outbox[0].to == ["newcomer@northwind.example"]
    assert (
        abs(invitation.expires_at - invitation.created_at - dt.timedelta(days=7)).total_seconds()
        < 5
    )


def test_the_invitee_accepts_once_and_becomes_a_member_with_object_permissions(
    partner_admin, organisation, invitee
):
    issued = invite(partner_admin, organisation)

    membership = invitation_accept(signed_token=token_of(issued.link), user=invitee)

    assert membership.role == MemberRole.MEMBER
    assert invitee.has_perm("partners.view_organisation", organisation)
    assert not invitee.has_perm("partners.manage_members", organisation)
    invitation = Invitation.objects.get()
    assert invitation.accepted_by == invitee
    assert AuditEvent.objects.filter(action="invitation.accepted").count() == 1


def test_an_admin_invitation_grants_the_admin_permissions(partner_admin, organisation, invitee):
    issued = invite(partner_admin, organisation, role=MemberRole.ADMIN)

    invitation_accept(signed_token=token_of(issued.link), user=invitee)

    assert invitee.has_perm("partners.manage_members", organisation)


def test_a_reused_invitation_is_refused_and_changes_nothing(partner_admin, organisation, invitee):
    issued = invite(partner_admin, organisation)
    invitation_accept(signed_token=token_of(issued.link), user=invitee)

    with pytest.raises(InvitationError, match="already been used"):
        invitation_accept(signed_token=token_of(issued.link), user=invitee)

    assert Membership.objects.filter(organisation=organisation).count() == 2


def test_an_expired_invitation_is_refused(partner_admin, organisation, invitee, settings):
    issued = invite(partner_admin, organisation)
    Invitation.objects.update(expires_at=timezone.now() - dt.timedelta(seconds=1))

    with pytest.raises(InvitationError, match="expired"):
        invitation_accept(signed_token=token_of(issued.link), user=invitee)

    assert not Membership.objects.filter(user=invitee).exists()
    assert Invitation.objects.get().accepted_at is None


def test_a_link_older_than_the_maximum_age_is_refused_by_its_signature(
    partner_admin, organisation, invitee, settings, monkeypatch
):
    # given a link issued 8 days ago, whatever its row says
    issued = invite(partner_admin, organisation)
    Invitation.objects.update(expires_at=timezone.now() + dt.timedelta(days=30))
    later = (timezone.now() + dt.timedelta(days=8)).timestamp()
    monkeypatch.setattr("django.core.signing.time.time", lambda: later)

    # when / then
    with pytest.raises(InvitationError, match="expired"):
        invitation_accept(signed_token=token_of(issued.link), user=invitee)
    assert not Membership.objects.filter(user=invitee).exists()


def test_a_tampered_link_is_refused(partner_admin, organisation, invitee):
    issued = invite(partner_admin, organisation)
    token = token_of(issued.link)

    with pytest.raises(InvitationError, match="not valid"):
        invitation_accept(signed_token="x" + token, user=invitee)


def test_an_invitation_for_another_address_is_refused(partner_admin, organisation):
    issued = invite(partner_admin, organisation)
    stranger = UserFactory(email="stranger@elsewhere.example")

    with pytest.raises(InvitationError, match=r"was sent to newcomer@northwind\.example"):
        invitation_accept(signed_token=token_of(issued.link), user=stranger)

    assert Invitation.objects.get().accepted_at is None


def test_inviting_an_existing_member_is_refused(partner_admin, partner_member, organisation):
    with pytest.raises(InvitationError, match="already a member"):
        invite(partner_admin, organisation, email=partner_member.email.upper())

    assert Invitation.objects.count() == 0


def test_someone_who_became_a_member_meanwhile_cannot_accept(partner_admin, organisation, invitee):
    issued = invite(partner_admin, organisation)
    add_member(organisation, invitee)

    with pytest.raises(InvitationError, match="already a member"):
        invitation_accept(signed_token=token_of(issued.link), user=invitee)
    assert Invitation.objects.get().accepted_at is None


def test_inviting_an_address_again_withdraws_the_earlier_link(partner_admin, organisation, invitee):
    first = invite(partner_admin, organisation)
    second = invite(partner_admin, organisation)

    with pytest.raises(InvitationError, match="withdrawn"):
        invitation_accept(signed_token=token_of(first.link), user=invitee)
    invitation_accept(signed_token=token_of(second.link), user=invitee)
    assert Membership.objects.filter(user=invitee).exists()


# --- Pages ---------------------------------------------------------------------------


def test_an_admin_invites_from_the_members_page(partner_admin, organisation):
    response = client_for(partner_admin).post(
        reverse("partners:members", args=[organisation.slug]),
        {"email": "newcomer@northwind.example", "role": MemberRole.MEMBER},
    )

    assert response.status_code == 200
    assert b"An invitation was emailed to newcomer@northwind.example" in response.content
    assert Invitation.objects.filter(email="newcomer@northwind.example").exists()


def test_a_bad_invitation_form_keeps_the_input_and_shows_the_error(partner_admin, organisation):
    response = client_for(partner_admin).post(
        reverse("partners:members", args=[organisation.slug]),
        {"email": "not-an-address", "role": MemberRole.MEMBER},
    )

    assert b'value="not-an-address"' in response.content
    assert b"Enter a valid email address" in response.content
    assert Invitation.objects.count() == 0


def test_the_invitee_accepts_through_the_link(partner_admin, organisation, invitee):
    issued = invite(partner_admin, organisation)
    client = client_for(invitee)

    page = client.get(reverse("partners:invitation_accept", args=[token_of(issued.link)]))
    accepted = client.post(reverse("partners:invitation_accept", args=[token_of(issued.link)]))

    assert page.status_code == 200
    assert organisation.legal_name.encode() in page.content
    assert accepted.status_code == 302
    assert accepted["Location"] == reverse("eligibility:profile")
    assert Membership.objects.filter(user=invitee, organisation=organisation).exists()


def test_a_reused_link_shows_a_clear_message(partner_admin, organisation, invitee):
    issued = invite(partner_admin, organisation)
    url = reverse("partners:invitation_accept", args=[token_of(issued.link)])
    client_for(invitee).post(url)

    response = client_for(invitee).get(url)

    assert response.status_code == 400
    assert b"already" in response.content


def test_anonymous_invitees_are_sent_to_sign_in_first(client, partner_admin, organisation):
    issued = invite(partner_admin, organisation)
    url = reverse("partners:invitation_accept", args=[token_of(issued.link)])

    response = client.get(url)

    assert response.status_code == 302
    assert response["Location"].startswith("/accounts/login/")
    assert "next=" in response["Location"]


@pytest.mark.parametrize("persona", ["partner_member", "outsider"])
def test_members_and_outsiders_get_404_on_the_members_page(request, persona, organisation):
    response = client_for(request.getfixturevalue(persona)).get(
        reverse("partners:members", args=[organisation.slug])
    )

    assert response.status_code == 404


def test_anonymous_is_sent_to_sign_in_from_the_members_page(client, organisation):
    response = client.get(reverse("partners:members", args=[organisation.slug]))

    assert response.status_code == 302
    assert response["Location"].startswith("/accounts/login/")


def test_staff_without_mfa_are_sent_to_set_it_up_from_the_members_page(
    staff_without_mfa, organisation
):
    response = client_for(staff_without_mfa).get(
        reverse("partners:members", args=[organisation.slug])
    )

    assert response["Location"] == reverse("mfa_index")


def test_an_admin_removes_a_member_and_their_permissions_go(
    partner_admin, partner_member, organisation
):
    membership = Membership.objects.get(user=partner_member)

    response = client_for(partner_admin).post(
        reverse("partners:member_remove", args=[organisation.slug, membership.pk])
    )

    assert response.status_code == 302
    assert not Membership.objects.filter(user=partner_member).exists()
    assert not partner_member.has_perm("partners.view_organisation", organisation)
    assert AuditEvent.objects.filter(action="membership.removed").count() == 1


def test_the_last_admin_cannot_be_removed(partner_admin, organisation):
    from portal.partners.errors import MembershipError
    from portal.partners.services import membership_remove

    with pytest.raises(MembershipError, match="last admin"):
        membership_remove(
            actor=partner_admin, membership=Membership.objects.get(user=partner_admin)
        )


def test_the_outsider_cannot_remove_our_members(outsider, partner_member, organisation):
    membership = Membership.objects.get(user=partner_member)

    response = client_for(outsider).post(
        reverse("partners:member_remove", args=[organisation.slug, membership.pk])
    )

    assert response.status_code == 404
    assert Membership.objects.filter(user=partner_member).exists()


def test_an_admin_withdraws_an_open_invitation(partner_admin, organisation, invitee):
    issued = invite(partner_admin, organisation)

    client_for(partner_admin).post(
        reverse("partners:invitation_revoke", args=[organisation.slug, issued.invitation.pk])
    )

    with pytest.raises(InvitationError, match="withdrawn"):
        invitation_accept(signed_token=token_of(issued.link), user=invitee)


def test_the_outsider_cannot_withdraw_our_invitations(outsider, partner_admin, organisation):
    issued = invite(partner_admin, organisation)

    response = client_for(outsider).post(
        reverse("partners:invitation_revoke", args=[organisation.slug, issued.invitation.pk])
    )

    assert response.status_code == 404
    assert Invitation.objects.get().revoked_at is None


def test_the_members_page_lists_members_with_search_and_pagination(partner_admin, organisation):
    for n in range(30):
        add_member(organisation, UserFactory(username=f"crew{n:02d}"))

    client = client_for(partner_admin)
    first = client.get(reverse("partners:members", args=[organisation.slug]))
    searched = client.get(reverse("partners:members", args=[organisation.slug]), {"q": "crew07"})

    assert len(first.context["page"].object_list) == 25
    assert [m.user.username for m in searched.context["page"].object_list] == ["crew07"]


def test_the_members_page_costs_the_same_queries_for_many_members_as_for_few(
    partner_admin, organisation, django_assert_num_queries
):
    client = client_for(partner_admin)
    url = reverse("partners:members", args=[organisation.slug])
    add_member(organisation, UserFactory())
    assert client.get(url).status_code == 200  # warms per-process caches
    with CaptureQueriesContext(connection) as few:
        response = client.get(url)
    assert response.status_code == 200
    assert response.context["page"].paginator.count == 2
    for n in range(40):
        add_member(organisation, UserFactory())
        invite(partner_admin, organisation, email=f"x{n}@northwind.example")

    with django_assert_num_queries(len(few.captured_queries)):
        response = client.get(url)

    assert response.status_code == 200
    assert response.context["page"].paginator.count == 42
