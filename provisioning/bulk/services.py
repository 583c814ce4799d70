"""Writes on bulk actions: plan, approve, execute (in chunks), review, re-plan.

Execution goes through the grant services (set-based, a handful of statements per
chunk); this module runs the chunks that are not done (``chunks``: several at once on
PostgreSQL, shared by every worker running the action) and records progress with each, so
a worker that dies mid-action loses only the chunks it held, which run again, and no chunk
ever runs twice.
"""

from __future__ import annotations

import hashlib
import threading
from collections.abc import Callable, Mapping
from typing import Any

import pycountry
from django.conf import settings
from django.db import connection, transaction
from django.utils import timezone

from foundation.actors import Actor
from foundation.audit.services import audit_record
from foundation.audit.tasks import checkpoint_on_commit
from foundation.errors import require_text
from foundation.transitions import locked_transition, stamped
from provisioning.bulk.chunks import (
    mark_done,
    open_chunks,
    parallel_runners,
    run_at_once,
    take_chunk,
    take_untallied,
)
from provisioning.bulk.credentials import (
    add_reasons,
    credentials_restore,
    credentials_revoke,
    credentials_suspend,
)
from provisioning.bulk.holdback import RestoreSelection
from provisioning.bulk.models import (
    ApprovalRequired,
    BulkAction,
    BulkActionError,
    BulkActionItem,
    BulkKind,
    BulkPlanKey,
    BulkScope,
    BulkState,
    EmptyPlan,
    HoldReason,
    PlanPart,
    SamePersonError,
    check_bulk_transition,
)
from provisioning.bulk.plan import (
    FILTER_NAMES,
    SAMPLE_SIZE,
    Criteria,
    PlanDifference,
    Selection,
    chunk_size,
    current_hash,
    difference,
    resolve,
    resolve_restore,
    scope_for,
    summarise,
    summarise_keys,
)
from provisioning.changelog.writer import ChangeSet
from provisioning.grants.models import SuspensionKind
from provisioning.grants.services import grant_restore, grant_revoke, grant_suspend


class PlanChanged(BulkActionError):
    """The set changed since the plan; ``difference`` says how. Re-plan to go on."""

    def __init__(self, message: str, *, difference: PlanDifference) -> None:
        super().__init__(message)
        self.difference = difference


def approval_threshold() -> int:
    return int(getattr(settings, "BULK_APPROVAL_THRESHOLD", 100))


def needs_approval(action: BulkAction) -> bool:
    """A restore, or a non-emergency action over the threshold, needs a second person."""
    if action.determination:
        return False  # two compliance officers approved the determination itself
    if action.kind == BulkKind.RESTORE:
        return True
    size = action.grant_count if action.scope == BulkScope.GRANT else action.credential_count
    return not action.emergency and size > approval_threshold()


def actor_id(actor: Actor) -> int | None:
    """The signed-in user's id, or None for a system actor."""
    return actor.pk if actor is not None and actor.is_authenticated else None


def required_reason(reason: str | None) -> str:
    """``reason`` stripped; refused when empty, since every change records it."""
    return require_text(reason, BulkActionError("Give a reason: it is recorded with every change."))


def _clean_filters(filters: dict[str, Any]) -> dict[str, Any]:
    clean = {name: filters[name] for name in FILTER_NAMES if filters.get(name) not in (None, "")}
    for name in ("citizenship", "residence"):
        if name in clean:
            code = str(clean[name]).strip().upper()
            # Fail closed: a code that names no country would match nobody, silently.
            if pycountry.countries.get(alpha_2=code) is None:
                raise BulkActionError(
                    f"{name}: {clean[name]} is not an ISO 3166-1 alpha-2 country code."
                )
            clean[name] = code
    return clean


def _criteria(action: BulkAction, *, gated: bool | None = None) -> Criteria:
    """The action's selection; gated by eligibility unless a determination decided it."""
    return Criteria(
        kind=action.kind,
        scope=action.scope,
        filters=action.filters,
        suspension_kind=action.suspension_kind,
        reference=action.reference,
        explicit_action=action.pk if action.filters.get("explicit") else None,
        gated=not action.determination if gated is None else gated,
    )


