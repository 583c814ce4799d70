"""A service that a view, task or command calls opens the outermost transaction
(``durable=True``): its ``on_commit`` side effects fire only once its writes are committed,
so calling it inside somebody else's transaction is refused instead of silently deferred."""

from __future__ import annotations

import pytest
from django.db import transaction

from portal.accounts.models import User
from portal.api.models import ApiToken
from portal.api.services import api_token_issue, api_token_revoke


@pytest.mark.django_db
def test_an_entry_point_refuses_to_run_inside_another_transaction(partner_admin: User) -> None:
    issued = api_token_issue(actor=partner_admin, user=partner_admin, name="ci", scopes=["read"])
    with pytest.raises(RuntimeError, match="durable"), transaction.atomic():
        api_token_revoke(actor=partner_admin, token=issued.token)
    assert ApiToken.objects.get(pk=issued.token.pk).revoked_at is None


@pytest.mark.django_db
def test_an_entry_point_runs_as_the_outermost_transaction(partner_admin: User) -> None:
    issued = api_token_issue(actor=partner_admin, user=partner_admin, name="ci", scopes=["read"])
    api_token_revoke(actor=partner_admin, token=issued.token)
    assert ApiToken.objects.get(pk=issued.token.pk).revoked_at is not None
