"""Resolving a bulk action's filter to the exact set it acts on, and hashing that set.

The same resolution runs when the action is planned and again just before it executes;
the plan hash tells whether anything changed in between. Suspends and revokes are hashed
with the order-independent set digest (``provisioning.bulk.digest``, format 2), which
PostgreSQL computes in one read of the set without sorting it; restores, and plans stored
before format 2, with sha256 over the sorted ids (``plan_hash``).
"""

from __future__ import annotations

import hashlib
from collections import Counter
from collections.abc import Iterable, Sequence
from dataclasses import dataclass, field, replace
from typing import Any, TypedDict, cast

from django.conf import settings
from django.db import connection
from django.db.models import Count, Exists, OuterRef, Q, QuerySet

from provisioning.bulk.digest import (
    SetSums,
    hashes_sql,
    is_set_digest,
    set_digest,
    sums_sql,
)
from provisioning.bulk.holdback import PlanKey, RestoreSelection, classify_restore
from provisioning.bulk.models import BulkActionItem, BulkKind, BulkScope, CredentialReason
from provisioning.credentials.models import Credential, CredentialState
from provisioning.deliveries.models import Target
from provisioning.grants.models import LIVE_GRANT_STATES, Grant, GrantState, GrantSuspension

FILTER_NAMES = (
    "covered_model",
    "organisation",
    "sector",
    "stage",
    "citizenship",
    "residence",
    "determination",
    "grant_state",
)
PERSON_FILTERS = ("citizenship", "residence")
SAMPLE_SIZE = 20


class CandidateArgs(TypedDict):
    """The keyword arguments ``candidate_grants`` and ``candidate_credentials`` share."""

    kind: str
    filters: dict[str, Any]
    suspension_kind: str
    reference: str
    explicit_action: int | None


@dataclass(frozen=True)
class Criteria:
    """What a bulk action selects, resolved again at plan, approval and execution."""

    kind: str
    scope: str
    filters: dict[str, Any]
    suspension_kind: str
    reference: str
    explicit_action: int | None = None
    gated: bool = True

    def args(self) -> CandidateArgs:
        return {
            "kind": self.kind,
            "filters": self.filters,
            "suspension_kind": self.suspension_kind,
            "reference": self.reference,
            "explicit_action": self.explicit_action,
        }


def chunk_size(*, emergency: bool = False) -> int:
    """Keys per chunk. An emergency takes bigger chunks: fewer commits (each with its audit
    event, progress, lock and plan of its statements) end access sooner; a planned action
    moves its progress bar finer. 100,000 keys is ten chunks for a million keys, each
    still well inside the change-log write's memory (``BULK_WORK_MEM``)."""
    if emergency:
        return int(getattr(settings, "BULK_EMERGENCY_CHUNK_SIZE", 100000))
    return int(getattr(settings, "BULK_CHUNK_SIZE", 5000))


def scope_for(filters: dict[str, Any]) -> str:
    return BulkScope.CREDENTIAL if any(filters.get(n) for n in PERSON_FILTERS) else BulkScope.GRANT


def determination_reference(reference: str) -> str:
    """The suspension reference a determination's own reasons carry."""
    return f"determination:{reference}"


@dataclass(frozen=True)
class Selection:
    """What one resolution found: the primary ids (grants or credentials) and the number
    of keys."""

    scope: str
    item_ids: list[int]
    credential_count: int
    plan_hash: str
    # (item id, grant id) in item order, for writing the plan's rows.
    pairs: list[tuple[int, int]] = field(default_factory=list)
    # Keys per grant (grant scope): chunks are cut by keys, so the progress bar moves.
    weights: dict[int, int] = field(default_factory=dict)


@dataclass(frozen=True)
class PlanDifference:
    added: list[int]
    removed: list[int]
    planned_credentials: int
    current_credentials: int
    scope: str
    extra: dict[str, Any] = field(default_factory=dict)

    @property
    def item_label(self) -> str:
        return "grants" if self.scope == BulkScope.GRANT else "credentials"


