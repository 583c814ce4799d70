"""Inbound SCIM 2.0: a partner's identity provider provisions and deprovisions members."""

from __future__ import annotations

import json
import threading

import pytest
from django.test import Client

from foundation.audit.models import AuditEvent
from portal.partners.models import Invitation, Membership
from portal.scim.models import ScimGroup, ScimToken, ScimUser
from portal.scim.services import scim_token_issue
from provisioning.credentials.models import CredentialState
from tests.concurrency import in_threads
from tests.factories import CompletePersonFactory, UserFactory, add_member
from tests.provisioning_fakes import active_grant, issue

SCIM = "application/scim+json"
ERROR = "urn:ietf:params:scim:api:messages:2.0:Error"
USER_SCHEMA = "urn:ietf:params:scim:schemas:core:2.0:User"
GROUP_SCHEMA = "urn:ietf:params:scim:schemas:core:2.0:Group"
PATCH = "urn:ietf:params:scim:api:messages:2.0:PatchOp"


@pytest.fixture
def scim(organisation, partner_admin) -> Client:
    token = scim_token_issue(actor=None, organisation=organisation, acting_user=partner_admin)
    return Client(HTTP_AUTHORIZATION=f"Bearer {token}")


@pytest.fixture
def other_scim(other_organisation, outsider) -> Client:
    token = scim_token_issue(actor=None, organisation=other_organisation, acting_user=outsider)
    return Client(HTTP_AUTHORIZATION=f"Bearer {token}")


def _send(client, method, path, body, **headers):
    data = body if isinstance(body, (str, bytes)) else json.dumps(body)
    return getattr(client, method)(f"/scim/v2/{path}", data, content_type=SCIM, **headers)


def _members_patch(client, group_id, op, member_id):
    """A PATCH of the group that adds or removes one member by its id."""
    operation = {"op": op, "path": "members", "value": [{"value": member_id}]}
    return _send(
        client, "patch", f"Groups/{group_id}", {"schemas": [PATCH], "Operations": [operation]}
    )


def _user(client, user_name="ada@northwind.example", **extra):
    body = {
        "schemas": [USER_SCHEMA],
        "userName": user_name,
        "emails": [{"value": user_name, "type": "work", "primary": True}],
        **extra,
    }
    return _send(client, "post", "Users", body)


def _assert_scim_error(response, status, scim_type=None):
    assert response.status_code == status
    body = response.json()
    assert body["schemas"] == [ERROR]
    assert body["status"] == str(status)
    assert body["detail"]
    if scim_type:
        assert body["scimType"] == scim_type


# --- authentication and isolation ------------------------------------------------------


def test_requests_without_a_token_are_401(db):
    response = Client().get("/scim/v2/Users")
    _assert_scim_error(response, 401)
    assert response["WWW-Authenticate"].startswith("Bearer")


def test_a_personal_api_token_is_not_a_scim_token(partner_admin):
    from tests.api_helpers import token_for

    response = Client(HTTP_AUTHORIZATION=f"Bearer {token_for(partner_admin)}").get("/scim/v2/Users")
    _assert_scim_error(response, 401)


def test_another_organisations_token_sees_nothing_of_ours(scim, other_scim):
    # given
    created = _user(scim).json()
    group = _send(scim, "post", "Groups", {"displayName": "Ops"}).json()
    # when
    users = other_scim.get("/scim/v2/Users").json()
    # then
    assert users["totalResults"] == 0
    _assert_scim_error(other_scim.get(f"/scim/v2/Users/{created['id']}"), 404)
    _assert_scim_error(other_scim.get(f"/scim/v2/Groups/{group['id']}"), 404)
    _assert_scim_error(other_scim.delete(f"/scim/v2/Users/{created['id']}"), 404)
    response = _send(
        other_scim,
        "post",
        "Groups",
        {"displayName": "Theirs", "members": [{"value": created["id"]}]},
    )
    _assert_scim_error(response, 400, "invalidValue")
    assert ScimUser.objects.get(scim_id=created["id"]).active is not False


# --- provisioning ------------------------------------------------------------------------


def test_creating_a_user_invites_them_into_the_organisation(scim, organisation):
    # when
    response = _user(scim, "ada@northwind.example", name={"givenName": "Ada"})
    # then
    assert response.status_code == 201
    assert response["Content-Type"] == SCIM
    body = response.json()
    assert body["meta"]["version"] == 'W/"1"'
    assert response["ETag"] == 'W/"1"'
    assert response["Location"].endswith(f"/scim/v2/Users/{body['id']}")
    invitation = Invitation.objects.get(organisation=organisation, email="ada@northwind.example")
    assert invitation.is_open


def test_a_duplicate_user_name_is_a_409_uniqueness(scim):
    _user(scim, "ada@northwind.example")
    response = _user(scim, "ADA@northwind.example")
    _assert_scim_error(response, 409, "uniqueness")
    assert ScimUser.objects.count() == 1


