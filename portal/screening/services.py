"""Writes of screening: screening people, resolving matches (loading lists: ``lists``).

Each service is one transaction with its audit event(s) inside.
"""

from __future__ import annotations

import datetime as dt
import hashlib
import json
from collections.abc import Callable, Iterator, Sequence
from dataclasses import dataclass

from django.conf import settings
from django.db import transaction
from django.utils import timezone

from foundation.audit.services import audit_record
from foundation.errors import require_text
from foundation.transitions import locked_transition
from portal.accounts.models import User
from portal.applications.models import Application
from portal.applications.services import application_screening_finished
from portal.applications.states import ApplicationState
from portal.eligibility.models import Person, ScreeningState
from portal.partners.selectors import belongs_to
from portal.screening.errors import ConflictOfInterestError, IllegalTransitionError, ScreeningError
from portal.screening.holds import hold_person_access, release_person_access
from portal.screening.matching import Match, index_for
from portal.screening.models import (
    MATCH_TRANSITIONS,
    MatchStatus,
    ScreeningMatch,
    ScreeningRun,
    Suppression,
)
from portal.screening.normalise import MAX_NAME_LENGTH, unscreenable_reason
from portal.screening.selectors import current_versions
from portal.screening.states import HELD_STATES, after_screening, check_person_transition

BATCH_SIZE = 1000
RESCREEN_CHUNK = 500


@dataclass(frozen=True)
class Screening:
    person: Person
    state_before: str
    state_after: str
    hits: list[Match]
    suppressed: list[Match]
    unscreenable: str | None = None


def _screen_locked(people: Sequence[Person], *, actor: User | None) -> list[Screening]:
    """Screen already-locked ``people``; writes runs, matches and states, returns what happened."""
    versions = current_versions()
    if not versions:
        raise ScreeningError("No screening list is loaded: load one with load_screening_list.")
    version_ids = [v.pk for v in versions]
    index = index_for(versions)
    threshold = settings.SCREENING_MATCH_THRESHOLD
    now = timezone.now()
    user = actor if getattr(actor, "is_authenticated", False) else None
    suppressed_hashes = set(
        Suppression.objects.filter(person__in=people).values_list("person_id", "content_hash")
    )
    outcomes: list[Screening] = []
    for person in people:
        unscreenable = unscreenable_reason(person.legal_name)
        found = index.search(
            person.legal_name[:MAX_NAME_LENGTH],
            date_of_birth=person.date_of_birth,
            countries=person.citizenships or (),
            threshold=threshold,
        )
        hits = [m for m in found if (person.pk, m.content_hash) not in suppressed_hashes]
        suppressed = [m for m in found if (person.pk, m.content_hash) in suppressed_hashes]
        # A name that cannot be screened is never read as clear: it is held for compliance.
        target = after_screening(person.screening_state, has_hits=bool(hits) or bool(unscreenable))
        check_person_transition(person.screening_state, target)
        outcomes.append(
            Screening(person, person.screening_state, target, hits, suppressed, unscreenable)
        )
    # Earlier unresolved matches are replaced by what this screening finds.
    ScreeningMatch.objects.filter(person__in=people, status=MatchStatus.PENDING).update(
        status=MatchStatus.SUPERSEDED
    )
    runs = ScreeningRun.objects.bulk_create(
        [
            ScreeningRun(
                person=o.person,
                versions=version_ids,
                threshold=threshold,
                created_at=now,
                actor=user,
                hit_count=len(o.hits),
                state_before=o.state_before,
                state_after=o.state_after,
            )
            for o in outcomes
        ]
    )
    ScreeningMatch.objects.bulk_create(
        [
            ScreeningMatch(
                run=run,
                person=o.person,
                entry_id=m.entry_pk,
                matched_alias=m.matched_alias[:500],
                alias_kind=m.alias_kind,
                score=m.score,
                reasons=[*m.reasons, *m.evidence_lines()],
                status=status,
            )
            for run, o in zip(runs, outcomes, strict=True)
            for status, matches in (
                # A confirmed person's new hits are evidence, not work for the queue.
                (
                    MatchStatus.SUPERSEDED
                    if o.state_after == ScreeningState.CONFIRMED_MATCH
                    else MatchStatus.PENDING,
                    o.hits,
                ),
                (MatchStatus.SUPPRESSED, o.suppressed),
            )
            for m in matches
        ],
        batch_size=BATCH_SIZE,
    )
    by_change: dict[tuple[str, str], list[int]] = {}
    for o in outcomes:
        if o.state_before != o.state_after:
            by_change.setdefault((o.state_before, o.state_after), []).append(o.person.pk)
    for (before, after), ids in by_change.items():
        Person.objects.filter(pk__in=ids, screening_state=before).update(screening_state=after)
    for o in outcomes:
        held_before, held_after = o.state_before in HELD_STATES, o.state_after in HELD_STATES
        if held_after and not held_before:
            hold_person_access(
                person=o.person,
                actor=user,
                reason=o.unscreenable if o.unscreenable and not o.hits
                else "potential denied-party screening match",
            )  # fmt: skip
        elif held_before and not held_after:
            release_person_access(
                person=o.person, actor=user, reason="no denied-party match remains"
            )
        o.person.screening_state = o.state_after
    return outcomes


