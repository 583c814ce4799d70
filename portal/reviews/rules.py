"""The review rules as pure functions, so the UI can say why a button is unavailable.

Each ``why_not_*`` returns ``None`` when the action is allowed, otherwise the reason in
words a reviewer can act on. Services enforce the same functions (and the database
constraints and conditional updates behind them), so the page and the rule cannot disagree.
"""

from __future__ import annotations

import datetime as dt
from dataclasses import dataclass, fields
from typing import Any

from django.utils import timezone

from portal.applications.models import Application
from portal.applications.states import OPEN_STATES, ApplicationState
from provisioning.catalog.models import Stage

S = ApplicationState

# States in which a reviewer may approve or question an application.
DECIDABLE_STATES = frozenset({S.IN_REVIEW})
REJECTABLE_STATES = frozenset({S.SCREENING, S.IN_REVIEW, S.INFO_REQUESTED})
QUEUE_STATES = OPEN_STATES


@dataclass(frozen=True)
class ReviewContext:
    """What the rules need to know about one application and one reviewer."""

    state: str
    four_eyes: bool
    is_member: bool  # the reviewer belongs to the applicant organisation
    can_decide: bool  # the reviewer holds reviews.decide_review
    first_approver_id: int | None
    assignee_id: int | None


def cannot_in_state(state: str, verb: str) -> str:
    """Why an application in ``state`` cannot be ``verb`` (approved, rejected, questioned):
    the words of the page's rule and of the service that enforces it."""
    return f"An application that is {S(state).label.lower()} cannot be {verb}."


def why_not_decide(ctx: ReviewContext, user: Any) -> str | None:
    if not ctx.can_decide:
        return "Only reviewers can act on applications."
    if ctx.is_member:
        return "You belong to this organisation, so you may not review its applications."
    return None


def why_not_claim(ctx: ReviewContext, user: Any) -> str | None:
    if reason := why_not_decide(ctx, user):
        return reason
    if ctx.state not in QUEUE_STATES:
        return "The application is no longer in the queue."
    if ctx.assignee_id == user.pk:
        return "You already work on this application."
    if ctx.assignee_id is not None:
        return "Another reviewer works on this application; a senior reviewer can reassign it."
    return None


def _why_not_decide_in(
    ctx: ReviewContext, user: Any, states: frozenset[str], verb: str
) -> str | None:
    """Why ``user`` may not make a decision (``verb``) taken only in ``states``."""
    if reason := why_not_decide(ctx, user):
        return reason
    if ctx.state not in states:
        return cannot_in_state(ctx.state, verb)
    return None


def why_not_approve(ctx: ReviewContext, user: Any) -> str | None:
    if reason := _why_not_decide_in(ctx, user, DECIDABLE_STATES, "approved"):
        return reason
    if ctx.four_eyes and ctx.first_approver_id == user.pk:
        return "You gave the first approval; a second reviewer must approve."
    return None


def why_not_reject(ctx: ReviewContext, user: Any) -> str | None:
    return _why_not_decide_in(ctx, user, REJECTABLE_STATES, "rejected")


def why_not_request_information(ctx: ReviewContext, user: Any) -> str | None:
    if reason := why_not_decide(ctx, user):
        return reason
    if ctx.state not in DECIDABLE_STATES:
        if ctx.state == S.INFO_REQUESTED:
            return "The applicant has not answered the last question yet."
        return cannot_in_state(ctx.state, "questioned")
    return None


@dataclass(frozen=True)
class Terms:
    """What an approval grants. The same five fields stand on an ``Approval`` and are the
    keywords ``grant_create`` takes for them."""

    stage: Stage
    seats: int
    monthly_quota: int
    rate_limit_per_minute: int
    expires_at: dt.datetime

    def as_fields(self) -> dict[str, Any]:
        """The terms by field name, to pass on as keywords (shallow: the stage itself)."""
        return {field.name: getattr(self, field.name) for field in fields(self)}

    @classmethod
    def of(cls, source: Any) -> Terms:
        """The terms recorded on ``source`` (an ``Approval``), read by the same names."""
        return cls(**{field.name: getattr(source, field.name) for field in fields(cls)})


def default_terms(stage: Stage, *, now: dt.datetime | None = None) -> Terms:
    now = now or timezone.now()
    return Terms(
        stage=stage,
        seats=stage.seats,
        monthly_quota=stage.monthly_quota,
        rate_limit_per_minute=stage.rate_limit_per_minute,
        expires_at=now + dt.timedelta(days=stage.max_duration_days),
    )


def terms_problems(
    application: Application, terms: Terms, *, nominees: int, now: dt.datetime | None = None
) -> list[str]:
    """Everything wrong with ``terms`` for ``application``; empty when they are within limits."""
    now = now or timezone.now()
    stage = terms.stage
    problems = []
    if stage.covered_model_id != application.covered_model_id:
        problems.append(f"{stage} is not a stage of the model applied for.")
        return problems
    label = stage.get_name_display()
    if not 1 <= terms.seats <= stage.seats:
        problems.append(f"Seats must be between 1 and the {label} stage's {stage.seats}.")
    elif terms.seats < nominees:
        problems.append(
            f"The application nominates {nominees} people; grant at least {nominees} seats."
        )
    if not 0 < terms.monthly_quota <= stage.monthly_quota:
        problems.append(
            f"The monthly quota must be between 1 and the {label} stage's "
            f"{stage.monthly_quota:,} requests."
        )
    if not 0 < terms.rate_limit_per_minute <= stage.rate_limit_per_minute:
        problems.append(
            f"The rate limit must be between 1 and the {label} stage's "
            f"{stage.rate_limit_per_minute} requests a minute."
        )
    if terms.expires_at <= now:
        problems.append("The expiry must be in the future.")
    elif terms.expires_at > now + dt.timedelta(days=stage.max_duration_days, minutes=1):
        latest = (now + dt.timedelta(days=stage.max_duration_days)).date()
        problems.append(
            f"The {label} stage allows at most {stage.max_duration_days} days: "
            f"expire on or before {latest:%Y-%m-%d}."
        )
    return problems
