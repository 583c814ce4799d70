"""Long work the pages start and a worker does: a list load, a campaign opening.

The row is the job's durable state (queued → running → done | failed), so a worker that
starts after a crash finds it, and the status fragment reads its counts while it runs.
"""

from __future__ import annotations

from django.conf import settings
from django.db import models


class JobKind(models.TextChoices):
    LIST_LOAD = "screening.list_load", "Screening-list load"
    CAMPAIGN_OPEN = "certification.campaign_open", "Certification campaign opening"


class JobState(models.TextChoices):
    QUEUED = "queued", "Queued"
    RUNNING = "running", "Running"
    DONE = "done", "Done"
    FAILED = "failed", "Failed"


FINISHED_STATES = (JobState.DONE, JobState.FAILED)

# Who may start and watch a job of each kind: the permission the same work needs elsewhere.
KIND_PERMISSIONS: dict[str, str] = {
    JobKind.LIST_LOAD: "screening.add_listversion",
    JobKind.CAMPAIGN_OPEN: "certification.add_campaign",
}


class Job(models.Model):
    kind = models.CharField(max_length=40, choices=JobKind.choices)
    state = models.CharField(
        max_length=10, choices=JobState.choices, default=JobState.QUEUED, db_index=True
    )
    # What the service is called with (plain JSON: ids, strings, ISO times).
    params = models.JSONField(default=dict, blank=True)
    # Private-storage names of uploaded files the worker reads; deleted when the job ends.
    files = models.JSONField(default=list, blank=True)
    done = models.PositiveIntegerField(default=0)
    total = models.PositiveIntegerField(default=0)
    # What the service said when it refused, in words; empty unless failed.
    error = models.TextField(blank=True)
    # The list version or campaign the job made.
    result_id = models.PositiveBigIntegerField(null=True, blank=True)
    # Runs started (a worker crash means another); only the latest run may finish the job.
    attempts = models.PositiveSmallIntegerField(default=0)
    started_by = models.ForeignKey(
        settings.AUTH_USER_MODEL, null=True, on_delete=models.PROTECT, related_name="+"
    )
    created_at = models.DateTimeField()
    started_at = models.DateTimeField(null=True, blank=True)
    # Moves with every progress report: a running job that stopped moving is resumed.
    updated_at = models.DateTimeField()
    finished_at = models.DateTimeField(null=True, blank=True)

    class Meta:
        ordering = ["-created_at", "-id"]
        constraints = [
            models.CheckConstraint(
                condition=models.Q(state__in=JobState.values), name="job_state_valid"
            ),
            models.CheckConstraint(
                condition=models.Q(kind__in=JobKind.values), name="job_kind_valid"
            ),
        ]

    def __str__(self) -> str:
        return f"#{self.pk} {self.get_kind_display()} ({self.state})"

    @property
    def finished(self) -> bool:
        return self.state in FINISHED_STATES

    @property
    def percent(self) -> int:
        if not self.total:
            return 0
        return min(100, self.done * 100 // self.total)
