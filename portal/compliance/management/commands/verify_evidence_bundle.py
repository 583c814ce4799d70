from pathlib import Path
from typing import Any

from django.core.management.base import BaseCommand, CommandError, CommandParser

from portal.compliance.evidence_verify import verify_bundle_file
from verifier.note import NoteError, VerifierKey


class Command(BaseCommand):
    help = (
        "Verify an evidence bundle (.zip) offline, with the code of clearance-verify: the BagIt "
        "manifest, the audit segment's hash chain, CSV against JSON, credential rows against "
        "their bulk actions' digests, and every event's inclusion proof against the signed "
        "checkpoint. "
        "Exits non-zero naming the first problem."
    )

    def add_arguments(self, parser: CommandParser) -> None:
        parser.add_argument("path", type=Path, help="The downloaded evidence bundle (.zip).")
        parser.add_argument(
            "--key", help="The audit log's verifier key (default: the log's current key)."
        )

    def handle(self, *args: Any, **options: Any) -> None:
        path: Path = options["path"]
        if not path.is_file():
            raise CommandError(f"No file at {path}.")
        try:
            key = VerifierKey.parse(options["key"]) if options["key"] else None
        except NoteError as exc:
            raise CommandError(f"--key is not a verifier key: {exc}.") from exc
        report = verify_bundle_file(path, key=key)
        if not report.ok:
            raise CommandError(f"Evidence bundle does not verify: {report.problem}.")
        self.stdout.write(report.summary())
