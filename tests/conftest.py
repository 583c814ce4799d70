"""Personas of DESIGN.md §2 as fixtures (every permission test uses them), and the set-ups
many test modules share."""

from __future__ import annotations

from typing import Any

import pytest
from django.conf import settings as django_settings
from django.core.cache import caches
from django.core.cache.backends.redis import RedisCache
from django.test import Client

from portal.accounts.models import User
from portal.accounts.roles import Role
from portal.applications.models import Application
from portal.partners.models import MemberRole, Organisation
from portal.screening.matching import ScreeningIndex
from provisioning.catalog.models import Stage
from provisioning.credentials.services import IssuedKey
from provisioning.grants.models import Grant
from tests.authz_world import World, build_world
from tests.certification_helpers import keys_on
from tests.factories import OrganisationFactory, StageFactory, UserFactory, add_member, staff_user
from tests.provisioning_fakes import FAKE_FACTORY, verified_key_holders
from tests.reviewing import queued_application
from tests.screening_helpers import index_from_list_files


@pytest.fixture(autouse=True)
def _fast_password_hashing(settings):
    settings.PASSWORD_HASHERS = ["django.contrib.auth.hashers.MD5PasswordHasher"]


def _clear_cache() -> None:
    """Empties this worker's cache keys only (tests/isolation.py gives each worker a prefix).

    Django's Redis cache clears with FLUSHDB, which would also wipe the counters of another xdist
    worker sharing the database; locmem is per process, so clearing it is already private.
    """
    backend = caches["default"]  # `cache` is a proxy: isinstance needs the backend itself
    prefix = django_settings.CACHES["default"].get("KEY_PREFIX")
    if not prefix or not isinstance(backend, RedisCache):
        backend.clear()
        return
    client = backend._cache.get_client(write=True)
    keys = list(client.scan_iter(match=f"{prefix}:*", count=1000))
    if keys:
        client.delete(*keys)


@pytest.fixture(autouse=True)
def _fresh_cache():
    """Throttle counts (login, API, SCIM) and MFA replay marks start at zero in every test."""
    _clear_cache()
    yield
    _clear_cache()


@pytest.fixture
def generated_signing_key(settings: Any, tmp_path: Any) -> None:
    """An audit signing key of this test's own, generated on first use."""
    settings.AUDIT_SIGNING_KEY = str(tmp_path / "audit-signing.key")
    settings.AUDIT_SIGNING_KEY_GENERATE = True


@pytest.fixture
def fake_connectors(settings: Any) -> None:
    """Every target's connector is an in-memory fake (tests/provisioning_fakes.py)."""
    settings.DELIVERY_CONNECTOR_FACTORY = FAKE_FACTORY


@pytest.fixture
def organisation(db: None) -> Organisation:
    return OrganisationFactory(slug="northwind", legal_name="Northwind Cyber")


@pytest.fixture
def application(organisation: Organisation, partner_admin: User) -> Application:
    """Our admin's application for two people, waiting in the review queue. The review page
    and the review API decide on this one; a module that needs another kind defines its own."""
    return queued_application(organisation, nominees=2, created_by=partner_admin)


@pytest.fixture
def other_organisation(db: None) -> Organisation:
    return OrganisationFactory(slug="elsewhere", legal_name="Elsewhere Inc")


def pytest_configure(config: pytest.Config) -> None:
    config.addinivalue_line("markers", "seats(n): the seats of the `stage` fixture (10 unless set)")


@pytest.fixture
def stage(request: pytest.FixtureRequest) -> Stage:
    """A stage of a covered model; a module marked ``pytest.mark.seats(n)`` gets n seats."""
    marker = request.node.get_closest_marker("seats")
    return StageFactory(seats=marker.args[0] if marker else 10)


@pytest.fixture
def grants(stage: Stage) -> list[Grant]:
    """Three verified organisations, each with a key holder on the stage's model."""
    return verified_key_holders(stage, 3)


@pytest.fixture
def keys(
    organisation: Organisation, other_organisation: Organisation, stage: Stage
) -> dict[str, IssuedKey]:
    """Two of our people and one of the outsider's organisation hold keys on the model."""
    return keys_on(stage, organisation, other_organisation)


@pytest.fixture
def partner_admin(organisation: Organisation) -> User:
    user = UserFactory(username="partner-admin")
    add_member(organisation, user, MemberRole.ADMIN)
    return user


