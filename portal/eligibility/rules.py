"""The rule in force for a covered model.

Each model carries a default rule (``ModelRule``); a model without a row is open. The rule
of the determination in force, when there is one, takes precedence. Determinations live in
the compliance room, which builds on this one, so compliance registers its answer here at
start-up (``register_determined_rules``); until it has, ``rules_in_force`` refuses rather
than judge on the defaults alone (fail closed). ``rule_in_force`` is the one selector every
caller uses.
"""

from __future__ import annotations

from collections.abc import Callable, Iterable

from django.core.exceptions import ImproperlyConfigured
from django.db import models

from portal.eligibility.rule import OPEN_RULE, Rule, RuleKind, StoredRule
from provisioning.catalog.models import CoveredModel

# The rules the determinations in force set, keyed by model id, for the given model ids.
DeterminedRules = Callable[[list[int]], dict[int, Rule]]

_determined_rules: DeterminedRules | None = None


def register_determined_rules(source: DeterminedRules) -> None:
    """Compliance's answer to "which rule does a determination in force set?"."""
    global _determined_rules
    _determined_rules = source


class ModelRule(StoredRule):
    """A covered model's default rule, in force while no determination says otherwise."""

    covered_model = models.OneToOneField(
        CoveredModel, on_delete=models.CASCADE, related_name="default_rule"
    )
    kind = models.CharField(max_length=20, choices=RuleKind.choices, default=RuleKind.OPEN)
    updated_at = models.DateTimeField(auto_now=True)

    class Meta:
        app_label = "eligibility"
        ordering = ["covered_model"]
        constraints = [
            models.CheckConstraint(
                condition=models.Q(kind__in=["open", "partners_only", "blocked"]),
                name="model_rule_kind_valid",
            ),
        ]

    def __str__(self) -> str:
        return f"{self.covered_model_id}: {self.kind}"


def rule_in_force(covered_model: CoveredModel) -> Rule:
    """The rule that decides eligibility for ``covered_model`` now (at most one query)."""
    return rules_in_force([covered_model])[covered_model.pk]


def rules_in_force(covered_models: Iterable[CoveredModel]) -> dict[int, Rule]:
    """``rule_in_force`` for many models in one query, keyed by model id."""
    ids = [model.pk for model in covered_models]
    rows = {row.covered_model_id: row for row in ModelRule.objects.filter(covered_model_id__in=ids)}
    # The rule of the determination in force for a model, when there is one, takes
    # precedence over the model's default (one more query).
    if _determined_rules is None:
        raise ImproperlyConfigured("No source of determinations is registered.")
    decided = _determined_rules(ids)
    return {pk: decided.get(pk) or (rows[pk].to_rule() if pk in rows else OPEN_RULE) for pk in ids}
