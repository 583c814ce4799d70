"""The audit log's public face: checkpoints, proofs, and witnesses' cosignatures.

The latest checkpoint, the list of checkpoints and consistency proofs are public: they
reveal only sizes and hashes. An inclusion proof names an event, so only readers of the
audit trail get one. Cosigning takes a signed-in user with a cosigner key on their account.
"""

from __future__ import annotations

import base64
from typing import Any

from django.contrib.auth.decorators import login_required
from django.core.exceptions import PermissionDenied
from django.http import HttpRequest, HttpResponse, JsonResponse
from django.views.decorators.cache import never_cache
from django.views.decorators.http import require_GET, require_POST

from foundation.audit.checkpoints import (
    AuditLogError,
    checkpoint_cosign,
    checkpoint_note,
    checkpoints_after,
    latest_checkpoint,
    witness_key_register,
)
from foundation.audit.models import AuditTreeNode
from foundation.audit.permissions import READ_PERMISSION
from foundation.audit.tree import consistency_proof, inclusion_proof, tree_size
from foundation.requests import AuthenticatedRequest
from portal.accounts.roles import Role, has_role
from verifier.merkle import ProofError


def _b64(value: bytes) -> str:
    return base64.b64encode(value).decode()


def _problem(message: str, status: int = 400) -> JsonResponse:
    return JsonResponse({"error": message}, status=status)


def _int_param(request: HttpRequest, name: str) -> int:
    raw = request.GET.get(name, "")
    if not raw.isdigit():
        raise ValueError(f"Give {name} as a whole number (?{name}=N).")
    return int(raw)


@never_cache
@require_GET
def checkpoint(request: HttpRequest) -> HttpResponse:
    row = latest_checkpoint()
    if row is None:
        return HttpResponse(
            "No checkpoint has been signed yet.\n", status=404, content_type="text/plain"
        )
    return HttpResponse(checkpoint_note(row), content_type="text/plain; charset=utf-8")


@never_cache
@require_GET
def checkpoints(request: HttpRequest) -> JsonResponse:
    try:
        after = _int_param(request, "after") if "after" in request.GET else -1
    except ValueError as exc:
        return _problem(str(exc))
    rows = checkpoints_after(after)
    items: list[dict[str, Any]] = [
        {
            "size": row.size,
            "root_hash": _b64(bytes(row.root_hash)),
            "key_id": row.key_id,
            "created_at": row.created_at.isoformat(),
            "note": checkpoint_note(row),
        }
        for row in rows
    ]
    return JsonResponse({"checkpoints": items, "more": len(items) == 100})


@never_cache
@require_GET
def inclusion(request: HttpRequest) -> JsonResponse:
    if not request.user.is_authenticated:
        return _problem("Sign in: an inclusion proof names an event.", status=401)
    if not request.user.has_perm(READ_PERMISSION):
        raise PermissionDenied("Only readers of the audit trail get inclusion proofs.")
    try:
        index, size = _int_param(request, "index"), _int_param(request, "size")
        proof = inclusion_proof(index=index, size=size)
    except (ValueError, ProofError) as exc:
        return _problem(str(exc))
    leaf = AuditTreeNode.objects.get(level=0, index=index)
    return JsonResponse(
        {
            "index": index,
            "size": size,
            "event_id": leaf.event_id,
            "leaf_hash": _b64(bytes(leaf.hash)),
            "proof": [_b64(h) for h in proof],
        }
    )


@never_cache
@require_GET
def consistency(request: HttpRequest) -> JsonResponse:
    try:
        old, new = _int_param(request, "from"), _int_param(request, "to")
        if old == 0 or old > new:
            raise ProofError(f"Ask for 0 < from <= to (from={old}, to={new}).")
        proof = consistency_proof(old_size=old, new_size=new)
    except (ValueError, ProofError) as exc:
        return _problem(str(exc))
    return JsonResponse(
        {"from": old, "to": new, "tree_size": tree_size(), "proof": [_b64(h) for h in proof]}
    )


def _require_witness(request: HttpRequest) -> None:
    if not has_role(request.user, Role.AUDITOR):
        raise PermissionDenied("Only auditors witness the audit log.")


@require_POST
@login_required
def cosign(request: AuthenticatedRequest, size: int) -> JsonResponse:
    _require_witness(request)
    try:
        line = request.body.decode("utf-8")
        cosignature = checkpoint_cosign(user=request.user, size=size, signature_line=line)
    except UnicodeDecodeError:
        return _problem("Send the signature line as UTF-8 text.")
    except AuditLogError as exc:
        return _problem(str(exc))
    return JsonResponse(
        {"size": size, "line": cosignature.line, "signed_at": cosignature.signed_at.isoformat()},
        status=201,
    )


@require_POST
@login_required
def witness_keys(request: AuthenticatedRequest) -> JsonResponse:
    _require_witness(request)
    try:
        witness = witness_key_register(
            user=request.user, verifier_key_text=request.body.decode("utf-8")
        )
    except UnicodeDecodeError:
        return _problem("Send the verifier key as UTF-8 text.")
    except AuditLogError as exc:
        return _problem(str(exc))
    return JsonResponse({"verifier_key": witness.verifier_key}, status=201)