def plan_hash(
    scope: str,
    item_ids: Sequence[int],
    credential_ids: Sequence[int],
    held: Sequence[tuple[int, str]] = (),
) -> str:
    """A restore's hash also binds the keys it holds back and why; ``credential_ids`` are
    then the keys that come back."""
    text = plan_hash_text(scope, ",".join(map(str, item_ids)), ",".join(map(str, credential_ids)))
    if not held:
        return text
    digest = hashlib.sha256(text.encode())
    digest.update(b"\nheld\n")
    digest.update(",".join(f"{pk}:{reason}" for pk, reason in held).encode())
    return digest.hexdigest()


def plan_hash_text(scope: str, items: str, credentials: str) -> str:
    """sha256 over the scope and the comma-joined sorted ids (as ``string_agg`` makes them)."""
    digest = hashlib.sha256(f"{scope}\n".encode())
    digest.update(items.encode())
    digest.update(b"\n")
    digest.update(credentials.encode())
    return digest.hexdigest()


def _joined_ids(queryset: QuerySet[Any]) -> str:
    if connection.vendor != "postgresql":
        return ",".join(map(str, sorted(queryset.values_list("pk", flat=True))))
    sql, params = queryset.order_by().values("pk").query.sql_with_params()
    with connection.cursor() as cursor:
        cursor.execute(
            f"SELECT string_agg(id::text, ',' ORDER BY id) FROM ({sql}) AS chosen(id)",  # noqa: S608
            params,
        )
        return cursor.fetchone()[0] or ""


def _scope_credentials(grants: QuerySet[Grant]) -> QuerySet[Credential]:
    """The keys a grant-scope action covers: every key of its grants not revoked."""
    return Credential.objects.filter(grant__in=grants.values("pk")).exclude(
        state=CredentialState.REVOKED
    )


def _sorted_ids_hash(criteria: Criteria) -> str:
    """The first format's hash of the set as it is now (sha256 over the sorted ids)."""
    args, scope = criteria.args(), criteria.scope
    if scope == BulkScope.GRANT:
        grants = candidate_grants(**args)
        return plan_hash_text(scope, _joined_ids(grants), _joined_ids(_scope_credentials(grants)))
    joined = _joined_ids(candidate_credentials(**args))
    return plan_hash_text(scope, joined, joined)


def current_hash(criteria: Criteria, *, like: str) -> str:
    """The plan hash of the set as it is now, in the format of the stored hash ``like``.

    Format 2 on PostgreSQL reads the set once and sorts nothing (one statement; the ids
    never leave the database). A plan stored in the first format is checked in the first
    format, so a plan approved before format 2 holds or is refused exactly as it was."""
    if criteria.kind == BulkKind.RESTORE:
        return resolve(criteria).plan_hash
    if not is_set_digest(like):
        return _sorted_ids_hash(criteria)
    if connection.vendor != "postgresql":
        return resolve(criteria).plan_hash
    args, scope = criteria.args(), criteria.scope
    if scope == BulkScope.GRANT:
        return set_digest(scope, *_grant_set_sums(candidate_grants(**args)))
    sql, params = candidate_credentials(**args).order_by().values("pk").query.sql_with_params()
    with connection.cursor() as cursor:
        cursor.execute(f"SELECT {sums_sql('id')} FROM ({sql}) AS chosen(id)", params)  # noqa: S608
        keys = SetSums.from_row(*cursor.fetchone())
    return set_digest(scope, keys, keys)


def _grant_set_sums(grants: QuerySet[Grant]) -> tuple[SetSums, SetSums]:
    """The sums of the grants and of their keys, in one statement (PostgreSQL). Two plain
    aggregates: a row per grant (``_grant_sets``) costs a join and a grouping of every
    key, 2-3x the time at 1,000,000 keys, for counts the check does not need."""
    sql, params = grants.order_by().values("pk").query.sql_with_params()
    with connection.cursor() as cursor:
        cursor.execute(
            f"SELECT * FROM (SELECT {sums_sql('id')} FROM ({sql}) AS g(id)) AS items, "  # noqa: S608
            f"(SELECT {sums_sql('c.id')} FROM {Credential._meta.db_table} c "
            f"WHERE c.grant_id IN ({sql}) AND c.state <> %s) AS keys",
            [*params, *params, CredentialState.REVOKED],
        )
        row = cursor.fetchone()
    return SetSums.from_row(*row[:3]), SetSums.from_row(*row[3:])


