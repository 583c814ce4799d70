from django.contrib.auth.models import AbstractUser
from django.db import models


class User(AbstractUser):
    """A person who signs in. Roles are groups (staff) or organisation memberships (partners)."""

    email = models.EmailField("email address", unique=True)

    class Meta:
        ordering = ["username"]

    def __str__(self) -> str:
        return self.username