def _queue_applications_waiting_on(person_ids: Sequence[int]) -> None:
    """Applications submitted while these people's screening was unfinished go to review
    once no nominee's screening is pending (each re-judged under its own row lock)."""
    waiting = (
        Application.objects.filter(state=ApplicationState.SCREENING, nominees__in=person_ids)
        .distinct()
        .order_by("pk")
    )
    for application in waiting:
        application_screening_finished(application=application)


def _hit_summary(matches: list[Match]) -> list[dict[str, object]]:
    return [
        {
            "source": m.source_list,
            "entity_id": m.entity_id,
            "matched_alias": m.matched_alias,
            "score": round(m.score, 4),
        }
        for m in matches
    ]


def person_screen(*, person: Person, actor: User | None) -> Screening:
    """Screen one person against the lists in force; a hit holds them for compliance."""
    with transaction.atomic():
        locked = Person.objects.select_for_update().get(pk=person.pk)
        (outcome,) = _screen_locked([locked], actor=actor)
        audit_record(
            actor=actor,
            action="person.screened",
            obj=locked,
            organisation_id=locked.organisation_id,
            before={"screening_state": outcome.state_before},
            after={
                "screening_state": outcome.state_after,
                "hits": _hit_summary(outcome.hits),
                "suppressed": _hit_summary(outcome.suppressed),
                "unscreenable": outcome.unscreenable or "",
            },
        )
        _queue_applications_waiting_on([locked.pk])
    person.screening_state = outcome.state_after
    return outcome


def _chunks(ids: list[int], size: int) -> Iterator[list[int]]:
    for start in range(0, len(ids), size):
        yield ids[start : start + size]


def people_rescreen(*, actor: User | None = None, chunk_size: int | None = None) -> dict[str, int]:
    """Re-screen everyone with a name, one transaction and one audit event per chunk.

    The chunk's event covers a digest of every (person, before, after, hits) row it stands
    for, so the chain stays one link per chunk and still proves each outcome.
    """
    ids = list(Person.objects.exclude(legal_name="").order_by("pk").values_list("pk", flat=True))
    chunk_size = chunk_size or RESCREEN_CHUNK
    totals = {"people": 0, "held": 0, "changed": 0}
    for chunk in _chunks(ids, chunk_size):
        with transaction.atomic(durable=True):
            people = list(Person.objects.select_for_update().filter(pk__in=chunk).order_by("pk"))
            outcomes = _screen_locked(people, actor=actor)
            rows = [
                [o.person.pk, o.state_before, o.state_after, sorted(m.entity_id for m in o.hits)]
                for o in outcomes
            ]
            changed = [
                {"person": o.person.pk, "before": o.state_before, "after": o.state_after}
                for o in outcomes
                if o.state_before != o.state_after
            ]
            audit_record(
                actor=actor,
                action="screening.rescreened",
                object_type="eligibility.person",
                reason="a new screening list version is in force",
                after={"people": len(outcomes), "first": chunk[0], "last": chunk[-1],
                       "changed": changed},
                digest=hashlib.sha256(json.dumps(rows).encode()).hexdigest(),
            )  # fmt: skip
            _queue_applications_waiting_on(chunk)
        totals["people"] += len(outcomes)
        totals["changed"] += len(changed)
        totals["held"] += sum(
            1 for o in outcomes if o.state_after == ScreeningState.POTENTIAL_MATCH
        )
    return totals


def _lock_person(match: ScreeningMatch) -> Person:
    # Person before match, always: the same order as screenings, so no deadlock.
    return Person.objects.select_for_update().get(pk=match.person_id)


def _check_match_transition(current: str, target: str) -> None:
    if target not in MATCH_TRANSITIONS[current]:
        raise IllegalTransitionError(
            f"This match is already {MatchStatus(current).label.lower()}; "
            "only a match awaiting compliance can be resolved."
        )


def _refuse_member(actor: User | None, person: Person) -> None:
    if actor is not None and belongs_to(actor, person.organisation_id):
        raise ConflictOfInterestError(
            "You belong to this person's organisation, so you may not decide their screening "
            "match: ask a colleague who is not a member."
        )


