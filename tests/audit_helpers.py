"""What the audit trail's tests do to the database behind the application's back."""

from __future__ import annotations

from typing import Any

from django.db import connection


def tamper(sql: str, params: list[Any] | None = None) -> None:
    """Run ``sql`` as a database owner would to tamper: triggers off (on PostgreSQL, where
    the append-only triggers live), plain SQL."""
    with connection.cursor() as cursor:
        if connection.vendor == "postgresql":
            cursor.execute("SET session_replication_role = replica")
        cursor.execute(sql, params)
        if connection.vendor == "postgresql":
            cursor.execute("SET session_replication_role = DEFAULT")
