"""Signed checkpoints of the audit log's Merkle tree, their checks, and witnesses' cosignatures.

A checkpoint is a C2SP tlog-checkpoint signed with ``AUDIT_SIGNING_KEY`` (a C2SP note
signing key; its name is the log's origin, its key id lets keys rotate). Checkpoints are
made by ``audit_checkpoint``, by beat, and after each bulk action and determination
(``tasks.checkpoint_on_commit``); each is kept. Before signing, the log is checked against the
latest checkpoint (``log_problem``): the portal never vouches for a log that lost its tail
or rewrote its history, it raises an alert on the compliance dashboard instead.
"""

from __future__ import annotations

import contextlib
import datetime as dt
import logging
import os
from dataclasses import dataclass
from pathlib import Path

from django.conf import settings
from django.core.exceptions import ImproperlyConfigured
from django.db import IntegrityError, transaction
from django.utils import timezone

from foundation.actors import User
from foundation.audit.chain import event_bytes
from foundation.audit.models import (
    AuditCheckpoint,
    AuditCosignature,
    AuditEvent,
    AuditLogAlert,
    AuditTreeNode,
    WitnessKey,
)
from foundation.audit.services import audit_record
from foundation.audit.tree import root_hash, tree_size
from verifier.merkle import Frontier, ProofError, leaf_hash
from verifier.note import (
    COSIGNATURE_V1,
    Checkpoint,
    NoteError,
    SignerKey,
    VerifierKey,
    parse_checkpoint,
    parse_note,
    verify_cosignature,
)

logger = logging.getLogger(__name__)

DEMO_KEY_NAME = "clearance.localhost/audit"


class AuditLogError(Exception):
    """A checkpoint or cosignature that cannot be made or accepted; the message says why."""


# --- the signing key ---------------------------------------------------------------------


_loaded: dict[tuple[str, float], SignerKey] = {}


def _key_path() -> Path:
    return Path(settings.AUDIT_SIGNING_KEY)


def _generate(path: Path) -> None:
    """Write a new key whole, then link it into place: a process racing to do the same
    either wins or reads the winner's complete file, never a half-written one."""
    path.parent.mkdir(parents=True, exist_ok=True)
    key = SignerKey.generate(DEMO_KEY_NAME)
    partial = path.with_name(f".{path.name}.{os.getpid()}.partial")
    descriptor = os.open(partial, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600)
    with os.fdopen(descriptor, "w") as handle:
        handle.write(f"{key}\n")
    try:
        os.link(partial, path)
    finally:
        partial.unlink()


def signing_key() -> SignerKey:
    """The log's signing key; generated on first use when ``AUDIT_SIGNING_KEY`` is unset."""
    path = _key_path()
    if not path.exists():
        if not settings.AUDIT_SIGNING_KEY_GENERATE:
            raise ImproperlyConfigured(
                f"AUDIT_SIGNING_KEY names {path}, which does not exist: create a key with "
                "`manage.py audit_public_key --generate NAME` or point it at the key file."
            )
        with contextlib.suppress(FileExistsError):  # another process made it first
            _generate(path)
    stamp = (str(path), path.stat().st_mtime)
    if stamp not in _loaded:
        try:
            key = SignerKey.parse(path.read_text())
        except NoteError as exc:
            raise ImproperlyConfigured(f"AUDIT_SIGNING_KEY ({path}) is not a key: {exc}") from exc
        _loaded.clear()
        _loaded[stamp] = key
    return _loaded[stamp]


def verifier_key() -> VerifierKey:
    return signing_key().verifier


# --- checks ------------------------------------------------------------------------------


def _leaf_problem(index: int) -> str | None:
    """The event at leaf ``index`` is still there and still hashes to its leaf."""
    node = AuditTreeNode.objects.filter(level=0, index=index).first()
    if node is None or node.event_id is None:
        return f"leaf {index} is missing from the stored tree"
    event = AuditEvent.objects.filter(pk=node.event_id).first()
    if event is None:
        return f"event #{node.event_id} (leaf {index}) was deleted"
    if leaf_hash(event_bytes(event)) != bytes(node.hash):
        return f"event #{event.pk} (leaf {index}) was rewritten"
    return None


