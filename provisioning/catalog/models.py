"""Covered models and their stages: data that compliance edits, not code."""

from __future__ import annotations

from django.db import models


class CoveredModel(models.Model):
    slug = models.SlugField(max_length=60, unique=True)
    name = models.CharField(max_length=120)
    capability_tier = models.PositiveSmallIntegerField(default=1)
    four_eyes = models.BooleanField(
        default=False, help_text="Approvals need two distinct reviewers."
    )
    created_at = models.DateTimeField(auto_now_add=True)

    class Meta:
        ordering = ["slug"]

    def __str__(self) -> str:
        return self.name


class StageName(models.TextChoices):
    EVALUATION = "evaluation", "Evaluation"
    LIMITED = "limited", "Limited"
    FULL = "full", "Full"


class Stage(models.Model):
    covered_model = models.ForeignKey(CoveredModel, on_delete=models.CASCADE, related_name="stages")
    name = models.CharField(max_length=20, choices=StageName.choices)
    position = models.PositiveSmallIntegerField()
    seats = models.PositiveIntegerField()
    rate_limit_per_minute = models.PositiveIntegerField()
    monthly_quota = models.PositiveBigIntegerField(help_text="Requests per month.")
    max_duration_days = models.PositiveIntegerField()

    class Meta:
        ordering = ["covered_model", "position"]
        constraints = [
            models.UniqueConstraint(fields=["covered_model", "name"], name="stage_unique_name"),
            models.UniqueConstraint(
                fields=["covered_model", "position"], name="stage_unique_position"
            ),
            models.CheckConstraint(condition=models.Q(seats__gte=1), name="stage_seats_positive"),
        ]

    def __str__(self) -> str:
        return f"{self.covered_model.slug} / {self.name}"