def _grant_sets(grants: QuerySet[Grant]) -> tuple[list[int], dict[int, int], SetSums, SetSums]:
    """The grants in id order, their keys counted per grant, and the sums of both sets.

    On PostgreSQL one statement reads them (one snapshot: the counts a plan shows and the
    hash it stores describe the same set) and only a row per grant comes back."""
    if connection.vendor != "postgresql":
        item_ids = sorted(grants.values_list("pk", flat=True))
        pairs = list(_scope_credentials(grants).values_list("pk", "grant_id"))
        weights: dict[int, int] = {}
        for _, grant_id in pairs:
            weights[grant_id] = weights.get(grant_id, 0) + 1
        return item_ids, weights, SetSums.of(item_ids), SetSums.of(pk for pk, _ in pairs)
    sql, params = grants.order_by().values("pk").query.sql_with_params()
    first, second = hashes_sql("g.id")
    with connection.cursor() as cursor:
        cursor.execute(
            f"SELECT g.id, {first}, {second}, {sums_sql('c.id')} "  # noqa: S608
            f"FROM ({sql}) AS g(id) LEFT JOIN {Credential._meta.db_table} c "
            "ON c.grant_id = g.id AND c.state <> %s GROUP BY g.id ORDER BY g.id",
            [*params, CredentialState.REVOKED],
        )
        rows = cursor.fetchall()
    items, credentials = SetSums(), SetSums()
    weights = {}
    for grant_id, own_first, own_second, count, sum_first, sum_second in rows:
        items += SetSums.from_row(1, own_first, own_second)
        credentials += SetSums.from_row(count, sum_first, sum_second)
        if count:
            weights[grant_id] = count
    return [row[0] for row in rows], weights, items, credentials


def _grant_filter(filters: dict[str, Any]) -> Q:
    q = Q()
    if filters.get("covered_model"):
        q &= Q(covered_model_id=int(filters["covered_model"]))
    if filters.get("organisation"):
        q &= Q(organisation_id=int(filters["organisation"]))
    if filters.get("sector"):
        q &= Q(organisation__sector=filters["sector"])
    if filters.get("stage"):
        q &= Q(stage__name=filters["stage"])
    if filters.get("grant_state"):
        q &= Q(state=filters["grant_state"])
    return q


def _person_filter(filters: dict[str, Any]) -> Q:
    q = Q()
    if filters.get("citizenship"):
        # JSON text match: dual nationals match on any citizenship they hold.
        q &= Q(person__citizenships__icontains=f'"{str(filters["citizenship"]).upper()}"')
    if filters.get("residence"):
        q &= Q(person__residence_country=str(filters["residence"]).upper())
    return q


def _reason_exists(kind: str, reference: str) -> Exists:
    return Exists(
        GrantSuspension.objects.filter(grant=OuterRef("pk"), kind=kind, reference=reference)
    )


def _explicit_items(action_id: int, column: str) -> QuerySet[BulkActionItem, dict[str, Any]]:
    # ``column`` is not a literal, so the stubs cannot type the row; it is one-key dicts.
    return cast(
        "QuerySet[BulkActionItem, dict[str, Any]]",
        BulkActionItem.objects.filter(action_id=action_id).values(column),
    )


def candidate_grants(
    *,
    kind: str,
    filters: dict[str, Any],
    suspension_kind: str,
    reference: str,
    explicit_action: int | None = None,
) -> QuerySet[Grant]:
    grants = Grant.objects.filter(state__in=LIVE_GRANT_STATES).filter(_grant_filter(filters))
    if filters.get("determination"):
        grants = grants.filter(
            _reason_exists("regulatory", determination_reference(filters["determination"]))
        )
    if explicit_action is not None:
        grants = grants.filter(pk__in=_explicit_items(explicit_action, "grant_id"))
    if kind == BulkKind.RESTORE:
        grants = grants.filter(state=GrantState.SUSPENDED).filter(
            _reason_exists(suspension_kind, reference)
        )
    return grants


