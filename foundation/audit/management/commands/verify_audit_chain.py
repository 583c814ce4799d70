from pathlib import Path
from typing import Any

from django.core.management.base import BaseCommand, CommandError, CommandParser

from foundation.audit.chain import verify_chain
from foundation.audit.checkpoints import log_problem_full, verifier_key
from verifier.note import NoteError, VerifierKey, open_checkpoint


class Command(BaseCommand):
    help = (
        "Verify the audit chain; exit non-zero naming the first bad event. With --checkpoint "
        "FILE, also check that the log still holds that signed checkpoint's tree (a deleted "
        "tail, a rewritten event or a second history fails)."
    )

    def add_arguments(self, parser: CommandParser) -> None:
        parser.add_argument(
            "--checkpoint", type=Path, help="A signed checkpoint kept from earlier (a file)."
        )
        parser.add_argument(
            "--key",
            help="The verifier key that signed it (default: the log's current key).",
        )

    def handle(self, *args: Any, **options: Any) -> None:
        if options["checkpoint"] is not None:
            self._check_checkpoint(options["checkpoint"], options["key"])
        report = verify_chain()
        if report.first_break is not None:
            raise CommandError(
                f"Audit chain broken at event #{report.first_break.event_id}: "
                f"{report.first_break.problem}. {report.checked} event(s) read."
            )
        self.stdout.write(f"Audit chain intact: {report.checked} event(s) verified.")

    def _check_checkpoint(self, path: Path, key_text: str | None) -> None:
        if not path.is_file():
            raise CommandError(f"No file at {path}.")
        try:
            key = VerifierKey.parse(key_text) if key_text else verifier_key()
            checkpoint = open_checkpoint(path.read_text(encoding="utf-8"), key)
        except (NoteError, UnicodeDecodeError) as exc:
            raise CommandError(f"The checkpoint in {path} is not valid: {exc}.") from exc
        result = log_problem_full(checkpoint)
        if result.problem:
            raise CommandError(
                f"The audit log does not hold the signed checkpoint of size {checkpoint.size}: "
                f"{result.problem}."
            )
        self.stdout.write(
            f"The log holds the signed checkpoint of size {checkpoint.size} "
            f"({checkpoint.origin}): its {checkpoint.size} events hash to the signed root."
        )
