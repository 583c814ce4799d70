"""The rule as the engine reads it: a value detached from its storage, so judging needs no
query. ``rules`` finds the one in force (a model's default, or its determination's)."""

from __future__ import annotations

from dataclasses import dataclass

from django.db import models


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
    source: str = "default rule"


OPEN_RULE = Rule(kind=RuleKind.OPEN, source="no rule set: open")
