"""Reads on determinations."""

from __future__ import annotations

from collections.abc import Iterable

from django.db.models import QuerySet

from portal.compliance.models import Determination, DeterminationRule, DeterminationState
from portal.eligibility.rule import Rule


def determination_in_force() -> Determination | None:
    return Determination.objects.filter(state=DeterminationState.IN_FORCE).first()


def determination_rules_in_force(model_ids: Iterable[int]) -> dict[int, Rule]:
    """The rules the determination in force sets, keyed by model id (one query)."""
    rows = DeterminationRule.objects.filter(
        determination__state=DeterminationState.IN_FORCE, covered_model_id__in=list(model_ids)
    ).select_related("determination")
    return {row.covered_model_id: row.to_rule() for row in rows}


def determination_list() -> QuerySet[Determination]:
    return Determination.objects.select_related(
        "created_by", "submitted_by", "approved_by", "applied_by"
    ).order_by("-created_at", "-id")


def draft_rules(determination: Determination) -> dict[int, Rule]:
    return {row.covered_model_id: row.to_rule() for row in determination.rules.all()}
