"""Personal access tokens and stored Idempotency-Key answers.

A token is ``clrp_<prefix>_<secret>``: the prefix finds the row, and only the SHA-256 of
the whole token is stored. The secret carries 256 random bits, so a plain hash suffices.
"""

from __future__ import annotations

from django.conf import settings
from django.core.serializers.json import DjangoJSONEncoder
from django.db import models

from foundation.tokens import HashedToken


class TokenScope(models.TextChoices):
    READ = "read", "Read"
    WRITE = "write", "Write"


class ApiToken(HashedToken):
    user = models.ForeignKey(
        settings.AUTH_USER_MODEL, on_delete=models.CASCADE, related_name="api_tokens"
    )
    name = models.CharField(max_length=100)
    scopes = models.JSONField(default=list)
    expires_at = models.DateTimeField()

    class Meta(HashedToken.Meta):
        constraints = [
            models.CheckConstraint(
                condition=models.Q(expires_at__gt=models.F("created_at")),
                name="api_token_expires_after_creation",
            ),
        ]

    def __str__(self) -> str:
        return f"{self.name} (clrp_{self.prefix}_…)"

    def has_scope(self, scope: str) -> bool:
        # Write implies read: a script that may change data may also look at it.
        return scope in self.scopes or (
            scope == TokenScope.READ and TokenScope.WRITE in self.scopes
        )


class IdempotencyKey(models.Model):
    """The first answer to a creating request, replayed when the same key comes again."""

    user = models.ForeignKey(settings.AUTH_USER_MODEL, on_delete=models.CASCADE, related_name="+")
    # SHA-256 of the client's key: the key itself may be guessable, so it is not kept.
    key_hash = models.CharField(max_length=64)
    # SHA-256 over the method, path and body: the same key with another request is refused.
    request_hash = models.CharField(max_length=64)
    status_code = models.PositiveSmallIntegerField()
    response_body = models.JSONField(null=True, blank=True, encoder=DjangoJSONEncoder)
    created_at = models.DateTimeField(auto_now_add=True)
    expires_at = models.DateTimeField(db_index=True)

    class Meta:
        constraints = [
            models.UniqueConstraint(fields=["user", "key_hash"], name="idempotency_key_unique"),
        ]

    def __str__(self) -> str:
        return f"Idempotency key {self.key_hash[:12]}… ({self.status_code})"
