from typing import Any

from django.core.management.base import BaseCommand, CommandError

from portal.audit.chain import verify_chain


class Command(BaseCommand):
    help = "Verify the audit chain; exit non-zero naming the first bad event."

    def handle(self, *args: Any, **options: Any) -> None:
        report = verify_chain()
        if report.first_break is not None:
            raise CommandError(
                f"Audit chain broken at event #{report.first_break.event_id}: "
                f"{report.first_break.problem}. {report.checked} event(s) read."
            )
        self.stdout.write(f"Audit chain intact: {report.checked} event(s) verified.")