@pytest.fixture
def member_with_credentials(organisation, partner_admin):
    """A member with a live credential, known to the identity provider as a SCIM user."""
    user = UserFactory(username="ada", email="ada@northwind.example")
    add_member(organisation, user, "member")
    person = CompletePersonFactory(organisation=organisation, user=user)
    grant = active_grant(organisation=organisation)
    credential = issue(grant, person).credential
    return user, credential


def test_setting_active_false_removes_the_member_and_revokes_credentials_at_once(
    scim, organisation, member_with_credentials
):
    # given
    user, credential = member_with_credentials
    created = _user(scim, "ada@northwind.example").json()
    assert not Invitation.objects.filter(email="ada@northwind.example").exists()
    # when
    response = _send(
        scim,
        "patch",
        f"Users/{created['id']}",
        {"schemas": [PATCH], "Operations": [{"op": "Replace", "path": "active", "value": "False"}]},
    )
    # then
    assert response.status_code == 200
    assert response.json()["active"] is False
    credential.refresh_from_db()
    assert credential.state == CredentialState.REVOKED
    assert not Membership.objects.filter(organisation=organisation, user=user).exists()


def test_deleting_a_user_deprovisions_them(scim, organisation, member_with_credentials):
    # given
    user, credential = member_with_credentials
    created = _user(scim, "ada@northwind.example").json()
    # when
    response = scim.delete(f"/scim/v2/Users/{created['id']}")
    # then
    assert response.status_code == 204
    credential.refresh_from_db()
    assert credential.state == CredentialState.REVOKED
    assert not Membership.objects.filter(organisation=organisation, user=user).exists()
    _assert_scim_error(scim.get(f"/scim/v2/Users/{created['id']}"), 404)


def test_deactivating_an_invited_user_withdraws_the_invitation(scim):
    created = _user(scim, "bob@northwind.example").json()
    _send(
        scim,
        "put",
        f"Users/{created['id']}",
        {
            "userName": "bob@northwind.example",
            "emails": [{"value": "bob@northwind.example", "primary": True}],
            "active": False,
        },
    )
    invitation = Invitation.objects.get(email="bob@northwind.example")
    assert invitation.revoked_at is not None


def test_deprovisioning_the_last_admin_is_refused_and_changes_nothing(scim, partner_admin):
    # given
    created = _user(scim, partner_admin.email).json()
    # when
    response = _send(
        scim,
        "patch",
        f"Users/{created['id']}",
        {"schemas": [PATCH], "Operations": [{"op": "replace", "value": {"active": False}}]},
    )
    # then
    _assert_scim_error(response, 409)
    assert partner_admin.memberships.exists()
    stored = ScimUser.objects.get(scim_id=created["id"])
    assert stored.active is not False
    assert stored.version == 1


# --- ETags -------------------------------------------------------------------------------


def test_a_stale_if_match_is_a_412_and_changes_nothing(scim):
    # given
    created = _user(scim).json()
    _send(
        scim,
        "patch",
        f"Users/{created['id']}",
        {"schemas": [PATCH], "Operations": [{"op": "add", "path": "displayName", "value": "Ada"}]},
    )
    # when
    response = _send(
        scim,
        "patch",
        f"Users/{created['id']}",
        {"schemas": [PATCH], "Operations": [{"op": "add", "path": "displayName", "value": "X"}]},
        HTTP_IF_MATCH='W/"1"',
    )
    # then
    _assert_scim_error(response, 412)
    assert ScimUser.objects.get(scim_id=created["id"]).display_name == "Ada"


def test_a_current_if_match_is_accepted_and_bumps_the_version(scim):
    created = _user(scim).json()
    response = _send(
        scim,
        "put",
        f"Users/{created['id']}",
        {"userName": "ada@northwind.example", "displayName": "Ada L."},
        HTTP_IF_MATCH='W/"1"',
    )
    assert response.status_code == 200
    assert response["ETag"] == 'W/"2"'


# --- filters and pagination --------------------------------------------------------------


@pytest.fixture
def three_users(scim):
    for name in ("ada@northwind.example", "adam@northwind.example", "bob@other.example"):
        _user(scim, name)


@pytest.mark.parametrize(
    ("expression", "expected"),
    [
        ('userName eq "ADA@northwind.example"', {"ada@northwind.example"}),
        ('userName sw "ada"', {"ada@northwind.example", "adam@northwind.example"}),
        ('userName co "other"', {"bob@other.example"}),
        ('emails eq "bob@other.example"', {"bob@other.example"}),
        ('emails.value sw "adam@"', {"adam@northwind.example"}),
        ('emails co "northwind"', {"ada@northwind.example", "adam@northwind.example"}),
        (
            'userName eq "ada@northwind.example" or userName eq "bob@other.example"',
            {"ada@northwind.example", "bob@other.example"},
        ),
        ('userName eq "nobody@x.example"', set()),
    ],
)
def test_users_are_filtered(scim, three_users, expression, expected):
    response = scim.get("/scim/v2/Users", {"filter": expression})
    assert response.status_code == 200
    assert {u["userName"] for u in response.json()["Resources"]} == expected
    assert response.json()["totalResults"] == len(expected)


