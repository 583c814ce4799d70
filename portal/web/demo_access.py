"""Demo data for access: the story's starting point, active grants and keys before any ban.

Called from ``portal.web.demo.seed_demo``; safe to run twice. Demo keys are derived from
SECRET_KEY and the credential's names, so ``seed_demo --json`` can print them again while
the database, as for every key, holds only their hash.

With ``DEMO_SCIM_URL`` set (``scripts/run_demo.sh`` sets it to the local scim2-server it
starts), the seed also registers that server as the SCIM target ``demo-scim``, so the
demo's keys become users there and a suspension shows up as ``active: false``.
"""

from __future__ import annotations

import hashlib
import hmac
from dataclasses import dataclass

from django.conf import settings

from foundation.tokens import NewToken, token_from_material, token_matches
from portal.accounts.models import User
from portal.eligibility.models import Person
from portal.partners.models import Organisation
from provisioning.catalog.models import Stage
from provisioning.credentials.models import Credential, CredentialState
from provisioning.credentials.services import credential_issue
from provisioning.deliveries.models import Target, TargetKind
from provisioning.deliveries.services import target_create, target_replay, target_update
from provisioning.grants.models import LIVE_GRANT_STATES, Grant
from provisioning.grants.services import grant_create

DEMO_SCIM_TARGET = "demo-scim"

# (organisation, model, stage)
DEMO_GRANTS = (
    ("northwind-cyber", "mythos-5", "limited"),
    ("northwind-cyber", "fable", "full"),
    ("gridline-energy", "fable", "full"),
)


@dataclass(frozen=True)
class DemoCredential:
    username: str
    organisation: str
    model: str
    state: str
    key: str


def _demo_key(organisation: str, model: str, username: str) -> NewToken:
    material = hmac.new(
        settings.SECRET_KEY.encode(),
        f"demo-key:{organisation}:{model}:{username}".encode(),
        hashlib.sha512,
    ).digest()
    return token_from_material(material)


def seed_access(*, actor: User | None) -> None:
    """Grant each demo organisation its models and give every member with a profile a key."""
    for org_slug, model_slug, stage_name in DEMO_GRANTS:
        organisation = Organisation.objects.filter(slug=org_slug).first()
        stage = Stage.objects.filter(covered_model__slug=model_slug, name=stage_name).first()
        if organisation is None or stage is None:
            continue
        grant = Grant.objects.filter(
            organisation=organisation, covered_model=stage.covered_model_id, stage=stage
        ).first()
        if grant is None:
            grant = grant_create(
                actor=actor, organisation=organisation, stage=stage, reason="demo seed"
            )
        if grant.state not in LIVE_GRANT_STATES:
            continue
        people = Person.objects.filter(organisation=organisation, user__isnull=False)
        for person in people.select_related("user").order_by("pk"):
            if person.user is None or grant.credentials.filter(person=person).exists():
                continue
            credential_issue(
                actor=actor,
                grant=grant,
                person=person,
                key=_demo_key(org_slug, model_slug, person.user.username),
            )
    seed_scim_target(actor=None)


def seed_scim_target(*, actor: User | None) -> Target | None:
    """Register ``DEMO_SCIM_URL`` as the SCIM target ``demo-scim`` (nothing when unset).

    A new target starts at the beginning of the change log, so it receives every demo key.
    An existing one is pointed at the URL and token given and replayed: the demo's
    scim2-server keeps its users in memory, so after a restart it starts empty.
    """
    url = getattr(settings, "DEMO_SCIM_URL", "")
    if not url:
        return None
    token = getattr(settings, "DEMO_SCIM_TOKEN", "")
    target = Target.objects.filter(name=DEMO_SCIM_TARGET).first()
    if target is None:
        return target_create(
            actor=actor, kind=TargetKind.SCIM, name=DEMO_SCIM_TARGET, url=url, token=token
        )
    target = target_update(
        actor=actor,
        target=target,
        name=DEMO_SCIM_TARGET,
        url=url,
        enabled=True,
        covered_models=list(target.covered_models.all()),
        token=token,
    )
    return target_replay(actor=actor, target=target, reason="demo: a fresh SCIM server")


def demo_credentials() -> list[DemoCredential]:
    """Every demo key with its state; a key rotated since the seed is no longer printable."""
    rows = []
    credentials = (
        Credential.objects.filter(
            grant__organisation__slug__in={o for o, _, _ in DEMO_GRANTS},
            person__user__isnull=False,
        )
        .exclude(state=CredentialState.REVOKED)
        .select_related("person__user", "grant__organisation", "grant__covered_model")
        .order_by(
            "grant__organisation__slug", "grant__covered_model__slug", "person__user__username"
        )
    )
    for credential in credentials:
        org = credential.grant.organisation.slug
        model = credential.grant.covered_model.slug
        user = credential.person.user
        if user is None:
            continue
        username = user.username
        key = _demo_key(org, model, username).plaintext
        rows.append(
            DemoCredential(
                username=username,
                organisation=org,
                model=model,
                state=credential.state,
                key=key if token_matches(key, credential.key_hash) else "",
            )
        )
    return rows
