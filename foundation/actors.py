"""Who acts: a user of the configured user model, or ``None`` for the system.

Services on both sides take an ``actor`` and write it to foreign keys to
``settings.AUTH_USER_MODEL`` and to the audit event. The foundation and provisioning may not
import the portal's user model, so the type is named through Django's own placeholder: the
django-stubs mypy plugin reads ``django.contrib.auth.models._User`` as the configured
``AUTH_USER_MODEL`` class (``portal.accounts.models.User``) wherever it is used as a type. At
run time, where only the stubs have that name, the aliases fall back to
``AbstractBaseUser``, which every configured user model derives from.

``None`` is the system (a beat task, a gateway, a command run by nobody in particular); an
anonymous user is not an actor.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, TypeAlias

from django.contrib.auth.base_user import AbstractBaseUser

if TYPE_CHECKING:
    from django.contrib.auth.models import _User

    User: TypeAlias = _User
else:
    User: TypeAlias = AbstractBaseUser

Actor: TypeAlias = User | None

__all__ = ["Actor", "User"]
