"""The request type of views behind ``login_required``: ``request.user`` is a real user."""

from __future__ import annotations

from django.http import HttpRequest

from foundation.actors import User


class AuthenticatedRequest(HttpRequest):
    user: User