def _hash_for(action: BulkAction) -> str:
    return current_hash(_criteria(action), like=action.plan_hash)


def _resolve_for(action: BulkAction, *, gated: bool | None = None) -> Selection:
    """The action's set now."""
    return resolve(_criteria(action, gated=gated))


def _restore_for(action: BulkAction) -> tuple[Selection, RestoreSelection]:
    return resolve_restore(_criteria(action))


def _reason_summary(found: RestoreSelection) -> str:
    counts: dict[str, int] = {}
    for key in found.held:
        label = HoldReason(key.reason).label.lower()
        counts[label] = counts.get(label, 0) + 1
    return ", ".join(f"{label}: {n}" for label, n in sorted(counts.items()))


def _write_plan_keys(action: BulkAction, found: RestoreSelection) -> None:
    BulkPlanKey.objects.bulk_create(
        (
            BulkPlanKey(
                action_id=action.pk,
                part=key.part,
                credential_id=key.credential_id,
                grant_id=key.grant_id,
                reason=key.reason,
                detail=key.detail,
                gate_hold=key.gate_hold,
                organisation=key.organisation[:200],
                model=key.model[:60],
                person=key.person[:200],
            )
            for key in found.keys
        ),
        batch_size=5000,
    )


def plan_keys(action: BulkAction, part: str) -> list[tuple[int, str]]:
    """(key, reason) of one part of a restore's plan, in key order."""
    return list(
        BulkPlanKey.objects.filter(action=action, part=part)
        .order_by("credential_id")
        .values_list("credential_id", "reason")
    )


def restore_difference(action: BulkAction, found: RestoreSelection) -> dict[str, Any]:
    """How a restore's two parts differ from the plan, key by key."""
    planned_back = {pk for pk, _ in plan_keys(action, PlanPart.BACK)}
    planned_held = dict(plan_keys(action, PlanPart.HELD))
    back = {k.credential_id for k in found.back}
    held = {k.credential_id: k.reason for k in found.held}
    return {
        "back_added": sorted(back - planned_back),
        "back_removed": sorted(planned_back - back),
        "held_added": sorted(set(held) - set(planned_held)),
        "held_removed": sorted(set(planned_held) - set(held)),
        "held_reason_changed": sorted(
            pk for pk in set(held) & set(planned_held) if held[pk] != planned_held[pk]
        ),
    }


def _refuse_while_stop_runs(reference: str) -> None:
    """A restore of an emergency stop's reference waits until the stop's keys are all
    suspended: lifting it while its chunks run would let a later chunk suspend again what
    the restore brought back."""
    stop = (
        BulkAction.objects.filter(stop_model__isnull=False, reference=reference)
        .exclude(state=BulkState.DONE)
        .first()
    )
    if stop is None:
        return
    failed = stop.state == BulkState.FAILED
    raise BulkActionError(
        f"The emergency stop #{stop.pk} is still suspending its keys "
        f"({stop.chunk_cursor} of {stop.chunk_count} chunks done"
        + ("; it failed, resume it first" if failed else "")
        + "). Lift it once it is done. Nothing was changed."
    )


