"""The keys and the campaign that the certification page and API tests share."""

from __future__ import annotations

import datetime as dt
from typing import Any

from django.utils import timezone

from portal.accounts.models import User
from portal.certification.models import Campaign
from portal.certification.services import campaign_open
from portal.partners.models import MemberRole, Organisation
from provisioning.catalog.models import Stage
from provisioning.credentials.services import IssuedKey
from tests.factories import OrganisationFactory, PersonFactory, UserFactory, add_member
from tests.provisioning_fakes import active_grant, issue


def keys_on(stage: Stage, ours: Organisation, theirs: Organisation) -> dict[str, IssuedKey]:
    """Two of our people (Ada, Bob) and one of the other organisation's (Zed) hold keys on
    the stage's model."""
    our_grant = active_grant(organisation=ours, stage=stage)
    their_grant = active_grant(organisation=theirs, stage=stage)
    return {
        "ada": issue(our_grant, PersonFactory(organisation=ours, legal_name="Ada Ours")),
        "bob": issue(our_grant, PersonFactory(organisation=ours, legal_name="Bob Ours")),
        "zed": issue(their_grant, PersonFactory(organisation=theirs, legal_name="Zed Theirs")),
    }


def acme_and_its_admin(**admin_fields: Any) -> tuple[Organisation, User]:
    """Acme Grid, a partner organisation besides ours, and the admin who certifies for it."""
    acme = OrganisationFactory(slug="acme", legal_name="Acme Grid")
    admin = UserFactory(username="acme-admin", **admin_fields)
    add_member(acme, admin, MemberRole.ADMIN)
    return acme, admin


def open_campaign(stage: Stage, actor: User, **kwargs: Any) -> Campaign:
    """The "Q4 recertification" campaign on the stage's model, due in ten days."""
    return campaign_open(
        actor=actor,
        title="Q4 recertification",
        covered_model=stage.covered_model,
        deadline=timezone.now() + dt.timedelta(days=10),
        **kwargs,
    )