def candidate_credentials(
    *,
    kind: str,
    filters: dict[str, Any],
    suspension_kind: str,
    reference: str,
    explicit_action: int | None = None,
) -> QuerySet[Credential]:
    grant_filters = {k: v for k, v in filters.items() if k != "determination"}
    credentials = Credential.objects.exclude(state=CredentialState.REVOKED).filter(
        grant__in=Grant.objects.filter(state__in=LIVE_GRANT_STATES).filter(
            _grant_filter(grant_filters)
        ),
    )
    credentials = credentials.filter(_person_filter(filters))
    if filters.get("determination"):
        credentials = credentials.filter(
            bulk_reasons__kind="regulatory",
            bulk_reasons__reference=determination_reference(filters["determination"]),
        )
    if explicit_action is not None:
        credentials = credentials.filter(pk__in=_explicit_items(explicit_action, "credential_id"))
    if kind == BulkKind.RESTORE:
        credentials = credentials.filter(
            Exists(
                CredentialReason.objects.filter(
                    credential=OuterRef("pk"), kind=suspension_kind, reference=reference
                )
            )
        )
    return credentials


def _restore_selection(
    *, scope: str, args: CandidateArgs, gated: bool
) -> tuple[Selection, RestoreSelection]:
    candidates: QuerySet[Any] = (
        candidate_grants(**args) if scope == BulkScope.GRANT else candidate_credentials(**args)
    )
    found = classify_restore(
        scope=scope,
        candidates=candidates,
        suspension_kind=args["suspension_kind"],
        reference=args["reference"],
        gated=gated,
    )
    item_ids = [item for item, _ in found.item_pairs]
    back = [k.credential_id for k in found.back]
    held = [(k.credential_id, k.reason) for k in found.held]
    weights: dict[int, int] = {}
    if scope == BulkScope.GRANT:
        for key in found.keys:
            weights[key.grant_id] = weights.get(key.grant_id, 0) + 1
    selection = Selection(
        scope,
        item_ids,
        len(back),
        plan_hash(scope, item_ids, back, held),
        list(found.item_pairs),
        weights,
    )
    return selection, found


def resolve_restore(criteria: Criteria) -> tuple[Selection, RestoreSelection]:
    """A restore's set now, with every key it names in its part (back or held back)."""
    restore = replace(criteria, kind=BulkKind.RESTORE)
    return _restore_selection(scope=restore.scope, args=restore.args(), gated=restore.gated)


def _credential_pairs(credentials: QuerySet[Credential]) -> tuple[list[tuple[int, int]], SetSums]:
    """(key, grant) pairs in key order and the keys' sums; on PostgreSQL the hashes come
    with the pairs, in the same statement."""
    if connection.vendor != "postgresql":
        pairs = sorted(credentials.values_list("pk", "grant_id"))
        return pairs, SetSums.of(pk for pk, _ in pairs)
    sql, params = credentials.order_by().values("pk", "grant_id").query.sql_with_params()
    first, second = hashes_sql("id")
    with connection.cursor() as cursor:
        cursor.execute(
            f"SELECT id, grant_id, {first}, {second} "  # noqa: S608
            f"FROM ({sql}) AS chosen(id, grant_id) ORDER BY id",
            params,
        )
        rows = cursor.fetchall()
    sums = SetSums.from_row(len(rows), sum(r[2] for r in rows), sum(r[3] for r in rows))
    return [(r[0], r[1]) for r in rows], sums


def resolve(criteria: Criteria) -> Selection:
    """The set the action would act on now. Large sets stay in the database (subqueries);
    a grant-scope set comes back as a row per grant (its keys counted and hashed there)."""
    args, scope = criteria.args(), criteria.scope
    if criteria.kind == BulkKind.RESTORE:
        return _restore_selection(scope=scope, args=args, gated=criteria.gated)[0]
    if scope == BulkScope.GRANT:
        item_ids, weights, items, credentials = _grant_sets(candidate_grants(**args))
        item_pairs = [(g, g) for g in item_ids]
    else:
        item_pairs, credentials = _credential_pairs(candidate_credentials(**args))
        item_ids = [c for c, _ in item_pairs]
        items, weights = credentials, {}
    return Selection(
        scope,
        item_ids,
        credentials.count,
        set_digest(scope, items, credentials),
        item_pairs,
        weights,
    )


