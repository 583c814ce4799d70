"""Partner organisations and their members."""

from __future__ import annotations

from django.conf import settings
from django.db import models

from foundation.stamps import actor_field
from portal.partners.storage import PrivateStorage

# An organisation in one of these states has proven control of its email domain;
# no second organisation may claim the same domain (a partial unique constraint).
DOMAIN_PROVEN_STATES = ("domain_verified", "verified")


class Sector(models.TextChoices):
    """Cyber defence, the 16 US critical-infrastructure sectors (CISA, PPD-21), or other."""

    CYBER_DEFENCE = "cyber_defence", "Cyber defence"
    CHEMICAL = "chemical", "Chemical"
    COMMERCIAL_FACILITIES = "commercial_facilities", "Commercial facilities"
    COMMUNICATIONS = "communications", "Communications"
    CRITICAL_MANUFACTURING = "critical_manufacturing", "Critical manufacturing"
    DAMS = "dams", "Dams"
    DEFENSE_INDUSTRIAL_BASE = "defense_industrial_base", "Defense industrial base"
    EMERGENCY_SERVICES = "emergency_services", "Emergency services"
    ENERGY = "energy", "Energy"
    FINANCIAL_SERVICES = "financial_services", "Financial services"
    FOOD_AND_AGRICULTURE = "food_agriculture", "Food and agriculture"
    GOVERNMENT_FACILITIES = "government_facilities", "Government facilities"
    HEALTHCARE = "healthcare", "Healthcare and public health"
    INFORMATION_TECHNOLOGY = "information_technology", "Information technology"
    NUCLEAR = "nuclear", "Nuclear reactors, materials and waste"
    TRANSPORTATION = "transportation", "Transportation systems"
    WATER = "water", "Water and wastewater systems"
    OTHER = "other", "Other"


# The sixteen critical-infrastructure sectors: every sector but cyber defence and other.
CRITICAL_INFRASTRUCTURE = frozenset(Sector.values) - {Sector.CYBER_DEFENCE, Sector.OTHER}
# Groups a rule may name instead of listing sectors one by one.
SECTOR_GROUPS: dict[str, frozenset[str]] = {"critical_infrastructure": CRITICAL_INFRASTRUCTURE}
SECTOR_GROUP_CHOICES = [("critical_infrastructure", "Critical infrastructure (all 16 sectors)")]
RULE_SECTOR_CHOICES = [*SECTOR_GROUP_CHOICES, *Sector.choices]


def clean_rule_sectors(values: object) -> list[str]:
    """A rule's sectors as stored: sorted, each a sector or a group; ValueError names the
    unknown ones."""
    sectors = sorted({str(s) for s in values or ()})  # type: ignore[attr-defined]
    unknown = [s for s in sectors if s not in Sector.values and s not in SECTOR_GROUPS]
    if unknown:
        raise ValueError(
            f"unknown sector(s): {', '.join(unknown)}. Use a sector, or "
            "critical_infrastructure for all sixteen critical-infrastructure sectors."
        )
    return sectors


def expand_sectors(values: object) -> frozenset[str]:
    """The sectors a rule allows, groups expanded."""
    expanded: set[str] = set()
    for value in values or ():  # type: ignore[attr-defined]
        expanded |= SECTOR_GROUPS.get(str(value), frozenset({str(value)}))
    return frozenset(expanded)


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
    sector = models.CharField(max_length=30, choices=Sector.choices)
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
            models.UniqueConstraint(
                fields=["email_domain"],
                condition=models.Q(verification_state__in=DOMAIN_PROVEN_STATES),
                name="organisation_unique_proven_domain",
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


class DocumentKind(models.TextChoices):
    CERTIFICATE_OF_INCORPORATION = "certificate_of_incorporation", "Certificate of incorporation"
    ATTESTATION_LETTER = "attestation_letter", "Signed attestation letter"


class OrganisationDocument(models.Model):
    """Evidence an organisation uploads; stored privately, streamed only through a view."""

    ORGANISATION_PATH = "organisation"

    organisation = models.ForeignKey(
        Organisation, on_delete=models.PROTECT, related_name="documents"
    )
    kind = models.CharField(max_length=40, choices=DocumentKind.choices)
    # Stored under a random name; the name the user gave is kept only for display.
    file = models.FileField(storage=PrivateStorage(), upload_to="organisations/", max_length=200)
    original_name = models.CharField(max_length=200)
    content_type = models.CharField(max_length=40)
    size = models.PositiveBigIntegerField()
    sha256 = models.CharField(max_length=64)
    uploaded_by = models.ForeignKey(
        settings.AUTH_USER_MODEL, on_delete=models.PROTECT, related_name="+"
    )
    uploaded_at = models.DateTimeField(auto_now_add=True)

    class Meta:
        ordering = ["-uploaded_at", "-id"]

    def __str__(self) -> str:
        return f"{self.get_kind_display()} ({self.original_name})"


class Invitation(models.Model):
    """A single-use invitation; only the SHA-256 of its token is stored."""

    ORGANISATION_PATH = "organisation"

    organisation = models.ForeignKey(
        Organisation, on_delete=models.PROTECT, related_name="invitations"
    )
    email = models.EmailField()
    role = models.CharField(max_length=10, choices=MemberRole.choices, default=MemberRole.MEMBER)
    token_hash = models.CharField(max_length=64, unique=True)
    invited_by = models.ForeignKey(
        settings.AUTH_USER_MODEL, on_delete=models.PROTECT, related_name="+"
    )
    created_at = models.DateTimeField(auto_now_add=True)
    expires_at = models.DateTimeField()
    accepted_at = models.DateTimeField(null=True, blank=True)
    accepted_by = actor_field()
    revoked_at = models.DateTimeField(null=True, blank=True)

    class Meta:
        ordering = ["-created_at", "-id"]
        constraints = [
            # One open invitation per address and organisation; a new one revokes the old.
            models.UniqueConstraint(
                fields=["organisation", "email"],
                condition=models.Q(accepted_at__isnull=True, revoked_at__isnull=True),
                name="invitation_one_open_per_email",
            ),
            models.CheckConstraint(
                condition=models.Q(accepted_at__isnull=True) | models.Q(revoked_at__isnull=True),
                name="invitation_not_accepted_and_revoked",
            ),
        ]

    def __str__(self) -> str:
        return f"{self.email} → {self.organisation} ({self.role})"

    @property
    def is_open(self) -> bool:
        return self.accepted_at is None and self.revoked_at is None

    def status(self, now: object) -> str:
        if self.accepted_at is not None:
            return "accepted"
        if self.revoked_at is not None:
            return "revoked"
        if now >= self.expires_at:  # type: ignore[operator]
            return "expired"
        return "pending"
