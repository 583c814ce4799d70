"""The one token module: a row is found by its prefix and proven by its hash, whichever
kind of token it is, and a use is written down at most once a minute."""

from __future__ import annotations

import datetime as dt

import pytest
from django.utils import timezone

from foundation.tokens import (
    LAST_USED_GRANULARITY,
    SCIM_SCHEME,
    TOKEN_SCHEME,
    token_lookup,
)
from portal.api.models import ApiToken
from portal.api.services import api_token_issue
from portal.scim.models import ScimToken
from portal.scim.services import scim_token_issue

pytestmark = pytest.mark.django_db


def test_each_kind_of_token_finds_its_own_row_and_only_with_the_whole_secret(
    partner_admin, organisation
):
    # given
    api = api_token_issue(actor=partner_admin, user=partner_admin, name="ci", scopes=["read"])
    scim = scim_token_issue(actor=None, organisation=organisation, acting_user=partner_admin)
    # then
    assert token_lookup(ApiToken.objects.all(), api.plaintext, TOKEN_SCHEME) == api.token
    assert token_lookup(ScimToken.objects.all(), scim, SCIM_SCHEME) == ScimToken.objects.get()
    # a token of the other kind, a wrong secret or a malformed one finds nothing
    assert token_lookup(ApiToken.objects.all(), scim, TOKEN_SCHEME) is None
    assert token_lookup(ScimToken.objects.all(), api.plaintext, SCIM_SCHEME) is None
    assert token_lookup(ApiToken.objects.all(), api.plaintext[:-1] + "x", TOKEN_SCHEME) is None
    assert token_lookup(ApiToken.objects.all(), "clrp_\x00_nope", TOKEN_SCHEME) is None


def test_a_use_is_written_once_per_minute(partner_admin):
    # given
    token = api_token_issue(
        actor=partner_admin, user=partner_admin, name="ci", scopes=["read"]
    ).token
    first = timezone.now()
    # when
    token.mark_used(first)
    token.mark_used(first + LAST_USED_GRANULARITY - dt.timedelta(seconds=1))
    # then
    assert ApiToken.objects.get().last_used_at == first
    # and a use after the minute moves it on
    later = first + LAST_USED_GRANULARITY + dt.timedelta(seconds=1)
    token.mark_used(later)
    assert ApiToken.objects.get().last_used_at == later == token.last_used_at
