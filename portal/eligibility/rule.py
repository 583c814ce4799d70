"""The rule as the engine reads it: a value detached from its storage, so judging needs no
query. ``rules`` finds the one in force (a model's default, or its determination's); both
store it in the fields of ``StoredRule`` and read it back with its ``to_rule``."""

from __future__ import annotations

from dataclasses import dataclass

from django.db import models

from portal.partners.models import expand_sectors

DEFAULT_SOURCE = "default rule"


class RuleKind(models.TextChoices):
    OPEN = "open", "Open"
    PARTNERS_ONLY = "partners_only", "Trusted partners only"
    BLOCKED = "blocked", "Blocked"


@dataclass(frozen=True)
class Rule:
    """The rule in force, detached from its storage so the engine needs no queries."""

    kind: str
    allowed_sectors: frozenset[str] = frozenset()
    us_persons_only: bool = False
    denied_citizenships: frozenset[str] = frozenset()
    denied_residence: frozenset[str] = frozenset()
    source: str = DEFAULT_SOURCE


OPEN_RULE = Rule(kind=RuleKind.OPEN, source="no rule set: open")


# StoredRule's columns, as forms, serializers and snapshots list them.
RULE_FIELDS = (
    "kind",
    "allowed_sectors",
    "us_persons_only",
    "denied_citizenships",
    "denied_residence",
)


class StoredRule(models.Model):
    """A rule's columns, as a covered model's default rule and a determination's rule for a
    model keep them; ``to_rule`` reads them as the engine's value."""

    kind = models.CharField(max_length=20, choices=RuleKind.choices)
    # Sector values of portal.partners.models.Sector; empty means every sector.
    allowed_sectors = models.JSONField(default=list, blank=True)
    us_persons_only = models.BooleanField(default=False)
    # ISO 3166-1 alpha-2 codes.
    denied_citizenships = models.JSONField(default=list, blank=True)
    denied_residence = models.JSONField(default=list, blank=True)

    class Meta:
        abstract = True

    def rule_source(self) -> str:
        """Where the rule comes from, as a refusal names it."""
        return DEFAULT_SOURCE

    def to_rule(self) -> Rule:
        return Rule(
            kind=self.kind,
            allowed_sectors=expand_sectors(self.allowed_sectors or ()),
            us_persons_only=self.us_persons_only,
            denied_citizenships=frozenset(c.upper() for c in self.denied_citizenships or ()),
            denied_residence=frozenset(c.upper() for c in self.denied_residence or ()),
            source=self.rule_source(),
        )