def log_problem(checkpoint: Checkpoint) -> str | None:
    """What is wrong with the log against a signed checkpoint, from the stored tree: O(log n)."""
    size = tree_size()
    if size < checkpoint.size:
        return (
            f"the log holds {size} events, fewer than the {checkpoint.size} of a signed "
            "checkpoint: its tail was deleted"
        )
    if checkpoint.size == 0:
        return None
    try:
        root = root_hash(checkpoint.size)
    except ProofError as exc:
        return f"the stored tree is damaged: {exc}"
    if root != checkpoint.root_hash:
        return (
            f"the log's first {checkpoint.size} events no longer hash to the signed root: "
            "an event was rewritten or the history replaced"
        )
    return _leaf_problem(checkpoint.size - 1) or (
        _leaf_problem(size - 1) if size > checkpoint.size else None
    )


@dataclass(frozen=True)
class FullCheck:
    events: int
    problem: str | None


def log_problem_full(checkpoint: Checkpoint) -> FullCheck:
    """Recompute the tree from the events themselves (O(n)), then check the stored tree."""
    frontier = Frontier()
    for event in AuditEvent.objects.order_by("id").iterator(chunk_size=5000):
        if frontier.size == checkpoint.size:
            break
        frontier.append(leaf_hash(event_bytes(event)))
    if frontier.size < checkpoint.size:
        return FullCheck(
            frontier.size,
            f"the log holds {frontier.size} events, fewer than the {checkpoint.size} of the "
            "signed checkpoint: its tail was deleted",
        )
    if frontier.root() != checkpoint.root_hash:
        return FullCheck(
            frontier.size,
            f"the log's first {checkpoint.size} events do not hash to the checkpoint's root: "
            "an event was rewritten, inserted or removed, or this is a second history",
        )
    return FullCheck(frontier.size, log_problem(checkpoint))


def _raise_alert(size: int, problem: str) -> None:
    logger.error("audit log check failed against checkpoint %s: %s", size, problem)
    if not AuditLogAlert.objects.filter(
        resolved_at=None, checkpoint_size=size, problem=problem
    ).exists():
        AuditLogAlert.objects.create(
            created_at=timezone.now(), checkpoint_size=size, problem=problem
        )


def open_alerts() -> list[AuditLogAlert]:
    return list(AuditLogAlert.objects.filter(resolved_at=None).order_by("-id")[:20])


# --- making checkpoints ------------------------------------------------------------------


def latest_checkpoint() -> AuditCheckpoint | None:
    return AuditCheckpoint.objects.order_by("-size").first()


def stored_checkpoint(row: AuditCheckpoint) -> Checkpoint:
    return Checkpoint(row.origin, row.size, bytes(row.root_hash))


def checkpoint_make() -> AuditCheckpoint:
    """Sign the tree as it is now, after checking it still holds the latest checkpoint.

    Returns the latest checkpoint when the tree has not grown. Raises ``AuditLogError``
    (and records an alert) when the log fails the check: nothing is signed then.
    """
    key = signing_key()
    latest = latest_checkpoint()
    if latest is not None:
        problem = log_problem(stored_checkpoint(latest))
        if problem:
            with transaction.atomic(durable=True):
                _raise_alert(latest.size, problem)
            raise AuditLogError(f"Not signing: {problem}.")
    with transaction.atomic(durable=True):
        size = tree_size()
        if latest is not None and size < latest.size:
            raise AuditLogError("Not signing: the log shrank while it was being checked.")
        if latest is not None and latest.size == size:
            return latest
        body = Checkpoint(key.name, size, root_hash(size)).body()
        try:
            with transaction.atomic():
                return AuditCheckpoint.objects.create(
                    size=size,
                    root_hash=parse_checkpoint(body).root_hash,
                    origin=key.name,
                    key_id=key.verifier.key_id.hex(),
                    note=key.sign(body),
                    created_at=timezone.now(),
                )
        except IntegrityError:
            # Another process signed this size first; its checkpoint is as good.
            return AuditCheckpoint.objects.get(size=size)