def write_items(action: BulkAction, selection: Selection) -> int:
    """Store the plan's rows with their chunk number, and its chunks' rows (``open_chunks``);
    returns the number of chunks.

    Chunks hold at most ``BULK_CHUNK_SIZE`` keys (``BULK_EMERGENCY_CHUNK_SIZE`` for an
    emergency; a grant is never split, so a grant with more keys makes a chunk of its own),
    so the progress bar moves however keys spread. On PostgreSQL the rows go in as one
    ``INSERT … SELECT`` over three arrays: 20,000 model objects took four times as long to
    build and send as the statement takes to run.
    """
    size = chunk_size(emergency=action.emergency)
    is_grant = selection.scope == BulkScope.GRANT
    grant_ids: list[int] = []
    item_ids: list[int] = []
    chunks: list[int] = []
    chunk, load = 0, 0
    for item_id, grant_id in selection.pairs:
        weight = max(1, selection.weights.get(grant_id, 0)) if is_grant else 1
        if load and load + weight > size:
            chunk, load = chunk + 1, 0
        load += weight
        grant_ids.append(grant_id)
        item_ids.append(item_id)
        chunks.append(chunk)
    if not chunks:
        return 0
    if connection.vendor == "postgresql":
        with connection.cursor() as cursor:
            cursor.execute(
                f"INSERT INTO {BulkActionItem._meta.db_table} "  # noqa: S608
                "(action_id, grant_id, credential_id, chunk) "
                f"SELECT %s, g, {'NULL' if is_grant else 'c'}, k "
                "FROM unnest(%s::bigint[], %s::bigint[], %s::int[]) AS t(g, c, k)",
                [action.pk, grant_ids, item_ids, chunks],
            )
    else:
        BulkActionItem.objects.bulk_create(
            (
                BulkActionItem(
                    action_id=action.pk,
                    grant_id=grant_id,
                    credential_id=None if is_grant else item_id,
                    chunk=number,
                )
                for grant_id, item_id, number in zip(grant_ids, item_ids, chunks, strict=True)
            ),
            batch_size=5000,
        )
    open_chunks(action_id=action.pk, count=chunk + 1)
    return chunk + 1


def bulk_plan(
    *,
    kind: str,
    filters: dict[str, Any],
    reason: str,
    actor: Actor,
    emergency: bool = False,
    suspension_kind: str = SuspensionKind.OPS,
    reference: str = "",
    determination: str = "",
    explicit: list[tuple[int, int]] | None = None,
    scope: str | None = None,
) -> BulkAction:
    """A dry-run: resolve the filter to the exact set, store it, hash it.

    A restore must name the reason it lifts (``suspension_kind`` + ``reference``).
    ``explicit`` lists (item id, grant id) pairs chosen by the caller (a determination):
    the filter is then "exactly these, while they are still live".
    """
    kind = BulkKind(kind)
    reason = required_reason(reason)
    if emergency and kind == BulkKind.RESTORE:
        raise BulkActionError("A restore is never an emergency: it needs a second approval.")
    if kind == BulkKind.RESTORE and not reference:
        raise BulkActionError(
            "Say which suspension this restore lifts (the bulk action or determination "
            "reference): a restore removes only its own reason."
        )
    SuspensionKind(suspension_kind)
    if kind == BulkKind.RESTORE:
        _refuse_while_stop_runs(reference)
    clean = _clean_filters(filters)
    if explicit is not None:
        clean["explicit"] = True
    scope = scope or scope_for(clean)
    now = timezone.now()
    with transaction.atomic():
        action = BulkAction.objects.create(
            kind=kind,
            scope=scope,
            filters=clean,
            reason=reason,
            suspension_kind=suspension_kind,
            reference=reference,
            emergency=emergency,
            determination=determination,
            plan_hash="",
            planned_by_id=actor_id(actor),
            planned_at=now,
        )
        if not action.reference:
            # A suspension's own reference, which the matching restore will name.
            action.reference = f"bulk:{action.pk}"
        if explicit is not None:
            BulkActionItem.objects.bulk_create(
                (
                    BulkActionItem(
                        action_id=action.pk,
                        grant_id=grant_id,
                        credential_id=None if scope == BulkScope.GRANT else item_id,
                    )
                    for item_id, grant_id in explicit
                ),
                batch_size=5000,
            )
        found: RestoreSelection | None = None
        if kind == BulkKind.RESTORE:
            selection, found = _restore_for(action)
        else:
            selection = _resolve_for(action)
        if explicit is not None:
            BulkActionItem.objects.filter(action_id=action.pk).delete()
        if not selection.item_ids:
            if found is not None and found.held:
                raise EmptyPlan(
                    "Nothing can be restored: the determination in force still blocks these "
                    "grants or holds these people back (every key is held back: "
                    f"{_reason_summary(found)}). Nothing was changed."
                )
            raise EmptyPlan("The filter matches nothing: nothing to plan. Widen the filter.")
        chunks = write_items(action, selection)
        if found is not None:
            _write_plan_keys(action, found)
            counts = summarise_keys(found.back)
            sample = [k.as_dict() for k in found.back[:SAMPLE_SIZE]]
            action.held_count = len(found.held)
            action.held_counts = summarise_keys(found.held)
            action.gate_reference = found.gate_reference
        else:
            counts, sample = summarise(action_id=action.pk, scope=scope)
        action.plan_hash = selection.plan_hash
        action.grant_count = (
            len(selection.item_ids)
            if scope == BulkScope.GRANT
            else len({g for _, g in selection.pairs})
        )
        action.credential_count = selection.credential_count
        action.chunk_count = chunks
        action.counts = counts
        action.sample = sample
        action.save()
        audit_record(
            actor=actor,
            action="bulk_action.planned",
            obj=action,
            reason=reason,
            after={
                "kind": kind.value,
                "scope": scope,
                "filters": clean,
                "emergency": emergency,
                "reference": action.reference,
                "plan_hash": action.plan_hash,
                "grants": action.grant_count,
                "credentials": action.credential_count,
                "held_back": action.held_count,
            },
        )
    return action


