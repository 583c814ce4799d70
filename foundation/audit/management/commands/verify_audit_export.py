from pathlib import Path
from typing import Any

from django.core.management.base import BaseCommand, CommandError, CommandParser

from foundation.audit.export_verify import verify_export


class Command(BaseCommand):
    help = (
        "Verify an audit export (.jsonl, or .csv): recompute every row's hash and check the "
        "links between consecutive events; exit non-zero naming each bad row."
    )

    def add_arguments(self, parser: CommandParser) -> None:
        parser.add_argument("path", type=Path, help="The exported .jsonl (or .csv) file.")
        parser.add_argument(
            "--contiguous",
            action="store_true",
            help="The export is unfiltered: every row must link to the one before it.",
        )

    def handle(self, *args: Any, **options: Any) -> None:
        path: Path = options["path"]
        if not path.is_file():
            raise CommandError(f"No file at {path}.")
        report = verify_export(path, contiguous=options["contiguous"])
        if report.rows == 0:
            raise CommandError(f"{path} holds no audit events.")
        for problem in report.problems[:50]:
            event = f"event #{problem.event_id}" if problem.event_id is not None else "a row"
            self.stderr.write(f"line {problem.line}, {event}: {problem.problem}")
        if report.problems:
            raise CommandError(
                f"Audit export does not verify: {len(report.problems)} problem(s) "
                f"in {report.rows} row(s)."
            )
        gaps = f", {len(report.gaps)} gap(s) where the export skips events" if report.gaps else ""
        self.stdout.write(
            f"Audit export verified: {report.rows} row(s), {report.links_checked} link(s) "
            f"checked{gaps}. Last hash {report.last_hash} (compare it with the portal's chain)."
        )
