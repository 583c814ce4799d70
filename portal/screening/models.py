"""Denied-party lists as loaded, and the screening of people against them (DESIGN.md §3)."""

from __future__ import annotations

from django.db import models

from foundation.stamps import actor_field
from portal.eligibility.models import Person


class ListFormat(models.TextChoices):
    CSL = "csl", "US Consolidated Screening List (CSV)"
    OFAC_SDN = "ofac-sdn", "OFAC SDN (sdn.csv + alt.csv)"


class ListVersion(models.Model):
    """One load of one list file. The newest load of each format is the one in force."""

    list_format = models.CharField(max_length=12, choices=ListFormat.choices)
    file_name = models.CharField(max_length=255)
    sha256 = models.CharField(max_length=64)
    alt_file_name = models.CharField(max_length=255, blank=True)
    alt_sha256 = models.CharField(max_length=64, blank=True)
    loaded_at = models.DateTimeField()
    loaded_by = actor_field()
    entry_count = models.PositiveIntegerField(default=0)
    alias_count = models.PositiveIntegerField(default=0)
    skipped_count = models.PositiveIntegerField(default=0)
    is_current = models.BooleanField(default=False)

    class Meta:
        ordering = ["-loaded_at", "-id"]
        constraints = [
            models.UniqueConstraint(
                fields=["list_format"],
                condition=models.Q(is_current=True),
                name="screening_one_current_version_per_format",
            )
        ]

    def __str__(self) -> str:
        return f"{self.get_list_format_display()} #{self.pk} ({self.file_name})"


class EntryType(models.TextChoices):
    INDIVIDUAL = "individual", "Individual"
    ENTITY = "entity", "Entity"
    VESSEL = "vessel", "Vessel"
    AIRCRAFT = "aircraft", "Aircraft"


class ListEntry(models.Model):
    version = models.ForeignKey(ListVersion, on_delete=models.CASCADE, related_name="entries")
    source_list = models.CharField(max_length=120)
    entity_id = models.CharField(max_length=64)
    entry_type = models.CharField(max_length=12, choices=EntryType.choices)
    primary_name = models.CharField(max_length=500)
    programs = models.JSONField(default=list)
    # ISO 8601 dates or partial dates ("1960", "1960-02"); ranges as "1960/1962".
    dates_of_birth = models.JSONField(default=list)
    # ISO 3166-1 alpha-2 codes, where the list's wording was recognisable.
    citizenships = models.JSONField(default=list)
    remarks = models.TextField(blank=True)
    # Stable across versions while the entry's content is unchanged: suppressions key on it.
    content_hash = models.CharField(max_length=64, db_index=True)

    class Meta:
        ordering = ["version", "primary_name"]
        verbose_name_plural = "list entries"
        constraints = [
            models.UniqueConstraint(
                fields=["version", "source_list", "entity_id"], name="screening_entry_unique"
            )
        ]

    def __str__(self) -> str:
        return f"{self.primary_name} ({self.source_list} {self.entity_id})"


class NameKind(models.TextChoices):
    PRIMARY = "primary", "Primary name"
    AKA = "aka", "Also known as"
    FKA = "fka", "Formerly known as"
    NKA = "nka", "Now known as"
    ALIAS = "alias", "Alias"


class EntryName(models.Model):
    """Every name of an entry; ``normalised`` feeds the in-memory blocking index."""

    entry = models.ForeignKey(ListEntry, on_delete=models.CASCADE, related_name="names")
    name = models.CharField(max_length=500)
    kind = models.CharField(max_length=8, choices=NameKind.choices)
    normalised = models.CharField(max_length=500, db_index=True)

    class Meta:
        ordering = ["entry", "id"]

    def __str__(self) -> str:
        return self.name


class ScreeningRun(models.Model):
    """One screening of one person against the list versions then in force."""

    person = models.ForeignKey(Person, on_delete=models.CASCADE, related_name="screening_runs")
    versions = models.JSONField(default=list)  # ids of the ListVersions screened against
    threshold = models.FloatField()
    created_at = models.DateTimeField(db_index=True)
    actor = actor_field()
    hit_count = models.PositiveIntegerField(default=0)
    state_before = models.CharField(max_length=20)
    state_after = models.CharField(max_length=20)

    class Meta:
        ordering = ["-created_at", "-id"]

    def __str__(self) -> str:
        return f"Screening of {self.person_id} at {self.created_at:%Y-%m-%d %H:%M}"


class MatchStatus(models.TextChoices):
    PENDING = "pending", "Awaiting compliance"
    CONFIRMED = "confirmed", "Confirmed match"
    DISMISSED = "dismissed", "False positive"
    SUPPRESSED = "suppressed", "Suppressed (earlier false positive)"
    SUPERSEDED = "superseded", "Superseded by a later screening"


# The one place that says how a match may move; services refuse anything else.
MATCH_TRANSITIONS: dict[str, frozenset[str]] = {
    MatchStatus.PENDING: frozenset(
        {MatchStatus.CONFIRMED, MatchStatus.DISMISSED, MatchStatus.SUPERSEDED}
    ),
    MatchStatus.CONFIRMED: frozenset(),
    MatchStatus.DISMISSED: frozenset(),
    MatchStatus.SUPPRESSED: frozenset(),
    MatchStatus.SUPERSEDED: frozenset(),
}


class ScreeningMatch(models.Model):
    # No ORGANISATION_PATH on purpose: partner users never see screening evidence, not even
    # their own organisation's (they are told only that a review is under way).

    run = models.ForeignKey(ScreeningRun, on_delete=models.CASCADE, related_name="matches")
    person = models.ForeignKey(Person, on_delete=models.CASCADE, related_name="screening_matches")
    entry = models.ForeignKey(ListEntry, on_delete=models.PROTECT, related_name="matches")
    matched_alias = models.CharField(max_length=500)
    alias_kind = models.CharField(max_length=8, choices=NameKind.choices)
    score = models.FloatField()
    reasons = models.JSONField(default=list)
    status = models.CharField(
        max_length=12, choices=MatchStatus.choices, default=MatchStatus.PENDING, db_index=True
    )
    resolved_at = models.DateTimeField(null=True, blank=True)
    resolved_by = actor_field()
    resolution_reason = models.TextField(blank=True)

    class Meta:
        ordering = ["-score", "id"]
        verbose_name_plural = "screening matches"
        constraints = [
            models.CheckConstraint(
                condition=models.Q(score__gte=0) & models.Q(score__lte=1),
                name="screening_match_score_range",
            )
        ]

    def __str__(self) -> str:
        return f"{self.person_id} ~ {self.matched_alias} ({self.score:.2f})"


class Suppression(models.Model):
    """A dismissed match: this entry, as it reads now, is not this person."""

    person = models.ForeignKey(Person, on_delete=models.CASCADE, related_name="suppressions")
    content_hash = models.CharField(max_length=64)
    source_list = models.CharField(max_length=120)
    entity_id = models.CharField(max_length=64)
    entry_name = models.CharField(max_length=500)
    match = models.ForeignKey(
        ScreeningMatch, null=True, blank=True, on_delete=models.SET_NULL, related_name="+"
    )
    created_by = actor_field()
    reason = models.TextField()
    created_at = models.DateTimeField()

    class Meta:
        ordering = ["-created_at"]
        constraints = [
            models.UniqueConstraint(
                fields=["person", "content_hash"], name="screening_suppression_unique"
            )
        ]

    def __str__(self) -> str:
        return f"{self.person_id} ≠ {self.entry_name}"
