"""The request context as ``portal/web/middleware.py`` imports it; it lives in
``foundation.request_context``.

Only the middleware imports this path (its imports change with the problem renderer's).
"""

from foundation.request_context import RequestContext, reset_request_context, set_request_context

__all__ = ["RequestContext", "reset_request_context", "set_request_context"]
