"""Demo data telling the story of DESIGN.md §1. Safe to run twice."""

from __future__ import annotations

import datetime as dt
from dataclasses import dataclass, field

from allauth.account.models import EmailAddress
from allauth.mfa.models import Authenticator
from allauth.mfa.totp.internal.auth import TOTP, generate_totp_secret
from allauth.mfa.utils import decrypt
from django.db import transaction

from portal.accounts.models import User
from portal.accounts.roles import Role
from portal.accounts.services import user_grant_role
from portal.certification.demo import seed_campaign
from portal.eligibility.models import Person, USPersonStatus
from portal.eligibility.services import person_create
from portal.partners.models import MemberRole, Organisation, Sector, VerificationState
from portal.partners.services import (
    membership_add,
    organisation_register,
    organisation_set_trusted,
    organisation_set_verification,
)
from portal.reviews.demo import seed_review_queue
from portal.web.demo_access import seed_access
from provisioning.catalog.models import CoveredModel
from provisioning.catalog.services import StageSpec, covered_model_create

DEMO_PASSWORD = "clearance-demo-2026"  # noqa: S105 — printed on purpose, demo only


@dataclass(frozen=True)
class DemoMember:
    username: str
    legal_name: str
    role: str
    citizenships: tuple[str, ...]
    residence: str
    us_person_status: str
    born: dt.date


@dataclass(frozen=True)
class DemoOrganisation:
    slug: str
    legal_name: str
    country: str
    sector: str
    domain: str
    trusted: bool
    verified: bool
    members: tuple[DemoMember, ...] = field(default=())


US = USPersonStatus
ORGANISATIONS = (
    DemoOrganisation(
        "northwind-cyber",
        "Northwind Cyber Defense Inc.",
        "US",
        Sector.CYBER_DEFENCE,
        "northwind-cyber.example",
        trusted=True,
        verified=True,
        members=(
            DemoMember(
                "nadia.reyes",
                "Nadia Reyes",
                MemberRole.ADMIN,
                ("US",),
                "US",
                US.CITIZEN,
                dt.date(1984, 3, 12),
            ),
            # A dual national: judged on every citizenship.
            DemoMember(
                "omid.farahani",
                "Omid Farahani",
                MemberRole.MEMBER,
                ("US", "IR"),
                "US",
                US.CITIZEN,
                dt.date(1990, 7, 2),
            ),
            # A foreign national employed by a US partner.
            DemoMember(
                "li.wei", "Li Wei", MemberRole.MEMBER, ("CN",), "US", US.NONE, dt.date(1992, 11, 23)
            ),
        ),
    ),
    DemoOrganisation(
        "gridline-energy",
        "Gridline Energy Cooperative",
        "US",
        Sector.ENERGY,
        "gridline-energy.example",
        trusted=True,
        verified=True,
        members=(
            DemoMember(
                "grace.okafor",
                "Grace Okafor",
                MemberRole.ADMIN,
                ("US",),
                "US",
                US.CITIZEN,
                dt.date(1979, 5, 30),
            ),
            DemoMember(
                "erik.lindqvist",
                "Erik Lindqvist",
                MemberRole.MEMBER,
                ("SE",),
                "US",
                US.PERMANENT_RESIDENT,
                dt.date(1987, 1, 17),
            ),
        ),
    ),
    DemoOrganisation(
        "albion-secure",
        "Albion Secure Ltd",
        "GB",
        Sector.CYBER_DEFENCE,
        "albion-secure.example",
        trusted=False,
        verified=True,
        members=(
            DemoMember(
                "oliver.hughes",
                "Oliver Hughes",
                MemberRole.ADMIN,
                ("GB",),
                "GB",
                US.NONE,
                dt.date(1982, 9, 8),
            ),
            DemoMember(
                "aoife.byrne",
                "Aoife Byrne",
                MemberRole.MEMBER,
                ("GB", "IE"),
                "GB",
                US.NONE,
                dt.date(1995, 4, 14),
            ),
        ),
    ),
    DemoOrganisation(
        "pending-labs",
        "Pending Labs LLC",
        "US",
        Sector.OTHER,
        "pending-labs.example",
        trusted=False,
        verified=False,
        members=(
            DemoMember(
                "pat.morgan",
                "Pat Morgan",
                MemberRole.ADMIN,
                ("US",),
                "US",
                US.CITIZEN,
                dt.date(1988, 12, 1),
            ),
        ),
    ),
)

STAFF = (
    ("reviewer1", "Riley Chen", Role.REVIEWER),
    ("reviewer2", "Sam Patel", Role.REVIEWER),
    ("compliance1", "Morgan Ellis", Role.COMPLIANCE),
    ("compliance2", "Jordan Blake", Role.COMPLIANCE),
    ("ops1", "Casey Nguyen", Role.OPS),
    # A second ops user: lifting an emergency stop is a restore, which needs two people.
    ("ops2", "Dana Kowalski", Role.OPS),
    ("auditor1", "Avery Brooks", Role.AUDITOR),
)

