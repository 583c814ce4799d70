"""The Merkle tree over the audit log follows RFC 9162 §2.1, checked against an independent
implementation written here from the RFC's recursive definitions (MTH, PATH, PROOF)."""

from __future__ import annotations

import hashlib

import pytest
from django.db import transaction

from foundation.audit.chain import event_bytes
from foundation.audit.models import AuditEvent, AuditTreeNode
from foundation.audit.services import audit_record
from foundation.audit.tree import consistency_proof, inclusion_proof, root_hash, tree_size
from tests.audit_helpers import tamper
from verifier.merkle import (
    Frontier,
    ProofError,
    consistency_ranges,
    fold,
    inclusion_ranges,
    subtrees,
    verify_consistency,
    verify_inclusion,
)

# --- an independent RFC 9162 §2.1 implementation, straight from the definitions ----------


def _h(data: bytes) -> bytes:
    return hashlib.sha256(data).digest()


def mth(leaves: list[bytes]) -> bytes:
    n = len(leaves)
    if n == 0:
        return _h(b"")
    if n == 1:
        return _h(b"\x00" + leaves[0])
    k = 1
    while k * 2 < n:
        k *= 2
    return _h(b"\x01" + mth(leaves[:k]) + mth(leaves[k:]))


def path(m: int, leaves: list[bytes]) -> list[bytes]:
    n = len(leaves)
    if n == 1:
        return []
    k = 1
    while k * 2 < n:
        k *= 2
    if m < k:
        return [*path(m, leaves[:k]), mth(leaves[k:])]
    return [*path(m - k, leaves[k:]), mth(leaves[:k])]


def subproof(m: int, leaves: list[bytes], complete: bool) -> list[bytes]:
    n = len(leaves)
    if m == n:
        return [] if complete else [mth(leaves)]
    k = 1
    while k * 2 < n:
        k *= 2
    if m <= k:
        return [*subproof(m, leaves[:k], complete), mth(leaves[k:])]
    return [*subproof(m - k, leaves[k:], False), mth(leaves[:k])]


def proof(m: int, leaves: list[bytes]) -> list[bytes]:
    return subproof(m, leaves, True)


# The eight leaves of the Certificate Transparency test data (RFC 6962 / 9162 hashing).
CT_LEAVES = [
    b"",
    b"\x00",
    b"\x10",
    b"\x20\x21",
    b"\x30\x31",
    b"\x40\x41\x42\x43",
    bytes(range(0x50, 0x58)),
    bytes(range(0x60, 0x70)),
]
CT_ROOT_8 = "5dc9da79a70659a9ad559cb701ded9a2ab9d823aad2f4960cfe370eff4604328"


def _leaf(data: bytes) -> bytes:
    return _h(b"\x00" + data)


def _proof_by_ranges(ranges: list[tuple[int, int]], leaves: list[bytes]) -> list[bytes]:
    """Hashes for the verifier's ranges, from the independent MTH of each range."""
    return [mth(leaves[start:end]) for start, end in ranges]


# --- the pure algorithms ---------------------------------------------------------------


def test_the_independent_implementation_gives_the_published_root():
    assert mth(CT_LEAVES).hex() == CT_ROOT_8


@pytest.mark.parametrize("n", range(1, 9))
def test_a_streamed_root_matches_mth(n):
    frontier = Frontier()
    for data in CT_LEAVES[:n]:
        frontier.append(_leaf(data))

    assert frontier.root() == mth(CT_LEAVES[:n])


def test_every_inclusion_proof_matches_and_verifies():
    leaves = [bytes([i]) * (i % 5) for i in range(21)]
    for n in range(1, len(leaves) + 1):
        root = mth(leaves[:n])
        for m in range(n):
            expected = path(m, leaves[:n])
            assert _proof_by_ranges(inclusion_ranges(m, n), leaves[:n]) == expected
            verify_inclusion(index=m, size=n, leaf=_leaf(leaves[m]), proof=expected, root=root)


def test_every_consistency_proof_matches_and_verifies():
    leaves = [bytes([i]) for i in range(21)]
    for n in range(1, len(leaves) + 1):
        for m in range(1, n + 1):
            expected = proof(m, leaves[:n])
            assert _proof_by_ranges(consistency_ranges(m, n), leaves[:n]) == expected
            verify_consistency(
                old_size=m,
                new_size=n,
                old_root=mth(leaves[:m]),
                new_root=mth(leaves[:n]),
                proof=expected,
            )


