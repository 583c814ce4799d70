"""The canonical bytes of an audit event: what its chain hash and its Merkle leaf cover.

The portal writes them (``foundation.audit.chain``) and a verifier recomputes them from an
exported row, with this one function, so the two cannot drift apart.
"""

from __future__ import annotations

import hashlib
import json
from typing import Any

from .merkle import leaf_hash

# The fields the hash covers: every exported field but ``id`` and ``hash``.
HASHED_FIELDS = (
    "created_at",
    "actor_id",
    "actor_label",
    "action",
    "object_type",
    "object_id",
    "object_repr",
    "organisation_id",
    "reason",
    "before",
    "after",
    "digest",
    "request_id",
    "ip",
    "prev_hash",
)
GENESIS_HASH = "0" * 64


def canonical_bytes(payload: dict[str, Any]) -> bytes:
    encoded = json.dumps(payload, sort_keys=True, separators=(",", ":"), ensure_ascii=False)
    return encoded.encode()


def row_bytes(row: dict[str, Any]) -> bytes:
    """The canonical bytes of an exported row (``created_at`` as its ISO string)."""
    return canonical_bytes({name: row[name] for name in HASHED_FIELDS})


def row_hash(row: dict[str, Any]) -> str:
    return hashlib.sha256(row_bytes(row)).hexdigest()


def row_leaf(row: dict[str, Any]) -> bytes:
    return leaf_hash(row_bytes(row))
