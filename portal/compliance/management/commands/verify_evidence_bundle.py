from pathlib import Path
from typing import Any

from django.core.management.base import BaseCommand, CommandError, CommandParser

from portal.compliance.evidence_verify import verify_bundle_file


class Command(BaseCommand):
    help = (
        "Verify an evidence bundle (.zip) offline: manifest hashes, the audit segment's hash "
        "chain, CSV against JSON, and credential rows against their bulk actions' digests. "
        "Exits non-zero naming the first problem."
    )

    def add_arguments(self, parser: CommandParser) -> None:
        parser.add_argument("path", type=Path, help="The downloaded evidence bundle (.zip).")

    def handle(self, *args: Any, **options: Any) -> None:
        path: Path = options["path"]
        if not path.is_file():
            raise CommandError(f"No file at {path}.")
        report = verify_bundle_file(path)
        if not report.ok:
            raise CommandError(f"Evidence bundle does not verify: {report.problem}.")
        self.stdout.write(report.summary())
