"""The field that records who took a step (``approved_by``, ``closed_by`` …).

Every such field is the same declaration: a user, empty until the step is taken (or for
the system), kept when the user would be deleted, and with no reverse accessor on the user.
"""

from __future__ import annotations

from django.conf import settings
from django.db import models

from foundation.actors import User


def actor_field() -> models.ForeignKey[User | None, User | None]:
    """A nullable ``PROTECT`` foreign key to the configured user model, ``related_name="+"``."""
    return models.ForeignKey(
        settings.AUTH_USER_MODEL, null=True, blank=True, on_delete=models.PROTECT, related_name="+"
    )
