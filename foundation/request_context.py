"""The request id and client address of the current request, for audit rows and logs."""

from __future__ import annotations

import contextvars
from dataclasses import dataclass


@dataclass(frozen=True)
class RequestContext:
    request_id: str = ""
    ip: str | None = None


_context: contextvars.ContextVar[RequestContext] = contextvars.ContextVar(
    "clearance_request_context",
    default=RequestContext(),  # noqa: B039 — frozen, so sharing the default is safe
)


def current_request_context() -> RequestContext:
    return _context.get()


def set_request_context(context: RequestContext) -> contextvars.Token[RequestContext]:
    return _context.set(context)


def reset_request_context(token: contextvars.Token[RequestContext]) -> None:
    _context.reset(token)
