"""python manage.py rotate_field_encryption: every stored secret under the newest key."""

from __future__ import annotations

from typing import Any

from django.core.management.base import BaseCommand, CommandError, CommandParser

from portal.accounts.commands import named_user
from portal.field_encryption import BATCH_SIZE, field_encryption_rotate


class Command(BaseCommand):
    help = (
        "Re-encrypt every stored secret (TOTP seeds, target credentials) under the first "
        "key of FIELD_ENCRYPTION_KEYS. Safe to interrupt and run again: finished rows are "
        "skipped. Remove the old key only after a run that reports nothing unreadable."
    )

    def add_arguments(self, parser: CommandParser) -> None:
        parser.add_argument("--actor", default="", help="Username recorded on the audit events.")
        parser.add_argument("--batch-size", type=int, default=BATCH_SIZE)

    def handle(self, *args: Any, **options: Any) -> None:
        actor = named_user(options["actor"]) if options["actor"] else None
        if options["batch_size"] < 1:
            raise CommandError("--batch-size must be at least 1.")
        result = field_encryption_rotate(
            actor=actor, batch_size=options["batch_size"], progress=self.stdout.write
        )
        self.stdout.write(f"Re-encrypted {result.total_reencrypted} secret(s).")
        if result.unreadable:
            raise CommandError(
                "No key in FIELD_ENCRYPTION_KEYS opens: "
                + ", ".join(result.unreadable)
                + ". Put the key that encrypted them back in the list and run again."
            )
