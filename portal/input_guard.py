"""The input guard as ``portal/web/middleware.py`` imports it; it lives in
``foundation.input_guard``.

Only the middleware imports this path (its imports change with the problem renderer's).
"""

from foundation.input_guard import has_control_characters

__all__ = ["has_control_characters"]
