"""The RFC 9162 Merkle tree over the audit events, kept incrementally as they are appended.

Appending leaf ``n`` writes the leaf and every subtree it completes (the trailing one-bits
of ``n``, one node on average) in the event's own transaction. The hashes it combines with
(the "frontier") come from a per-process cache checked against the chain: the previous
event's hash names the whole history before it, so a cached frontier for that hash is the
right one; on a miss (another process wrote, a transaction rolled back) it is read from
the stored nodes. Appends are already serialised by the chain lock (``services``).

Proofs and roots are computed from stored complete subtrees: O(log n) rows in one query.
"""

from __future__ import annotations

from collections.abc import Iterable

from django.db import connection
from django.db.models import Max, Q

from foundation.audit.chain import event_bytes
from foundation.audit.models import AuditEvent, AuditTreeNode
from verifier.merkle import (
    EMPTY_ROOT,
    ProofError,
    consistency_ranges,
    fold,
    inclusion_ranges,
    leaf_hash,
    node_hash,
    subtrees,
)

# previous event's chain hash → (tree size, the complete subtree roots, largest first)
_frontier: dict[str, tuple[int, list[bytes]]] = {}


def tree_size() -> int:
    last = AuditTreeNode.objects.filter(level=0).aggregate(last=Max("index"))["last"]
    return 0 if last is None else int(last) + 1


_NODES_SQL = (
    'SELECT n.level, n."index", n.hash FROM audit_audittreenode n '
    "JOIN unnest(%s::int2[], %s::int8[]) AS k(level, idx) "
    'ON n.level = k.level AND n."index" = k.idx'
)


def _nodes(wanted: Iterable[tuple[int, int]]) -> dict[tuple[int, int], bytes]:
    """The stored nodes at (level, index) ``wanted``, in one indexed query: a proof's cost."""
    keys = set(wanted)
    if not keys:
        return {}
    if connection.vendor == "postgresql":
        levels, indexes = zip(*keys, strict=True)
        with connection.cursor() as cursor:
            cursor.execute(_NODES_SQL, [list(levels), list(indexes)])
            rows = cursor.fetchall()
    else:
        condition = Q()
        for level, index in keys:
            condition |= Q(level=level, index=index)
        rows = list(AuditTreeNode.objects.filter(condition).values_list("level", "index", "hash"))
    found = {(int(level), int(index)): bytes(value) for level, index, value in rows}
    missing = keys - set(found)
    if missing:
        size = tree_size()
        raise ProofError(
            f"the tree has {size} events; the stored tree lacks {len(missing)} node(s) of this "
            f"proof, e.g. {min(missing)}"
        )
    return found


def _stored_frontier(size: int) -> list[bytes]:
    wanted = subtrees(0, size)
    found = _nodes(wanted)
    return [found[key] for key in wanted]


def tree_append(*, event: AuditEvent, data: bytes | None = None) -> None:
    """Add ``event`` (whose canonical bytes are ``data``) as the next leaf, inside the
    caller's chain-locked transaction: its leaf and the subtrees it completes, one INSERT."""
    cached = _frontier.pop(event.prev_hash, None)
    if cached is None:
        size = tree_size()
        stack = _stored_frontier(size)
    else:
        size, stack = cached
    node = leaf_hash(event_bytes(event) if data is None else data)
    rows: list[tuple[int, int, bytes, int | None]] = [(0, size, node, event.pk)]
    n, level = size, 0
    while n & 1:
        node = node_hash(stack.pop(), node)
        n >>= 1
        level += 1
        rows.append((level, n, node, None))
    stack.append(node)
    values = ", ".join(["(%s, %s, %s, %s)"] * len(rows))
    with connection.cursor() as cursor:
        cursor.execute(
            'INSERT INTO audit_audittreenode (level, "index", hash, event_id) '  # noqa: S608
            f"VALUES {values}",
            [value for row in rows for value in row],
        )
    _frontier.clear()
    _frontier[event.hash] = (size + 1, stack)


def root_hash(size: int) -> bytes:
    if size == 0:
        return EMPTY_ROOT
    return fold(_stored_frontier(size))


def _range_hashes(ranges: list[tuple[int, int]]) -> list[bytes]:
    parts = [subtrees(start, end) for start, end in ranges]
    found = _nodes(key for part in parts for key in part)
    return [fold([found[key] for key in part]) for part in parts]


def _check_size(size: int) -> None:
    current = tree_size()
    if size > current:
        raise ProofError(f"the tree has {current} events; there is no tree of size {size}")


def inclusion_proof(*, index: int, size: int) -> list[bytes]:
    if size > 1 << 62:
        raise ProofError(f"there is no tree of size {size}")
    ranges = inclusion_ranges(index, size)
    if index == size - 1 or not ranges:
        _check_size(size)  # the proof may not name the last leaf: ask the tree itself
    try:
        return _range_hashes(ranges)
    except ProofError:
        _check_size(size)
        raise


def consistency_proof(*, old_size: int, new_size: int) -> list[bytes]:
    _check_size(new_size)
    if old_size == new_size:
        return []
    return _range_hashes(consistency_ranges(old_size, new_size))


def leaf_indexes(*, first_id: int, last_id: int) -> dict[int, int]:
    """Event id → leaf index, for the events with ids in ``[first_id, last_id]``."""
    rows = AuditTreeNode.objects.filter(
        level=0, event_id__gte=first_id, event_id__lte=last_id
    ).values_list("event_id", "index")
    return {int(event_id): int(index) for event_id, index in rows if event_id is not None}


def forget_cache() -> None:
    _frontier.clear()


def _nodes_many(keys: set[tuple[int, int]], *, chunk: int = 5000) -> dict[tuple[int, int], bytes]:
    """Many nodes in as few queries as their number allows (one per ``chunk`` keys)."""
    ordered = sorted(keys)
    found: dict[tuple[int, int], bytes] = {}
    for start in range(0, len(ordered), chunk):
        by_level: dict[int, list[int]] = {}
        for level, index in ordered[start : start + chunk]:
            by_level.setdefault(level, []).append(index)
        condition = Q()
        for level, indexes in by_level.items():
            condition |= Q(level=level, index__in=indexes)
        rows = AuditTreeNode.objects.filter(condition).values_list("level", "index", "hash")
        found.update({(int(lv), int(ix)): bytes(value) for lv, ix, value in rows})
    missing = keys - set(found)
    if missing:
        raise ProofError(f"the stored tree lacks {len(missing)} node(s), e.g. {min(missing)}")
    return found


def inclusion_proofs(*, indexes: list[int], size: int) -> list[list[bytes]]:
    """The inclusion proofs of many leaves in the tree of ``size``, reading each node once."""
    _check_size(size)
    parts = [[subtrees(s, e) for s, e in inclusion_ranges(i, size)] for i in indexes]
    found = _nodes_many({key for proof in parts for part in proof for key in part})
    return [[fold([found[key] for key in part]) for part in proof] for proof in parts]
