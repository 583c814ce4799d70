from typing import Any

from django.core.management.base import BaseCommand, CommandError

from foundation.audit.checkpoints import AuditLogError, checkpoint_make, checkpoint_note


class Command(BaseCommand):
    help = (
        "Check the audit log against its latest checkpoint, then sign a C2SP checkpoint of its "
        "Merkle tree and print it (the latest one when no event was added since)."
    )

    def handle(self, *args: Any, **options: Any) -> None:
        try:
            row = checkpoint_make()
        except AuditLogError as exc:
            raise CommandError(str(exc)) from exc
        self.stdout.write(checkpoint_note(row), ending="")
