"""What management commands share about people: the user an option names."""

from __future__ import annotations

from django.core.management.base import CommandError

from portal.accounts.models import User


def named_user(username: str) -> User:
    """The user called ``username``; an unknown name stops the command, saying which."""
    user = User.objects.filter(username=username).first()
    if user is None:
        raise CommandError(f"No user is named {username!r}.")
    return user