def _locked(action: BulkAction) -> BulkAction:
    return BulkAction.objects.select_for_update().get(pk=action.pk)


def _move(
    action: BulkAction,
    *,
    actor: Actor,
    to: str,
    event: str,
    guard: Callable[[BulkAction], None] | None = None,
    stamp: Mapping[str, Any] | Callable[[BulkAction], Mapping[str, Any]] | None = None,
    after: Callable[[BulkAction], dict[str, Any]] | None = None,
) -> BulkAction:
    """One step of the action's life: checked against its table, audited with its reason."""
    return locked_transition(
        action,
        to=to,
        check=check_bulk_transition,
        guard=guard,
        stamp=stamp,
        audit=lambda row, _: audit_record(
            actor=actor,
            action=event,
            obj=row,
            reason=row.reason,
            after=after(row) if after is not None else None,
        ),
    )


def _execute_on_commit(action_id: int) -> None:
    def _enqueue() -> None:
        from provisioning.bulk.tasks import execute

        execute.delay(action_id)

    transaction.on_commit(_enqueue)


def bulk_approve(*, action: BulkAction, actor: Actor) -> BulkAction:
    """The second person's approval; the planner can never give it (invariant 5)."""
    # Set when the action is planned and never changed, so the unlocked row may answer.
    if action.emergency:
        raise BulkActionError("An emergency action runs at once; it is reviewed afterwards.")

    def second_person(row: BulkAction) -> None:
        if actor_id(actor) is None or actor_id(actor) == row.planned_by_id:
            raise SamePersonError(
                "The person who planned a bulk action cannot approve it: ask a colleague."
            )

    with transaction.atomic(durable=True):
        return _move(
            action,
            actor=actor,
            to=BulkState.APPROVED,
            event="bulk_action.approved",
            guard=second_person,
            stamp=stamped("approved", actor),
            after=lambda row: {"plan_hash": row.plan_hash},
        )


def _refuse(action: BulkAction, current: Selection, keys: dict[str, Any]) -> None:
    planned = BulkActionItem.objects.filter(action=action).values_list(
        "grant_id" if action.scope == BulkScope.GRANT else "credential_id", flat=True
    )
    diff = difference(
        scope=action.scope,
        planned_ids=planned,
        planned_credentials=action.credential_count,
        current=current,
    )
    diff.extra.update(keys)
    message = (
        f"The set changed since the plan: {len(diff.added)} {diff.item_label} added, "
        f"{len(diff.removed)} removed, credentials {diff.planned_credentials} → "
        f"{diff.current_credentials}."
    )
    if keys:
        message = (
            f"The plan changed since it was approved: keys coming back "
            f"+{len(keys['back_added'])}/-{len(keys['back_removed'])}, keys held back "
            f"+{len(keys['held_added'])}/-{len(keys['held_removed'])}, "
            f"{len(keys['held_reason_changed'])} held back for another reason; "
            f"{len(diff.added)} {diff.item_label} added, {len(diff.removed)} removed."
        )
    raise PlanChanged(
        f"{message} Nothing was changed; re-plan to go on.",
        difference=diff,
    )