MODELS = (
    (
        "mythos-5",
        "Mythos 5",
        3,
        True,
        [
            StageSpec(
                "evaluation",
                seats=5,
                rate_limit_per_minute=60,
                monthly_quota=100_000,
                max_duration_days=30,
            ),
            StageSpec(
                "limited",
                seats=25,
                rate_limit_per_minute=300,
                monthly_quota=1_000_000,
                max_duration_days=90,
            ),
            StageSpec(
                "full",
                seats=200,
                rate_limit_per_minute=1200,
                monthly_quota=20_000_000,
                max_duration_days=365,
            ),
        ],
    ),
    (
        "fable",
        "Fable",
        2,
        False,
        [
            StageSpec(
                "evaluation",
                seats=10,
                rate_limit_per_minute=120,
                monthly_quota=250_000,
                max_duration_days=60,
            ),
            StageSpec(
                "full",
                seats=500,
                rate_limit_per_minute=3000,
                monthly_quota=50_000_000,
                max_duration_days=365,
            ),
        ],
    ),
)


@dataclass
class DemoLogin:
    username: str
    email: str
    password: str
    role: str
    organisation: str | None = None
    totp_secret: str | None = None


def _user(username: str, full_name: str, email: str) -> User:
    first, _, last = full_name.partition(" ")
    user, created = User.objects.get_or_create(
        username=username, defaults={"email": email, "first_name": first, "last_name": last}
    )
    if created:
        user.set_password(DEMO_PASSWORD)
        user.save(update_fields=["password"])
        EmailAddress.objects.create(user=user, email=email, verified=True, primary=True)
    return user


def _totp_secret(user: User) -> str:
    authenticator = Authenticator.objects.filter(user=user, type=Authenticator.Type.TOTP).first()
    if authenticator is None:
        secret: str = generate_totp_secret()
        TOTP.activate(user, secret)
        return secret
    return str(decrypt(authenticator.data["secret"]))


@transaction.atomic(durable=True)
def seed_demo() -> list[DemoLogin]:
    logins: list[DemoLogin] = []

    admin = _user("admin", "Ada Admin", "admin@clearance.example")
    if not admin.is_superuser:
        admin.is_superuser = admin.is_staff = True
        admin.save(update_fields=["is_superuser", "is_staff"])
    logins.append(
        DemoLogin("admin", admin.email, DEMO_PASSWORD, "admin", totp_secret=_totp_secret(admin))
    )

    staff: dict[str, User] = {}
    for username, full_name, role in STAFF:
        user = _user(username, full_name, f"{username}@clearance.example")
        if not user.groups.filter(name=role).exists():
            user_grant_role(actor=admin, user=user, role=role, reason="demo seed")
        staff[username] = user
        logins.append(
            DemoLogin(username, user.email, DEMO_PASSWORD, role, totp_secret=_totp_secret(user))
        )

    for slug, name, tier, four_eyes, stages in MODELS:
        if not CoveredModel.objects.filter(slug=slug).exists():
            covered_model_create(
                actor=staff["compliance1"],
                slug=slug,
                name=name,
                capability_tier=tier,
                four_eyes=four_eyes,
                stages=stages,
            )

    for spec in ORGANISATIONS:
        organisation = Organisation.objects.filter(slug=spec.slug).first()
        for index, member in enumerate(spec.members):
            user = _user(member.username, member.legal_name, f"{member.username}@{spec.domain}")
            if organisation is None:
                organisation = organisation_register(
                    actor=user,
                    slug=spec.slug,
                    legal_name=spec.legal_name,
                    country=spec.country,
                    sector=spec.sector,
                    email_domain=spec.domain,
                    registration_id=f"REG-{spec.slug.upper()}",
                )
            elif index > 0 and not organisation.memberships.filter(user=user).exists():
                membership_add(actor=None, organisation=organisation, user=user, role=member.role)
            if not Person.objects.filter(user=user).exists():
                person_create(
                    actor=user,
                    organisation=organisation,
                    user=user,
                    legal_name=member.legal_name,
                    date_of_birth=member.born,
                    citizenships=list(member.citizenships),
                    residence_country=member.residence,
                    us_person_status=member.us_person_status,
                    # Signed profiles, so partner admins can nominate them in the wizard;
                    # the unverified organisation's admin is left to finish theirs.
                    signed=spec.verified,
                )
            logins.append(
                DemoLogin(
                    member.username,
                    user.email,
                    DEMO_PASSWORD,
                    f"partner_{member.role}",
                    organisation=spec.slug,
                )
            )
        assert organisation is not None
        if spec.verified:
            organisation_set_verification(
                actor=staff["compliance1"],
                organisation=organisation,
                state=VerificationState.VERIFIED,
                reason="demo seed",
            )
        if spec.trusted:
            organisation_set_trusted(
                actor=staff["compliance1"],
                organisation=organisation,
                trusted=True,
                reason="demo seed",
            )
    # The review workflow's story: a mythos-5 application waiting for a reviewer pair.
    seed_review_queue(screener=staff["compliance1"])
    # The access story's starting point: active grants and keys, before any ban.
    seed_access(actor=staff["reviewer1"])
    # Compliance asks the partners to vouch for their key holders.
    seed_campaign(actor=staff["compliance1"])
    return logins
