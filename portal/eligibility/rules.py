"""The rule in force for a covered model.

Until determinations exist, each model carries a default rule (``ModelRule``); a model
without a row is open. ``rule_in_force`` is the one selector every caller uses, so
that determinations can later take precedence here without any caller changing.
"""

from __future__ import annotations

from collections.abc import Iterable

from django.db import models

from portal.eligibility.rule import OPEN_RULE, Rule, RuleKind, StoredRule
from provisioning.catalog.models import CoveredModel


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
    # Compliance change (determinations): the rule of the determination in force for a
    # model, when there is one, takes precedence over the model's default (one more query).
    from portal.compliance.selectors import determination_rules_in_force

    decided = determination_rules_in_force(ids)
    return {pk: decided.get(pk) or (rows[pk].to_rule() if pk in rows else OPEN_RULE) for pk in ids}
