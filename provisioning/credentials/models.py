"""Credentials: one API key per person per grant (DESIGN.md §3, invariant 7)."""

from __future__ import annotations

from django.db import models

from foundation.errors import DomainError, ErrorKind
from provisioning.grants.models import Grant


class CredentialError(DomainError):
    """A credential operation that the rules forbid; the message says what to do instead."""

    kind = ErrorKind.CONFLICT


class IllegalCredentialTransition(CredentialError):
    pass


class SeatsExhausted(CredentialError):
    pass


class CredentialState(models.TextChoices):
    # Effective state: "suspended" whenever the grant is not active or the person is held.
    ACTIVE = "active", "Active"
    SUSPENDED = "suspended", "Suspended"
    REVOKED = "revoked", "Revoked"


CREDENTIAL_TRANSITIONS: dict[str, frozenset[str]] = {
    CredentialState.ACTIVE: frozenset({CredentialState.SUSPENDED, CredentialState.REVOKED}),
    CredentialState.SUSPENDED: frozenset({CredentialState.ACTIVE, CredentialState.REVOKED}),
    CredentialState.REVOKED: frozenset(),
}


def check_credential_transition(current: str, new: str) -> None:
    if new not in CREDENTIAL_TRANSITIONS[current]:
        raise IllegalCredentialTransition(
            f"A {current} credential cannot become {new}; a revoked key is final, issue a new one."
        )


class Credential(models.Model):
    ORGANISATION_PATH = "grant__organisation"

    person = models.ForeignKey(
        "eligibility.Person", on_delete=models.PROTECT, related_name="credentials"
    )
    grant = models.ForeignKey(Grant, on_delete=models.PROTECT, related_name="credentials")
    state = models.CharField(
        max_length=12, choices=CredentialState.choices, default=CredentialState.ACTIVE
    )
    # The person is held by screening: suspended whatever the grant says.
    held = models.BooleanField(default=False)
    # Bumped on every effective change; downstream targets drop anything older.
    version = models.PositiveBigIntegerField(default=1)
    # Unique through Meta constraints rather than ``unique=True``, which on PostgreSQL adds a
    # second (``LIKE``) index per column that no look-up uses and every write maintains.
    key_prefix = models.CharField(max_length=24)
    key_hash = models.CharField(max_length=64)
    # During a rotation the previous key stays valid until previous_key_expires_at. NULL,
    # not "", when there is none: it is unique (Meta), and NULLs never collide.
    previous_key_prefix = models.CharField(max_length=24, null=True, blank=True)  # noqa: DJ001
    previous_key_hash = models.CharField(max_length=64, blank=True)
    previous_key_expires_at = models.DateTimeField(null=True, blank=True, db_index=True)
    created_at = models.DateTimeField(auto_now_add=True)
    updated_at = models.DateTimeField()
    revoked_at = models.DateTimeField(null=True, blank=True)
    change_batch = models.BigIntegerField(null=True, blank=True, editable=False)

    class Meta:
        ordering = ["-created_at", "-id"]
        constraints = [
            models.UniqueConstraint(fields=["key_prefix"], name="credential_key_prefix_unique"),
            models.UniqueConstraint(
                fields=["previous_key_prefix"], name="credential_previous_key_prefix_unique"
            ),
            # One live key per person per grant; revoked ones stay as history. "Live" is
            # read from revoked_at, not state, so that no index depends on the state column:
            # a suspend or restore then touches no indexed column and PostgreSQL updates the
            # row in place (HOT) instead of inserting into every index. The check below keeps
            # the two equivalent.
            models.UniqueConstraint(
                fields=["person", "grant"],
                condition=models.Q(revoked_at__isnull=True),
                name="credential_one_live_per_person_grant",
            ),
            models.CheckConstraint(
                condition=(
                    models.Q(state="revoked", revoked_at__isnull=False)
                    | (~models.Q(state="revoked") & models.Q(revoked_at__isnull=True))
                ),
                name="credential_revoked_iff_revoked_at",
            ),
            models.CheckConstraint(
                condition=models.Q(state__in=CredentialState.values),
                name="credential_state_valid",
            ),
        ]

    def __str__(self) -> str:
        return f"clr_{self.key_prefix}_… ({self.state})"
