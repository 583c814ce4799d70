"""The story of DESIGN.md §1 on the demo data: the world, deliveries, and the SCIM check.

Shared by the scenario test (services) and the browser walk-through (UI).
"""

from __future__ import annotations

import datetime as dt
import io
import time
from typing import Any

from portal.accounts.models import User
from portal.eligibility.models import Person
from portal.partners.models import Organisation
from portal.web.demo import seed_demo
from provisioning.catalog.models import Stage
from provisioning.connectors.scim import ScimConnector
from provisioning.credentials.models import Credential, CredentialState
from provisioning.credentials.services import credential_issue
from provisioning.deliveries.blocks import model_block_send
from provisioning.deliveries.models import Change, ModelBlock, ModelBlockState, Target
from provisioning.deliveries.relay import relay_until_idle
from provisioning.grants.services import grant_create
from tests.connector_states import scim_config

# Who has mythos-5 back once the licence is in force and the emergency stop is lifted:
# the trusted partners' (cyber defence, energy) US persons; not Li Wei (CN, not a US
# person), not untrusted Albion, and nobody on fable.
RESTORED = {
    ("mythos-5", "Nadia Reyes"),
    ("mythos-5", "Omid Farahani"),
    ("mythos-5", "Grace Okafor"),
    ("mythos-5", "Erik Lindqvist"),
}


# What the restore that lifts the mythos-5 emergency stop holds back, and why: Li Wei is
# not a US person; Albion is not a trusted partner. Nobody on fable: it is not stopped.
HELD_BACK = {
    ("mythos-5", "Li Wei"): "person_rule",
    ("mythos-5", "Oliver Hughes"): "organisation_not_allowed",
    ("mythos-5", "Aoife Byrne"): "organisation_not_allowed",
}

BLOCK = {"kind": "blocked"}
LICENCE = {
    "kind": "partners_only",
    "allowed_sectors": ["cyber_defence", "critical_infrastructure"],
    "us_persons_only": True,
}


def drafted(
    author: Any,
    reference: str,
    mythos_rule: dict[str, Any],
    *,
    legal_basis: str = "Export order",
    effective_date: dt.date = dt.date(2026, 11, 27),
) -> Any:
    """A determination for the two demo models (fable blocked) with its letter, drafted."""
    from portal.compliance.services import determination_draft
    from provisioning.catalog.models import CoveredModel

    models = dict(CoveredModel.objects.values_list("slug", "pk"))
    return determination_draft(
        actor=author,
        reference=reference,
        legal_basis=legal_basis,
        effective_date=effective_date,
        rules={models["mythos-5"]: mythos_rule, models["fable"]: BLOCK},
        document=io.BytesIO(b"%PDF-1.4\n% determination letter\n"),
        document_name="letter.pdf",
    )


def licence_drafted(author: Any, reference: str, mythos_rule: dict[str, Any] = LICENCE) -> Any:
    """The licence that follows the block, effective the day after it: drafted, not signed."""
    return drafted(
        author,
        reference,
        mythos_rule,
        legal_basis="Licence",
        effective_date=dt.date(2026, 11, 28),
    )


def in_force(author: Any, approver: Any, reference: str, mythos_rule: dict[str, Any]) -> Any:
    """A determination for the two demo models (fable blocked), signed by two officers."""
    from portal.compliance.services import (
        determination_apply,
        determination_approve,
        determination_submit,
    )

    determination = drafted(author, reference, mythos_rule)
    determination_submit(determination=determination, actor=author)
    determination_approve(determination=determination, actor=approver)
    return determination_apply(determination=determination, actor=author)


def deliver(*, timeout: float = 180.0) -> None:
    """What the worker does after a commit: model-wide blocks first, then the relay, until
    every target's cursor has passed the last change.

    On PostgreSQL the relay reads only below the oldest transaction still running in the
    whole cluster; on a shared server other databases' transactions hold it back for a
    while, so keep relaying, as beat would, until it has caught up.
    """
    for block_id in ModelBlock.objects.filter(state=ModelBlockState.PENDING).values_list(
        "pk", flat=True
    ):
        model_block_send(block_id=block_id)
    deadline = time.monotonic() + timeout
    while True:
        relay_until_idle()
        last = Change.objects.order_by("-xid", "-id").values_list("xid", "id").first()
        behind = [
            t
            for t in Target.objects.filter(enabled=True).values_list("cursor_xid", "cursor_id")
            if last is not None and t < last
        ]
        if not behind:
            return
        assert time.monotonic() < deadline, f"the relay did not catch up with change {last}"
        time.sleep(0.25)


def active_keys() -> set[tuple[str, str]]:
    return set(
        Credential.objects.filter(state=CredentialState.ACTIVE).values_list(
            "grant__covered_model__slug", "person__legal_name"
        )
    )


def scim_agrees(url: str, token: str) -> set[int]:
    """The SCIM server's active users must be exactly the database's active keys."""
    connector = ScimConnector(scim_config(url, token))
    try:
        actual = connector.read_state()
    finally:
        connector.close()
    assert actual is not None
    credentials = dict(Credential.objects.values_list("pk", "version"))
    active = set(
        Credential.objects.filter(state=CredentialState.ACTIVE).values_list("pk", flat=True)
    )
    assert set(actual) == set(credentials)
    assert {pk for pk, state in actual.items() if state.active and state.groups} == active
    assert {pk: state.version for pk, state in actual.items()} == credentials
    return active


def demo_world() -> dict[str, User]:
    """The demo story, plus mythos-5 for Gridline (trusted, energy) and Albion (untrusted);
    its accounts by username (``ops1``, ``compliance2`` ...)."""
    seed_demo()
    limited = Stage.objects.get(covered_model__slug="mythos-5", name="limited")
    for slug in ("gridline-energy", "albion-secure"):
        organisation = Organisation.objects.get(slug=slug)
        grant = grant_create(actor=None, organisation=organisation, stage=limited, reason="demo")
        for person in Person.objects.filter(organisation=organisation, user__isnull=False):
            credential_issue(actor=None, grant=grant, person=person)
    albion_fable = Stage.objects.get(covered_model__slug="fable", name="full")
    grant_create(
        actor=None,
        organisation=Organisation.objects.get(slug="albion-secure"),
        stage=albion_fable,
        reason="demo",
    )
    return {user.username: user for user in User.objects.all()}
