from __future__ import annotations

from typing import Any

from django.core.management.base import BaseCommand, CommandError, CommandParser

from provisioning.bulk.retention import prune_change_log


class Command(BaseCommand):
    help = (
        "Delete change-log rows older than CHANGE_LOG_RETENTION_DAYS that every enabled "
        "target has passed and a later change of their credential supersedes (outside "
        "bulk actions' ranges), in audited batches."
    )

    def add_arguments(self, parser: CommandParser) -> None:
        parser.add_argument(
            "--batch-size",
            type=int,
            default=None,
            help="Rows per batch (default: CHANGE_LOG_PRUNE_BATCH).",
        )
        parser.add_argument("--max-batches", type=int, default=None, help="Stop after this many.")

    def handle(self, *args: Any, **options: Any) -> None:
        for name in ("batch_size", "max_batches"):
            if options[name] is not None and options[name] < 1:
                raise CommandError(f"--{name.replace('_', '-')} must be 1 or more.")
        result = prune_change_log(
            batch_size=options["batch_size"], max_batches=options["max_batches"]
        )
        if result.horizon is None:
            self.stdout.write("No enabled target: nothing pruned.")
            return
        span = (
            f" (ids {result.first_change_id} to {result.last_change_id})" if result.deleted else ""
        )
        self.stdout.write(
            f"{result.deleted} change-log rows pruned in {result.batches} batches{span}; "
            f"older than {result.cutoff:%Y-%m-%d %H:%M} UTC, horizon "
            f"({result.horizon[0]}, {result.horizon[1]})."
        )