def _require_reason(reason: str) -> str:
    return require_text(
        reason, ScreeningError("Give the reason for the decision: it is kept in the audit trail.")
    )


def _resolve_match(
    match: ScreeningMatch,
    *,
    actor: User | None,
    reason: str,
    to: str,
    action: str,
    follow_on: Callable[[Person, ScreeningMatch, dt.datetime], dict[str, object]],
    guard: Callable[[Person], None] | None = None,
) -> ScreeningMatch:
    """Compliance's decision on a match: the person is locked first (the screenings' lock
    order), a member of their organisation is refused, the match moves ``to`` the decision
    with its resolution, ``follow_on`` does what the decision means for the person and
    names what the event should add, and the event covers it all."""
    with transaction.atomic(durable=True):
        person = _lock_person(match)
        _refuse_member(actor, person)
        before = person.screening_state
        now = timezone.now()
        reported: dict[str, object] = {}
        locked = locked_transition(
            match,
            to=to,
            field="status",
            check=_check_match_transition,
            guard=(lambda row: guard(person)) if guard is not None else None,
            stamp={"resolved_at": now, "resolved_by": actor, "resolution_reason": reason},
            then=lambda row: reported.update(follow_on(person, row, now)),
            audit=lambda row, status: audit_record(
                actor=actor,
                action=action,
                obj=row,
                organisation_id=person.organisation_id,
                reason=reason,
                before={"match": status, "screening_state": before},
                after={
                    "match": to,
                    "screening_state": person.screening_state,
                    "person": person.pk,
                    **reported,
                },
            ),
        )
        _queue_applications_waiting_on([person.pk])
    return locked


def screening_match_confirm(
    *, match: ScreeningMatch, actor: User | None, reason: str
) -> ScreeningMatch:
    """The person is the listed party: they stay blocked."""
    reason = _require_reason(reason)

    def block(person: Person, row: ScreeningMatch, now: dt.datetime) -> dict[str, object]:
        # The other open matches of a blocked person are no longer anyone's work.
        ScreeningMatch.objects.filter(person=person, status=MatchStatus.PENDING).update(
            status=MatchStatus.SUPERSEDED
        )
        Person.objects.filter(pk=person.pk).update(screening_state=ScreeningState.CONFIRMED_MATCH)
        person.screening_state = ScreeningState.CONFIRMED_MATCH
        hold_person_access(
            person=person, actor=actor, reason=f"confirmed screening match: {reason}"
        )
        return {"entry": f"{row.entry.source_list} {row.entry.entity_id}"}

    return _resolve_match(
        match,
        actor=actor,
        reason=reason,
        to=MatchStatus.CONFIRMED,
        action="screening.match_confirmed",
        guard=lambda person: check_person_transition(
            person.screening_state, ScreeningState.CONFIRMED_MATCH
        ),
        follow_on=block,
    )


def screening_match_dismiss(
    *, match: ScreeningMatch, actor: User | None, reason: str
) -> Suppression:
    """A false positive: suppress this entry for this person while the entry reads the same."""
    reason = _require_reason(reason)
    suppressions: list[Suppression] = []

    def suppress(person: Person, row: ScreeningMatch, now: dt.datetime) -> dict[str, object]:
        entry = row.entry
        suppression, _ = Suppression.objects.get_or_create(
            person=person,
            content_hash=entry.content_hash,
            defaults={
                "source_list": entry.source_list,
                "entity_id": entry.entity_id,
                "entry_name": entry.primary_name,
                "match": row,
                "created_by": actor,
                "reason": reason,
                "created_at": now,
            },
        )
        suppressions.append(suppression)
        still_open = ScreeningMatch.objects.filter(
            person=person, status=MatchStatus.PENDING
        ).exists()
        if person.screening_state == ScreeningState.POTENTIAL_MATCH and not still_open:
            check_person_transition(person.screening_state, ScreeningState.FALSE_POSITIVE)
            Person.objects.filter(pk=person.pk).update(
                screening_state=ScreeningState.FALSE_POSITIVE
            )
            person.screening_state = ScreeningState.FALSE_POSITIVE
            release_person_access(
                person=person, actor=actor, reason=f"screening match dismissed: {reason}"
            )
        return {
            "suppressed_entry": f"{entry.source_list} {entry.entity_id}",
            "content_hash": entry.content_hash,
        }

    _resolve_match(
        match,
        actor=actor,
        reason=reason,
        to=MatchStatus.DISMISSED,
        action="screening.match_dismissed",
        follow_on=suppress,
    )
    return suppressions[0]