def test_a_range_is_folded_from_its_aligned_subtrees():
    leaves = [bytes([i]) for i in range(13)]
    hashes = {(0, i): _leaf(x) for i, x in enumerate(leaves)}
    for level in range(1, 4):
        width = 1 << level
        for i in range(13 // width):
            hashes[(level, i)] = mth(leaves[i * width : (i + 1) * width])

    assert fold([hashes[key] for key in subtrees(0, 13)]) == mth(leaves)
    assert fold([hashes[key] for key in subtrees(8, 13)]) == mth(leaves[8:])


def test_a_wrong_leaf_or_root_fails_verification():
    leaves = CT_LEAVES
    good = path(3, leaves)
    with pytest.raises(ProofError, match="not in the tree"):
        verify_inclusion(index=3, size=8, leaf=_leaf(b"x"), proof=good, root=mth(leaves))
    with pytest.raises(ProofError, match="beyond"):
        verify_inclusion(index=8, size=8, leaf=_leaf(b""), proof=good, root=mth(leaves))
    with pytest.raises(ProofError, match="shorter"):
        verify_inclusion(index=3, size=8, leaf=_leaf(leaves[3]), proof=good[:-1], root=mth(leaves))
    with pytest.raises(ProofError, match="does not contain"):
        verify_consistency(
            old_size=3,
            new_size=8,
            old_root=mth([b"a", b"b", b"c"]),
            new_root=mth(leaves),
            proof=proof(3, leaves),
        )
    with pytest.raises(ProofError, match="smaller"):
        verify_consistency(
            old_size=8, new_size=3, old_root=mth(leaves), new_root=mth(leaves[:3]), proof=[]
        )


# --- the tree the portal keeps ---------------------------------------------------------


def _record(n: int) -> list[AuditEvent]:
    return [
        audit_record(actor=None, action="test.event", object_type="test", object_id=str(i))
        for i in range(n)
    ]


@pytest.mark.django_db
def test_appending_events_keeps_the_tree_of_rfc_9162():
    events = _record(19)
    leaves = [event_bytes(e) for e in events]

    assert tree_size() == 19
    for n in range(1, 20):
        assert root_hash(n) == mth(leaves[:n])
    for m in range(19):
        assert inclusion_proof(index=m, size=19) == path(m, leaves)
        assert inclusion_proof(index=m, size=m + 1) == path(m, leaves[: m + 1])
    for m in range(1, 20):
        assert consistency_proof(old_size=m, new_size=19) == proof(m, leaves)


@pytest.mark.django_db
def test_only_complete_subtrees_are_stored_once():
    _record(7)

    levels = sorted(AuditTreeNode.objects.values_list("level", "index"))

    assert levels == [(0, i) for i in range(7)] + [(1, 0), (1, 1), (1, 2), (2, 0)]


@pytest.mark.django_db(transaction=True)
def test_a_rolled_back_append_leaves_the_tree_right():
    _record(3)
    with pytest.raises(RuntimeError), transaction.atomic():
        _record(2)
        raise RuntimeError("roll back")
    events = [*AuditEvent.objects.order_by("id"), *_record(2)]

    assert tree_size() == 5
    assert root_hash(5) == mth([event_bytes(e) for e in events])


@pytest.mark.django_db
def test_a_proof_beyond_the_tree_is_refused():
    _record(4)

    with pytest.raises(ProofError, match="no tree of size 5"):
        inclusion_proof(index=1, size=5)
    with pytest.raises(ProofError, match="not in a tree of size 4"):
        inclusion_proof(index=4, size=4)
    with pytest.raises(ProofError, match="no tree of size 9"):
        consistency_proof(old_size=2, new_size=9)


@pytest.mark.django_db
def test_the_migration_builds_the_tree_over_events_written_before_it():
    import importlib

    from django.apps import apps

    from foundation.audit.tree import forget_cache

    events = _record(11)
    tamper("DELETE FROM audit_audittreenode")
    forget_cache()
    migration = importlib.import_module(
        "foundation.audit.migrations.0006_backfill_tree_append_only"
    )

    migration.backfill(apps, None)

    assert tree_size() == 11
    assert root_hash(11) == mth([event_bytes(e) for e in events])
    assert inclusion_proof(index=4, size=11) == path(4, [event_bytes(e) for e in events])