@pytest.mark.parametrize(
    "expression",
    ['password eq "x"', "userName eq", 'userName gt "a"', '(userName eq "a")', "nonsense"],
)
def test_an_unsupported_filter_is_a_400_invalid_filter(scim, expression):
    _assert_scim_error(scim.get("/scim/v2/Users", {"filter": expression}), 400, "invalidFilter")


def test_users_are_paged_with_start_index_and_count(scim, three_users):
    page = scim.get("/scim/v2/Users", {"startIndex": 2, "count": 1}).json()
    assert page["totalResults"] == 3
    assert page["startIndex"] == 2
    assert page["itemsPerPage"] == 1
    assert [u["userName"] for u in page["Resources"]] == ["adam@northwind.example"]


# --- bad input ---------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("body", "scim_type"),
    [
        ("{not json", "invalidSyntax"),
        ("[1, 2]", "invalidSyntax"),
        ({"userName": "a@b.example", "nickName": "x"}, "invalidSyntax"),
        ({"userName": 42}, "invalidValue"),
        ({"userName": "a@b.example", "active": "sometimes"}, "invalidValue"),
        ({"userName": "a@b.example", "emails": "a@b.example"}, "invalidValue"),
        ({"userName": "a@b.example", "emails": [{"value": "not-an-address"}]}, "invalidValue"),
        ({"userName": ""}, "invalidValue"),
        ({"userName": "a@b.example", "schemas": ["urn:example:Other"]}, "invalidValue"),
    ],
)
def test_bad_user_documents_are_precise_400s_and_save_nothing(scim, body, scim_type):
    response = _send(scim, "post", "Users", body)
    _assert_scim_error(response, 400, scim_type)
    assert ScimUser.objects.count() == 0
    assert not Invitation.objects.exists()


def test_a_huge_payload_is_a_413_before_it_is_read(scim, settings):
    settings.SCIM_MAX_PAYLOAD_BYTES = 2048
    body = {"userName": "a@b.example", "displayName": "x" * 5000}
    _assert_scim_error(_send(scim, "post", "Users", body), 413)
    assert ScimUser.objects.count() == 0


def test_a_body_that_is_not_json_is_a_415(scim):
    response = scim.post("/scim/v2/Users", "userName=a", content_type="text/plain")
    _assert_scim_error(response, 415)


@pytest.mark.parametrize(
    ("operations", "scim_type"),
    [
        ([{"op": "remove"}], "noTarget"),
        ([{"op": "explode", "path": "active"}], "invalidSyntax"),
        ([{"op": "add", "path": "nickName", "value": "x"}], "invalidPath"),
        ([{"op": "replace", "path": "active", "value": 3}], "invalidValue"),
        ([{"op": "remove", "path": "userName"}], "invalidValue"),
        ([{"op": "add", "path": "name..x", "value": "x"}], "invalidPath"),
        ([{"op": "add", "path": "emails[type gt 1]", "value": "x"}], "invalidFilter"),
    ],
)
def test_bad_patches_are_refused_whole(scim, operations, scim_type):
    # given
    created = _user(scim).json()
    ops = [{"op": "replace", "path": "displayName", "value": "Changed"}, *operations]
    # when
    response = _send(
        scim, "patch", f"Users/{created['id']}", {"schemas": [PATCH], "Operations": ops}
    )
    # then
    _assert_scim_error(response, 400, scim_type)
    stored = ScimUser.objects.get(scim_id=created["id"])
    assert stored.display_name == ""
    assert stored.version == 1


def test_an_unknown_id_is_a_404(scim):
    _assert_scim_error(scim.get("/scim/v2/Users/not-a-uuid"), 404)
    _assert_scim_error(scim.get("/scim/v2/Groups/4c7c3f0e-0000-4000-8000-000000000000"), 404)


# --- groups --------------------------------------------------------------------------------


def test_group_members_are_added_and_removed_by_patch(scim):
    # given
    ada = _user(scim, "ada@northwind.example").json()["id"]
    bob = _user(scim, "bob@northwind.example").json()["id"]
    group = _send(scim, "post", "Groups", {"displayName": "Defenders", "members": [{"value": ada}]})
    group_id = group.json()["id"]
    # when
    _members_patch(scim, group_id, "add", bob)
    removed = _send(
        scim,
        "patch",
        f"Groups/{group_id}",
        {
            "schemas": [PATCH],
            "Operations": [{"op": "remove", "path": f'members[value eq "{ada}"]'}],
        },
    )
    # then
    assert [m["value"] for m in removed.json()["members"]] == [bob]
    assert removed.json()["meta"]["version"] == 'W/"3"'
    filtered = scim.get("/scim/v2/Groups", {"filter": 'displayName eq "defenders"'}).json()
    assert filtered["totalResults"] == 1


