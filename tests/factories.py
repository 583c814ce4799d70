"""Factories for every persona of DESIGN.md §2 and the objects they work on."""

from __future__ import annotations

import datetime as dt

import factory
from allauth.account.models import EmailAddress
from allauth.mfa.models import Authenticator
from allauth.mfa.totp.internal.auth import TOTP, generate_totp_secret
from django.contrib.auth.models import Group
from guardian.shortcuts import assign_perm

from portal.accounts.models import User
from portal.eligibility.models import Person, USPersonStatus
from portal.partners.models import MemberRole, Membership, Organisation, Sector
from portal.partners.permissions import ROLE_OBJECT_PERMISSIONS
from provisioning.catalog.models import CoveredModel, Stage

PASSWORD = "correct-horse-battery-staple"


class UserFactory(factory.django.DjangoModelFactory):
    class Meta:
        model = User
        skip_postgeneration_save = True

    username = factory.Sequence(lambda n: f"user{n}")
    email = factory.LazyAttribute(lambda u: f"{u.username}@example.org")
    first_name = "Test"
    last_name = factory.Sequence(lambda n: f"Person{n}")

    @factory.post_generation
    def password(self, create: bool, extracted: str | None, **kwargs: object) -> None:
        self.set_password(extracted or PASSWORD)
        if create:
            self.save(update_fields=["password"])
            EmailAddress.objects.create(user=self, email=self.email, verified=True, primary=True)


def give_totp(user: User) -> str:
    """Activate TOTP for ``user``; returns the secret (for pyotp in tests)."""
    secret = generate_totp_secret()
    TOTP.activate(user, secret)
    return secret


def staff_user(role: str, *, mfa: bool = True, **kwargs: object) -> User:
    user = UserFactory(**kwargs)
    user.groups.add(Group.objects.get(name=role))
    if mfa:
        give_totp(user)
    return user


class OrganisationFactory(factory.django.DjangoModelFactory):
    class Meta:
        model = Organisation

    slug = factory.Sequence(lambda n: f"org-{n}")
    legal_name = factory.Sequence(lambda n: f"Organisation {n} Ltd")
    country = "US"
    sector = Sector.CYBER_DEFENCE
    email_domain = factory.LazyAttribute(lambda o: f"{o.slug}.example")


def add_member(organisation: Organisation, user: User, role: str = MemberRole.MEMBER) -> Membership:
    membership = Membership.objects.create(organisation=organisation, user=user, role=role)
    for codename in ROLE_OBJECT_PERMISSIONS[role]:
        assign_perm(f"partners.{codename}", user, organisation)
    return membership


class PersonFactory(factory.django.DjangoModelFactory):
    class Meta:
        model = Person

    organisation = factory.SubFactory(OrganisationFactory)
    legal_name = factory.Sequence(lambda n: f"Person Number{n}")
    date_of_birth = dt.date(1985, 1, 1)
    citizenships = factory.LazyFunction(lambda: ["US"])
    residence_country = "US"
    us_person_status = USPersonStatus.CITIZEN


class CoveredModelFactory(factory.django.DjangoModelFactory):
    class Meta:
        model = CoveredModel

    slug = factory.Sequence(lambda n: f"model-{n}")
    name = factory.Sequence(lambda n: f"Model {n}")


class StageFactory(factory.django.DjangoModelFactory):
    class Meta:
        model = Stage

    covered_model = factory.SubFactory(CoveredModelFactory)
    name = "evaluation"
    position = 1
    seats = 5
    rate_limit_per_minute = 60
    monthly_quota = 100_000
    max_duration_days = 30


__all__ = ["Authenticator"]


class CompletePersonFactory(PersonFactory):
    """A person whose eligibility profile is complete under the current policy texts."""

    attestation_version = factory.LazyFunction(lambda: _policies().ATTESTATION_VERSION)
    attested_at = factory.LazyFunction(lambda: _now())
    aup_version = factory.LazyFunction(lambda: _policies().AUP_VERSION)
    aup_accepted_at = factory.LazyFunction(lambda: _now())
    screening_state = "clear"


def _policies():  # type: ignore[no-untyped-def]
    from portal.eligibility import policies

    return policies


def _now():  # type: ignore[no-untyped-def]
    from django.utils import timezone

    return timezone.now()


class ApplicationFactory(factory.django.DjangoModelFactory):
    class Meta:
        model = "applications.Application"

    organisation = factory.SubFactory(OrganisationFactory)
    stage = factory.SubFactory(StageFactory)
    covered_model = factory.LazyAttribute(lambda a: a.stage.covered_model)
    created_by = factory.SubFactory(UserFactory)