@pytest.fixture
def partner_member(organisation: Organisation) -> User:
    user = UserFactory(username="partner-member")
    add_member(organisation, user, MemberRole.MEMBER)
    return user


@pytest.fixture
def outsider(other_organisation: Organisation) -> User:
    """A signed-in admin of another organisation: must see nothing of ours."""
    user = UserFactory(username="outsider")
    add_member(other_organisation, user, MemberRole.ADMIN)
    return user


@pytest.fixture
def reviewer(db: None) -> User:
    return staff_user(Role.REVIEWER, username="reviewer")


@pytest.fixture
def second_reviewer(db: None) -> User:
    return staff_user(Role.REVIEWER, username="reviewer-two")


@pytest.fixture
def compliance_officer(db: None) -> User:
    return staff_user(Role.COMPLIANCE, username="compliance")


@pytest.fixture
def second_officer(db: None) -> User:
    """The other compliance officer that every determination's second signature needs."""
    return staff_user(Role.COMPLIANCE, username="compliance-two")


@pytest.fixture
def ops_user(db: None) -> User:
    return staff_user(Role.OPS, username="ops")


@pytest.fixture
def auditor(db: None) -> User:
    return staff_user(Role.AUDITOR, username="auditor")


@pytest.fixture
def staff_without_mfa(db: None) -> User:
    return staff_user(Role.REVIEWER, mfa=False, username="reviewer-no-mfa")


@pytest.fixture
def superuser(db: None) -> User:
    from tests.factories import give_totp

    user = UserFactory(username="root", is_staff=True, is_superuser=True)
    give_totp(user)
    return user


def client_for(user: User | None) -> Client:
    client = Client()
    if user is not None:
        client.force_login(user)
    return client


# A signed-in persona of each side that an ops or compliance page tells apart.
STAFF_PAGE_PERSONAS = (
    "outsider",
    "partner_admin",
    "ops_user",
    "compliance_officer",
    "auditor",
    "staff_without_mfa",
)


def persona_user(request: pytest.FixtureRequest, persona: str) -> User | None:
    """The user of a persona fixture named in a parametrized test; None for "anonymous"."""
    return None if persona == "anonymous" else request.getfixturevalue(persona)


@pytest.fixture
def authz_world(
    partner_admin: User, partner_member: User, organisation: Organisation, compliance_officer: User
) -> World:
    """One of every object of ours that a page or an endpoint acts on (tests/authz_world.py)."""
    return build_world(
        organisation=organisation,
        admin=partner_admin,
        member=partner_member,
        staff=compliance_officer,
    )


@pytest.fixture(scope="session")
def screening_index() -> ScreeningIndex:
    """The full SDN list with its aliases and the CSL sample, indexed once
    (tests/screening_helpers.py)."""
    return index_from_list_files()


@pytest.hookimpl(tryfirst=True, hookwrapper=True)
def pytest_runtest_makereport(item, call):
    # Lets the browser fixtures know whether the test failed, to keep a screenshot.
    outcome = yield
    report = outcome.get_result()
    setattr(item, f"rep_{report.when}", report)


pytest_plugins = ["tests.browser"]


@pytest.fixture
def edited_determination(compliance_officer: User) -> Any:
    """A determination awaiting approval that ``compliance_officer`` edited but neither
    wrote nor submitted: four eyes count them as one of the two (invariant 5)."""
    import datetime as dt
    import io

    from portal.compliance.services import (
        determination_draft,
        determination_submit,
        determination_update,
    )
    from provisioning.catalog.models import CoveredModel

    author = staff_user(Role.COMPLIANCE, username="compliance-author")
    rules = {m.pk: {"kind": "open"} for m in CoveredModel.objects.all()}
    determination = determination_draft(
        actor=author,
        reference="DET-EDITED",
        legal_basis="Order",
        effective_date=dt.date(2026, 11, 27),
        rules=rules,
        document=io.BytesIO(b"%PDF-1.4\n% letter\n"),
        document_name="letter.pdf",
    )
    determination_update(
        determination=determination, actor=compliance_officer, legal_basis="Order, amended"
    )
    return determination_submit(determination=determination, actor=author)


@pytest.fixture
def staff_members_of_ours(organisation: Any, compliance_officer: User, reviewer: User) -> None:
    """The compliance officer and the reviewer also belong to our organisation."""
    from portal.partners.models import Membership

    for user in (compliance_officer, reviewer):
        Membership.objects.create(organisation=organisation, user=user)