@pytest.mark.django_db(transaction=True)
def test_parallel_group_patches_lose_no_member(organisation, partner_admin):
    # given
    token = scim_token_issue(actor=None, organisation=organisation, acting_user=partner_admin)
    client = Client(HTTP_AUTHORIZATION=f"Bearer {token}")
    ids = [_user(client, f"u{n}@northwind.example").json()["id"] for n in range(12)]
    group_id = _send(client, "post", "Groups", {"displayName": "Everyone"}).json()["id"]
    barrier = threading.Barrier(len(ids))
    codes: list[int] = []

    def add(member_id: str) -> None:
        own = Client(HTTP_AUTHORIZATION=f"Bearer {token}")
        barrier.wait()
        response = _members_patch(own, group_id, "add", member_id)
        codes.append(response.status_code)

    # when
    in_threads(add, [(member_id,) for member_id in ids])
    # then
    assert codes == [200] * len(ids)
    group = ScimGroup.objects.get(scim_id=group_id)
    assert {str(u.scim_id) for u in group.members.all()} == set(ids)
    assert group.version == 1 + len(ids)


# --- discovery ------------------------------------------------------------------------------


def test_the_discovery_endpoints_describe_users_and_groups(scim):
    config = scim.get("/scim/v2/ServiceProviderConfig").json()
    types = scim.get("/scim/v2/ResourceTypes").json()
    schemas = scim.get("/scim/v2/Schemas").json()
    assert config["patch"]["supported"] is True
    assert config["etag"]["supported"] is True
    assert {t["id"] for t in types["Resources"]} == {"User", "Group"}
    assert {s["id"] for s in schemas["Resources"]} == {USER_SCHEMA, GROUP_SCHEMA}
    assert scim.get(f"/scim/v2/Schemas/{USER_SCHEMA}").json()["name"] == "User"


def test_scim_writes_need_no_csrf_token(organisation, partner_admin):
    token = scim_token_issue(actor=None, organisation=organisation, acting_user=partner_admin)
    client = Client(enforce_csrf_checks=True, HTTP_AUTHORIZATION=f"Bearer {token}")
    assert _user(client).status_code == 201


def test_the_scim_token_command_prints_a_working_token(organisation, partner_admin):
    import io

    from django.core.management import call_command

    out = io.StringIO()
    call_command("scim_token", "--org", "northwind", stdout=out)
    token = out.getvalue().strip()
    assert Client(HTTP_AUTHORIZATION=f"Bearer {token}").get("/scim/v2/Users").status_code == 200


def test_entra_style_member_removal_removes_only_the_listed_members(scim):
    # given
    ada = _user(scim, "ada@northwind.example").json()["id"]
    bob = _user(scim, "bob@northwind.example").json()["id"]
    body = {"displayName": "Defenders", "members": [{"value": ada}, {"value": bob}]}
    group_id = _send(scim, "post", "Groups", body).json()["id"]
    # when
    response = _members_patch(scim, group_id, "Remove", ada)
    # then
    assert [m["value"] for m in response.json()["members"]] == [bob]


def test_okta_style_replace_with_the_id_in_the_value_is_accepted(scim):
    group = _send(scim, "post", "Groups", {"displayName": "Old"}).json()
    response = _send(
        scim,
        "patch",
        f"Groups/{group['id']}",
        {
            "schemas": [PATCH],
            "Operations": [{"op": "replace", "value": {"id": group["id"], "displayName": "New"}}],
        },
    )
    assert response.status_code == 200
    assert response.json()["displayName"] == "New"


def test_each_change_is_audited_as_the_tokens_admin_naming_the_token(
    scim, organisation, partner_admin
):
    # when
    ada = _user(scim).json()["id"]
    _send(scim, "post", "Groups", {"displayName": "Defenders", "members": [{"value": ada}]})
    # then
    prefix = ScimToken.objects.get().prefix
    created = AuditEvent.objects.get(action="scim.user_created")
    grouped = AuditEvent.objects.get(action="scim.group_created")
    for event in (created, grouped):
        assert event.actor == partner_admin
        assert event.organisation_id == organisation.pk
        assert event.reason == f"SCIM token clrs_{prefix}_…"
    assert created.after == {"userName": "ada@northwind.example", "active": None, "version": 1}
    assert grouped.after == {"displayName": "Defenders", "members": 1, "version": 1}
