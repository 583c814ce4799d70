"""Gateways that may ask whether an API key is active (RFC 7662)."""

from __future__ import annotations

from django.db import models


class GatewayClient(models.Model):
    name = models.CharField(max_length=100)
    client_id = models.CharField(max_length=40, unique=True)
    # sha256 of a 256-bit random secret: verified, never read back (invariant 7).
    secret_hash = models.CharField(max_length=64)
    enabled = models.BooleanField(default=True)
    created_at = models.DateTimeField(auto_now_add=True)

    class Meta:
        ordering = ["name"]

    def __str__(self) -> str:
        return f"{self.name} ({self.client_id})"
