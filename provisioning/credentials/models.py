"""Credentials: one API key per person per grant (DESIGN.md §3, invariant 7)."""

from __future__ import annotations

from django.db import models

from provisioning.grants.models import Grant


class CredentialError(Exception):
    """A credential operation that the rules forbid; the message says what to do instead."""


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
    key_prefix = models.CharField(max_length=24, unique=True)
    key_hash = models.CharField(max_length=64)
    # During a rotation the previous key stays valid until previous_key_expires_at.
    previous_key_prefix = models.CharField(max_length=24, null=True, blank=True, unique=True)
    previous_key_hash = models.CharField(max_length=64, blank=True)
    previous_key_expires_at = models.DateTimeField(null=True, blank=True, db_index=True)
    created_at = models.DateTimeField(auto_now_add=True)
    updated_at = models.DateTimeField()
    revoked_at = models.DateTimeField(null=True, blank=True)
    change_batch = models.BigIntegerField(null=True, blank=True, editable=False)

    class Meta:
        ordering = ["-created_at", "-id"]
        constraints = [
            # One live key per person per grant; revoked ones stay as history.
            models.UniqueConstraint(
                fields=["person", "grant"],
                condition=~models.Q(state="revoked"),
                name="credential_one_live_per_person_grant",
            ),
            models.CheckConstraint(
                condition=models.Q(state__in=CredentialState.values),
                name="credential_state_valid",
            ),
        ]

    def __str__(self) -> str:
        return f"clr_{self.key_prefix}_… ({self.state})"
