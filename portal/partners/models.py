"""Partner organisations and their members."""

from __future__ import annotations

from django.conf import settings
from django.db import models


class Sector(models.TextChoices):
    CYBER_DEFENCE = "cyber_defence", "Cyber defence"
    ENERGY = "energy", "Energy"
    WATER = "water", "Water"
    FINANCE = "finance", "Finance"
    HEALTH = "health", "Health"
    TELECOM = "telecom", "Telecom"
    GOVERNMENT = "government", "Government"
    OTHER = "other", "Other"


class VerificationState(models.TextChoices):
    UNVERIFIED = "unverified", "Unverified"
    DOMAIN_VERIFIED = "domain_verified", "Domain verified"
    VERIFIED = "verified", "Verified"
    REJECTED = "rejected", "Rejected"


class Organisation(models.Model):
    # Object permissions on this row (guardian) are what partner users hold; every
    # organisation-scoped model names its path to it in ORGANISATION_PATH.
    ORGANISATION_PATH = ""

    slug = models.SlugField(max_length=60, unique=True)
    legal_name = models.CharField(max_length=200)
    country = models.CharField("country of incorporation", max_length=2)
    sector = models.CharField(max_length=20, choices=Sector.choices)
    registration_id = models.CharField(max_length=100, blank=True)
    email_domain = models.CharField(max_length=253)
    verification_state = models.CharField(
        max_length=20, choices=VerificationState.choices, default=VerificationState.UNVERIFIED
    )
    trusted = models.BooleanField(default=False)
    created_at = models.DateTimeField(auto_now_add=True)

    class Meta:
        ordering = ["legal_name"]
        permissions = [
            ("manage_members", "Can invite and remove the organisation's members"),
            ("set_trusted_organisation", "Can set the trusted flag"),
        ]
        constraints = [
            models.CheckConstraint(
                condition=models.Q(country__regex=r"^[A-Z]{2}$"), name="organisation_country_iso"
            ),
        ]

    def __str__(self) -> str:
        return self.legal_name


class MemberRole(models.TextChoices):
    ADMIN = "admin", "Admin"
    MEMBER = "member", "Member"


class Membership(models.Model):
    ORGANISATION_PATH = "organisation"

    organisation = models.ForeignKey(
        Organisation, on_delete=models.PROTECT, related_name="memberships"
    )
    user = models.ForeignKey(
        settings.AUTH_USER_MODEL, on_delete=models.PROTECT, related_name="memberships"
    )
    role = models.CharField(max_length=10, choices=MemberRole.choices, default=MemberRole.MEMBER)
    created_at = models.DateTimeField(auto_now_add=True)

    class Meta:
        ordering = ["organisation", "user"]
        constraints = [
            models.UniqueConstraint(fields=["organisation", "user"], name="membership_unique"),
        ]

    def __str__(self) -> str:
        return f"{self.user} @ {self.organisation} ({self.role})"