def bulk_execute(*, action: BulkAction, actor: Actor, run_now: bool = False) -> BulkAction:
    """Check the plan still holds, then start. Refuses (nothing changed) on any difference.

    ``run_now`` runs every chunk in this process (determinations, tests, the CLI);
    otherwise the ``bulk.execute`` task runs them after commit.
    """

    def plan_holds(row: BulkAction) -> None:
        if row.state == BulkState.PLANNED and needs_approval(row):
            raise ApprovalRequired(
                "This action needs a second person's approval before it runs "
                + (
                    "(every restore does)."
                    if row.kind == BulkKind.RESTORE
                    else f"(it covers more than {approval_threshold()} items)."
                )
            )
        if row.kind == BulkKind.RESTORE:
            _refuse_while_stop_runs(row.reference)
            current, found = _restore_for(row)
            if current.plan_hash != row.plan_hash:
                _refuse(row, current, restore_difference(row, found))
        elif _hash_for(row) != row.plan_hash:
            _refuse(row, _resolve_for(row), {})

    with transaction.atomic():
        action = _move(
            action,
            actor=actor,
            to=BulkState.RUNNING,
            event="bulk_action.started",
            guard=plan_holds,
            stamp=lambda row: {
                "executed_by": actor if actor_id(actor) else None,
                "started_at": timezone.now(),
                "review_required": row.emergency,
            },
            after=lambda row: {"plan_hash": row.plan_hash, "emergency": row.emergency},
        )
        if not run_now:
            _execute_on_commit(action.pk)
    if run_now:
        bulk_run(action_id=action.pk)
        action.refresh_from_db()
    return action


def _chunk_ids(action: BulkAction, chunk: int) -> list[int]:
    column = "grant_id" if action.scope == BulkScope.GRANT else "credential_id"
    return list(
        BulkActionItem.objects.filter(action=action, chunk=chunk)
        .order_by(column)
        .values_list(column, flat=True)
    )


def _run_chunk(action: BulkAction, ids: list[int]) -> ChangeSet:
    actor = action.executed_by
    note = action.reason
    kind, reference = action.suspension_kind, action.reference
    if action.scope == BulkScope.GRANT:
        if action.kind == BulkKind.SUSPEND:
            return grant_suspend(
                grants=ids, reason=kind, reference=reference, actor=actor, note=note
            ).changes
        if action.kind == BulkKind.REVOKE:
            return grant_revoke(grants=ids, actor=actor, note=note).changes
        # Keys the rules in force hold back get a reason of their own first, so the
        # grant's return never turns them active (the plan listed them as held back).
        keep = list(
            BulkPlanKey.objects.filter(action=action, grant_id__in=ids, gate_hold=True)
            .order_by("credential_id")
            .values_list("credential_id", flat=True)
        )
        if keep:
            add_reasons(
                credential_ids=keep,
                kind=SuspensionKind.REGULATORY,
                reference=action.gate_reference or "eligibility",
            )
        return grant_restore(
            grants=ids, reason=kind, reference=reference, actor=actor, note=note
        ).changes
    if action.kind == BulkKind.SUSPEND:
        return credentials_suspend(
            credential_ids=ids, kind=kind, reference=reference, actor=actor, note=note
        )
    if action.kind == BulkKind.REVOKE:
        return credentials_revoke(credential_ids=ids, actor=actor, note=note)
    return credentials_restore(
        credential_ids=ids, kind=kind, reference=reference, actor=actor, note=note
    )


class ChunkAbandoned(BulkActionError):
    """The action stopped running (another worker's chunk failed) while a chunk ran: the
    chunk's changes are rolled back, and it runs again when the action is resumed."""


