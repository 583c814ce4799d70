"""python manage.py load_screening_list --format {csl,ofac-sdn} PATH [--alt PATH] [--actor USER]"""

from __future__ import annotations

from pathlib import Path
from typing import Any

from django.core.management.base import BaseCommand, CommandError, CommandParser

from portal.accounts.commands import named_user
from portal.screening.errors import ScreeningError
from portal.screening.lists import list_version_load
from portal.screening.models import ListFormat


class Command(BaseCommand):
    help = "Load a denied-party list file as the new version in force, then re-screen everyone."

    def add_arguments(self, parser: CommandParser) -> None:
        parser.add_argument("--format", required=True, choices=ListFormat.values, dest="fmt")
        parser.add_argument("path", type=Path)
        parser.add_argument("--alt", type=Path, help="OFAC alias file (alt.csv) for ofac-sdn")
        parser.add_argument("--actor", help="username recorded as the loader (default: system)")

    def handle(self, *args: Any, **options: Any) -> None:
        actor = named_user(options["actor"]) if options["actor"] else None
        try:
            outcome = list_version_load(
                list_format=options["fmt"],
                path=options["path"],
                alt_path=options["alt"],
                actor=actor,
            )
        except ScreeningError as exc:
            raise CommandError(f"Refused: {exc}") from None
        version, result = outcome.version, outcome.result
        for row in result.skipped:
            self.stderr.write(f"skipped {row}")
        self.stdout.write(
            f"Loaded {version.get_list_format_display()} as version {version.pk}: "
            f"{version.entry_count} entries, {version.alias_count} aliases, "
            f"{version.skipped_count} rows skipped. Everyone will be re-screened."
        )
