"""RFC 9162 §2.1 Merkle trees: hashing, the subtrees a proof names, and proof verification.

leaf = SHA-256(0x00 || data), node = SHA-256(0x01 || left || right). A range of leaves
``[start, end)`` that RFC 9162's recursion visits splits into aligned complete subtrees
(``subtrees``); a log that stores those can answer any proof from O(log n) stored hashes.
"""

from __future__ import annotations

import hashlib
from collections.abc import Iterable, Iterator, Sequence

EMPTY_ROOT = hashlib.sha256(b"").digest()


class ProofError(ValueError):
    """A proof that does not verify, or a request for one that cannot exist."""


def leaf_hash(data: bytes) -> bytes:
    return hashlib.sha256(b"\x00" + data).digest()


def node_hash(left: bytes, right: bytes) -> bytes:
    return hashlib.sha256(b"\x01" + left + right).digest()


def _split(size: int) -> int:
    """The largest power of two smaller than ``size`` (size >= 2)."""
    return 1 << ((size - 1).bit_length() - 1)


def subtrees(start: int, end: int) -> list[tuple[int, int]]:
    """The aligned complete subtrees (level, index), left to right, whose hashes make
    MTH(D[start:end]) for a range that RFC 9162's recursion visits."""
    out: list[tuple[int, int]] = []
    while start < end:
        size = end - start
        width = size if size & (size - 1) == 0 else _split(size)
        level = width.bit_length() - 1
        if start % width:
            raise ProofError(f"range [{start}, {end}) is not aligned")
        out.append((level, start >> level))
        start += width
    return out


def fold(hashes: Sequence[bytes]) -> bytes:
    """MTH of a range from its ``subtrees`` hashes (each left subtree is the larger)."""
    if not hashes:
        return EMPTY_ROOT
    root = hashes[-1]
    for left in reversed(hashes[:-1]):
        root = node_hash(left, root)
    return root


def inclusion_ranges(index: int, size: int) -> list[tuple[int, int]]:
    """The ranges whose hashes form PATH(index, D[0:size]), in proof order (RFC 9162 §2.1.3.1)."""
    if not 0 <= index < size:
        raise ProofError(f"leaf {index} is not in a tree of size {size}")
    ranges: list[tuple[int, int]] = []
    start, end = 0, size
    while end - start > 1:
        k = _split(end - start)
        if index - start < k:
            ranges.append((start + k, end))
            end = start + k
        else:
            ranges.append((start, start + k))
            start += k
    ranges.reverse()
    return ranges


def consistency_ranges(old: int, new: int) -> list[tuple[int, int]]:
    """The ranges whose hashes form PROOF(old, D[0:new]), in proof order (RFC 9162 §2.1.4.1)."""
    if not 0 < old <= new:
        raise ProofError(f"no consistency proof from size {old} to size {new}")
    ranges: list[tuple[int, int]] = []
    start, end, m, complete = 0, new, old, True
    while True:
        size = end - start
        if m == size:
            if not complete:
                ranges.append((start, end))
            break
        k = _split(size)
        if m <= k:
            ranges.append((start + k, end))
            end = start + k
        else:
            ranges.append((start, start + k))
            start += k
            m -= k
            complete = False
    ranges.reverse()
    return ranges


def _climb(
    fn: int, sn: int, proof: Iterable[bytes], *, too_long: str, too_short: str
) -> Iterator[tuple[bytes, bool]]:
    """Each proof hash with whether it is the left sibling, climbing from node ``fn`` of a
    tree whose last node is ``sn``: the walk RFC 9162's inclusion (§2.1.3.2) and consistency
    (§2.1.4.2) verifications share. Raises ``ProofError`` when a hash is not 32 bytes or the
    proof does not fit the tree (``too_long``, ``too_short``)."""
    for p in proof:
        if len(p) != 32:
            raise ProofError("a proof hash is not 32 bytes")
        if sn == 0:
            raise ProofError(too_long)
        on_left = bool(fn & 1) or fn == sn
        yield p, on_left
        if on_left:
            while not fn & 1 and fn != 0:
                fn >>= 1
                sn >>= 1
        fn >>= 1
        sn >>= 1
    if sn != 0:
        raise ProofError(too_short)


def verify_inclusion(
    *, index: int, size: int, leaf: bytes, proof: Sequence[bytes], root: bytes
) -> None:
    """RFC 9162 §2.1.3.2. Raises ``ProofError`` naming what is wrong."""
    if index >= size or index < 0:
        raise ProofError(f"leaf index {index} is beyond a tree of size {size}")
    r = leaf
    for p, on_left in _climb(
        index,
        size - 1,
        proof,
        too_long="the inclusion proof is longer than the tree allows",
        too_short="the inclusion proof is shorter than the tree requires",
    ):
        r = node_hash(p, r) if on_left else node_hash(r, p)
    if r != root:
        raise ProofError(f"leaf {index} is not in the tree of size {size} with this root hash")


def verify_consistency(
    *, old_size: int, new_size: int, old_root: bytes, new_root: bytes, proof: Sequence[bytes]
) -> None:
    """RFC 9162 §2.1.4.2. Raises ``ProofError`` naming what is wrong."""
    if old_size > new_size:
        raise ProofError(
            f"the second tree (size {new_size}) is smaller than the first (size {old_size})"
        )
    if old_size == new_size:
        if proof:
            raise ProofError("a proof between two trees of the same size must be empty")
        if old_root != new_root:
            raise ProofError(f"two different root hashes for the same size {old_size}: a fork")
        return
    if old_size == 0:
        if proof:
            raise ProofError("a proof from the empty tree must be empty")
        return
    if not proof:
        raise ProofError("the consistency proof is empty")
    path = list(proof)
    if any(len(p) != 32 for p in path):
        raise ProofError("a proof hash is not 32 bytes")
    if old_size & (old_size - 1) == 0:
        path.insert(0, old_root)
    fn, sn = old_size - 1, new_size - 1
    while fn & 1:
        fn >>= 1
        sn >>= 1
    fr = sr = path[0]
    for c, on_left in _climb(
        fn,
        sn,
        path[1:],
        too_long="the consistency proof is longer than the trees allow",
        too_short="the consistency proof is shorter than the trees require",
    ):
        if on_left:
            fr = node_hash(c, fr)
            sr = node_hash(c, sr)
        else:
            sr = node_hash(sr, c)
    if fr != old_root:
        raise ProofError(
            f"the tree of size {new_size} does not contain the tree of size {old_size} "
            "(its first events differ: a rewritten or second history)"
        )
    if sr != new_root:
        raise ProofError(f"the proof does not lead to the root hash of size {new_size}")


class Frontier:
    """Streaming MTH: append leaf hashes one by one, read the root at any time."""

    def __init__(self) -> None:
        self.size = 0
        self.stack: list[bytes] = []  # complete subtree roots, largest first

    def append(self, leaf: bytes) -> None:
        node, n = leaf, self.size
        while n & 1:
            node = node_hash(self.stack.pop(), node)
            n >>= 1
        self.stack.append(node)
        self.size += 1

    def root(self) -> bytes:
        return fold(self.stack)