def bulk_run_chunk(*, action_id: int) -> bool:
    """Run one chunk that no other runner holds, in one transaction, then count it in the
    action's progress. False when there is none to take: all are done, or the rest are held
    by other runners (each finishes its own).

    The chunk is marked done in the same transaction as its changes, so a crash either
    loses the whole chunk (it runs again) or none of it. Its transaction never locks the
    action's row (``BulkChunk``): progress is counted in a short transaction of its own.
    """
    with transaction.atomic():
        number = take_chunk(action_id=action_id)
        if number is None:
            return False
        # Not the plan's counts and sample: one entry per organisation, read and parsed
        # again for every chunk of a 1,000,000-key action, and no chunk needs them.
        action = (
            BulkAction.objects.select_related("executed_by")
            .defer("counts", "sample", "held_counts")
            .get(pk=action_id)
        )
        if action.state != BulkState.RUNNING:
            return False
        ids = _chunk_ids(action, number)
        changes = _run_chunk(action, ids)
        if not BulkAction.objects.filter(pk=action_id, state=BulkState.RUNNING).exists():
            raise ChunkAbandoned(f"Bulk action #{action_id} stopped running during chunk {number}.")
        mark_done(action_id=action_id, number=number, items=len(ids), changes=changes)
    with transaction.atomic():
        _tally(_locked_progress(action_id))
    return True


# What the chunks done add up to on their action.
_PROGRESS_FIELDS = (
    "chunk_digests",
    "chunk_cursor",
    "items_done",
    "credentials_changed",
    "first_change_id",
    "last_change_id",
)


def _locked_progress(action_id: int) -> BulkAction:
    return (
        BulkAction.objects.select_for_update()
        .only("state", "chunk_count", *_PROGRESS_FIELDS)
        .get(pk=action_id)
    )


def _tally(action: BulkAction) -> None:
    """Add the chunks done and not counted yet to ``action`` (its row locked by the caller):
    each digest at its chunk's number, and the counts. Whichever runner gets here first
    counts a chunk, once, whatever order the chunks finished in."""
    chunks = take_untallied(action_id=action.pk)
    if not chunks:
        return
    digests = list(action.chunk_digests)
    digests += [""] * (action.chunk_count - len(digests))
    for chunk in chunks:
        digests[chunk.number] = chunk.digest
        action.chunk_cursor += 1
        action.items_done += chunk.items
        action.credentials_changed += chunk.changes
        first, last = chunk.first_change_id, chunk.last_change_id
        if first is not None and last is not None:
            action.first_change_id = min(action.first_change_id or first, first)
            action.last_change_id = max(action.last_change_id or last, last)
    action.chunk_digests = digests
    action.save(update_fields=_PROGRESS_FIELDS)


def decision_digest(chunk_digests: list[str]) -> str:
    """sha256 over the chunks' change-log digests, in order: the decision's one digest."""
    return hashlib.sha256("\n".join(chunk_digests).encode()).hexdigest()


def bulk_finish(*, action_id: int) -> BulkAction:
    with transaction.atomic():
        action = BulkAction.objects.select_for_update().get(pk=action_id)
        # A runner that died between its chunk and the count left it to whoever comes next.
        _tally(action)
        if action.state != BulkState.RUNNING or action.chunk_cursor < action.chunk_count:
            return action
        check_bulk_transition(action.state, BulkState.DONE)
        action.state = BulkState.DONE
        action.committed_at = timezone.now()
        action.save(update_fields=["state", "committed_at"])
        if action.kind == BulkKind.RESTORE:
            # Lifting a stop: the model may be stopped again (held-back keys keep its reason).
            BulkAction.objects.filter(
                stop_model__isnull=False,
                stop_lifted_at__isnull=True,
                suspension_kind=action.suspension_kind,
                reference=action.reference,
            ).update(stop_lifted_at=action.committed_at)
        audit_record(
            actor=action.executed_by,
            action="bulk_action.executed",
            obj=action,
            reason=action.reason,
            after={
                "kind": action.kind,
                "scope": action.scope,
                "reference": action.reference,
                "plan_hash": action.plan_hash,
                "items": action.items_done,
                "credentials_changed": action.credentials_changed,
                "chunks": action.chunk_count,
                "first_change_id": action.first_change_id,
                "last_change_id": action.last_change_id,
            },
            digest=decision_digest(action.chunk_digests),
        )
        checkpoint_on_commit()
    return action