def difference(
    *, scope: str, planned_ids: Iterable[int], planned_credentials: int, current: Selection
) -> PlanDifference:
    planned = set(planned_ids)
    now = set(current.item_ids)
    return PlanDifference(
        added=sorted(now - planned),
        removed=sorted(planned - now),
        planned_credentials=planned_credentials,
        current_credentials=current.credential_count,
        scope=scope,
    )


def planned_credentials(action_id: int, scope: str) -> QuerySet[Credential]:
    items = BulkActionItem.objects.filter(action_id=action_id)
    if scope == BulkScope.GRANT:
        return Credential.objects.filter(grant_id__in=items.values("grant_id")).exclude(
            state=CredentialState.REVOKED
        )
    return Credential.objects.filter(pk__in=items.values("credential_id"))


def summarise(*, action_id: int, scope: str) -> tuple[dict[str, Any], list[Any]]:
    """Counts by organisation, model and target, and a sample of rows (a few queries)."""
    credentials = planned_credentials(action_id, scope)
    by_org = {
        row["grant__organisation__legal_name"]: row["n"]
        for row in credentials.values("grant__organisation__legal_name")
        .annotate(n=Count("pk"))
        .order_by("-n", "grant__organisation__legal_name")
    }
    by_model_id: dict[int, int] = {}
    by_model: dict[str, int] = {}
    for row in (
        credentials.values("grant__covered_model_id", "grant__covered_model__slug")
        .annotate(n=Count("pk"))
        .order_by("-n")
    ):
        by_model_id[row["grant__covered_model_id"]] = row["n"]
        by_model[row["grant__covered_model__slug"]] = row["n"]
    by_target: dict[str, int] = {}
    targets = Target.objects.filter(enabled=True).prefetch_related("covered_models")
    for target in targets:
        taken = {m.pk for m in target.covered_models.all()}
        by_target[target.name] = sum(
            n for model_id, n in by_model_id.items() if not taken or model_id in taken
        )
    # The first keys alone, then their names: joined over the whole plan first, a
    # 1,000,000-key plan read a person row per key to keep twenty.
    first = Credential.objects.filter(pk__in=credentials.order_by("pk").values("pk")[:SAMPLE_SIZE])
    sample = [
        {
            "credential": pk,
            "grant": grant_id,
            "organisation": org,
            "model": model,
            "person": person,
            "state": state,
        }
        for pk, grant_id, org, model, person, state in first.order_by("pk").values_list(
            "pk",
            "grant_id",
            "grant__organisation__legal_name",
            "grant__covered_model__slug",
            "person__legal_name",
            "state",
        )[:SAMPLE_SIZE]
    ]
    return {"organisation": by_org, "model": by_model, "target": by_target}, sample


def summarise_keys(keys: Sequence[PlanKey]) -> dict[str, Any]:
    """Counts by organisation, model and target (and reason, for keys held back) of a
    restore's part, from the keys the plan lists."""
    by_org: Counter[str] = Counter(k.organisation for k in keys)
    by_model: Counter[str] = Counter(k.model for k in keys)
    by_model_id: Counter[int] = Counter(k.model_id for k in keys)
    by_reason: Counter[str] = Counter(k.reason for k in keys if k.reason)
    by_target: dict[str, int] = {}
    for target in Target.objects.filter(enabled=True).prefetch_related("covered_models"):
        taken = {m.pk for m in target.covered_models.all()}
        by_target[target.name] = sum(
            n for model_id, n in by_model_id.items() if not taken or model_id in taken
        )
    counts: dict[str, Any] = {
        "organisation": dict(by_org.most_common()),
        "model": dict(by_model.most_common()),
        "target": by_target,
    }
    if by_reason:
        counts["reason"] = dict(by_reason.most_common())
    return counts