def checkpoint_note(row: AuditCheckpoint, *, cosigned: bool = True) -> str:
    """The checkpoint's signed note, with the witnesses' cosignature lines after the log's."""
    if not cosigned:
        return row.note
    lines = [c.line for c in row.cosignatures.order_by("id")]
    return row.note + "".join(lines)


def latest_witnessed(*, at_most: int) -> AuditCheckpoint | None:
    """The largest checkpoint no bigger than ``at_most`` that a witness has cosigned."""
    return (
        AuditCheckpoint.objects.filter(size__lte=at_most, cosignatures__isnull=False)
        .order_by("-size")
        .first()
    )


def checkpoints_after(size: int, *, limit: int = 100) -> list[AuditCheckpoint]:
    return list(
        AuditCheckpoint.objects.filter(size__gt=size)
        .prefetch_related("cosignatures")
        .order_by("size")[:limit]
    )


# --- witnesses ---------------------------------------------------------------------------


def witness_key_register(*, user: User, verifier_key_text: str) -> WitnessKey:
    try:
        key = VerifierKey.parse(verifier_key_text)
    except NoteError as exc:
        raise AuditLogError(f"That is not a cosigner key: {exc}.") from exc
    if key.sig_type != COSIGNATURE_V1:
        raise AuditLogError(
            "Register a cosigner key (signature type 0x04, c2sp.org/tlog-cosignature), "
            "not a log key."
        )
    with transaction.atomic(durable=True):
        if WitnessKey.objects.filter(verifier_key=str(key)).exists():
            raise AuditLogError("That key is already registered.")
        witness = WitnessKey.objects.create(
            user=user,
            name=key.name,
            key_id=key.key_id.hex(),
            verifier_key=str(key),
            created_at=timezone.now(),
        )
        audit_record(
            actor=user,
            action="audit.witness_key_registered",
            obj=witness,
            after={"verifier_key": str(key)},
        )
    return witness


def checkpoint_cosign(*, user: User, size: int, signature_line: str) -> AuditCosignature:
    """Accept a witness's cosignature line for the checkpoint of ``size``."""
    row = AuditCheckpoint.objects.filter(size=size).first()
    if row is None:
        raise AuditLogError(f"There is no checkpoint of size {size}.")
    line = signature_line.strip("\n") + "\n"
    try:
        (signature,) = parse_note("x\n\n" + line).signatures
    except (NoteError, ValueError) as exc:
        raise AuditLogError(f"Send one signature line (— name base64): {exc}.") from exc
    keys = WitnessKey.objects.filter(user=user, name=signature.name, key_id=signature.key_id.hex())
    witness = keys.first()
    if witness is None:
        raise AuditLogError(
            f"No cosigner key {signature.name}+{signature.key_id.hex()} is registered "
            "on your account."
        )
    body = parse_note(row.note).text
    try:
        stamp = verify_cosignature(body, signature, VerifierKey.parse(witness.verifier_key))
    except NoteError as exc:
        raise AuditLogError(f"The cosignature does not verify: {exc}.") from exc
    with transaction.atomic(durable=True):
        if AuditCosignature.objects.filter(checkpoint=row, key=witness).exists():
            raise AuditLogError("You have already cosigned this checkpoint with that key.")
        cosignature = AuditCosignature.objects.create(
            checkpoint=row,
            key=witness,
            line=signature.line(),
            signed_at=dt.datetime.fromtimestamp(stamp, tz=dt.UTC),
            created_at=timezone.now(),
        )
        audit_record(
            actor=user,
            action="audit.checkpoint_cosigned",
            obj=row,
            after={"size": row.size, "witness": str(witness)},
        )
    return cosignature