def bulk_fail(*, action_id: int, error: str) -> None:
    with transaction.atomic():
        action = BulkAction.objects.select_for_update().get(pk=action_id)
        if action.state != BulkState.RUNNING:
            return
        action.state = BulkState.FAILED
        action.error = error[:2000]
        action.save(update_fields=["state", "error"])
        audit_record(
            actor=None,
            action="bulk_action.failed",
            obj=action,
            reason=action.reason,
            after={"error": action.error, "chunk_cursor": action.chunk_cursor},
        )


def _drain(action_id: int, stop: threading.Event) -> None:
    """Chunks until none is left to take, or until ``stop`` is set."""
    while not stop.is_set():
        try:
            if not bulk_run_chunk(action_id=action_id):
                return
        except ChunkAbandoned:
            return  # the action failed elsewhere: nothing more to run


def bulk_run(*, action_id: int, max_chunks: int | None = None) -> BulkAction:
    """Run the chunks not done yet, then finish the action once every chunk is done.

    All of them, several at once where ``parallel_runners`` allows; with ``max_chunks``,
    that many at most, one after the other.
    """
    try:
        if max_chunks is None:
            run_at_once(lambda stop: _drain(action_id, stop), runners=parallel_runners())
        else:
            for _ in range(max_chunks):
                if not bulk_run_chunk(action_id=action_id):
                    break
    except Exception as exc:
        # Visible in the UI with its reason; ops resume it, and the chunks not done run.
        # Inside an outer transaction (a determination) the caller's rollback undoes all.
        if not transaction.get_connection().in_atomic_block:
            bulk_fail(action_id=action_id, error=str(exc) or exc.__class__.__name__)
        raise
    return bulk_finish(action_id=action_id)


def bulk_resume(*, action: BulkAction, actor: Actor) -> BulkAction:
    """Put a failed action back to running: its chunks not done run (ops decides to retry)."""

    def failed(row: BulkAction) -> None:
        if row.state != BulkState.FAILED:
            raise BulkActionError("Only a failed action is resumed; start a planned one instead.")

    with transaction.atomic(durable=True):
        action = _move(
            action,
            actor=actor,
            to=BulkState.RUNNING,
            event="bulk_action.resumed",
            guard=failed,
            stamp={"error": ""},
        )
        _execute_on_commit(action.pk)
    return action


def bulk_review(*, action: BulkAction, actor: Actor, note: str) -> BulkAction:
    """The after-the-fact review of an emergency action, by someone else."""
    with transaction.atomic(durable=True):
        action = _locked(action)
        if not action.review_required:
            raise BulkActionError("This action does not await a review.")
        if action.reviewed_at is not None:
            raise BulkActionError("This action was already reviewed.")
        if actor_id(actor) is None or actor_id(actor) in (
            action.executed_by_id,
            action.planned_by_id,
        ):
            raise SamePersonError(
                "The person who ran an emergency action cannot review it: ask a colleague."
            )
        note = require_text(
            note, BulkActionError("Write what you checked: the review note is required.")
        )
        action.reviewed_by = actor
        action.reviewed_at = timezone.now()
        action.review_note = note
        action.save(update_fields=["reviewed_by", "reviewed_at", "review_note"])
        audit_record(actor=actor, action="bulk_action.reviewed", obj=action, reason=note)
    return action


def bulk_replan(*, action: BulkAction, actor: Actor) -> BulkAction:
    """A fresh plan from the same filter; the stale one is kept, marked stale."""
    with transaction.atomic(durable=True):
        action = _move(action, actor=actor, to=BulkState.STALE, event="bulk_action.stale")
        filters = {k: v for k, v in action.filters.items() if k != "explicit"}
        return bulk_plan(
            kind=action.kind,
            filters=filters,
            reason=action.reason,
            actor=actor,
            emergency=action.emergency,
            suspension_kind=action.suspension_kind,
            reference=action.reference if action.kind == BulkKind.RESTORE else "",
            determination=action.determination,
        )
