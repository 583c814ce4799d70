"""python manage.py screen "NAME" [--dob YYYY-MM-DD] [--country CC] [--json]

A name that cannot be screened (nothing comparable, control characters or emoji, mixed
scripts, too long) is never reported as clear: the command says "cannot screen this name" on
stderr and, when nothing matched either, exits with status 2.
"""

from __future__ import annotations

import datetime as dt
import json
from typing import Any

from django.conf import settings
from django.core.management.base import BaseCommand, CommandError, CommandParser

from portal.screening.countries import is_country_code
from portal.screening.matching import index_for
from portal.screening.normalise import MAX_NAME_LENGTH, unscreenable_reason
from portal.screening.selectors import current_versions


class Command(BaseCommand):
    help = "Screen one name against the lists in force and print the ranked matches."

    def add_arguments(self, parser: CommandParser) -> None:
        parser.add_argument("name")
        parser.add_argument("--dob", help="date of birth, YYYY-MM-DD")
        parser.add_argument(
            "--country", action="append", default=[], help="citizenship, ISO alpha-2 (repeatable)"
        )
        parser.add_argument("--threshold", type=float, default=None)
        parser.add_argument("--limit", type=int, default=20)
        parser.add_argument("--json", action="store_true", dest="as_json")

    def handle(self, *args: Any, **options: Any) -> None:
        dob = None
        if options["dob"]:
            try:
                dob = dt.date.fromisoformat(options["dob"])
            except ValueError:
                raise CommandError(f"--dob must be YYYY-MM-DD, got {options['dob']!r}.") from None
        for code in options["country"]:
            if not is_country_code(code):
                raise CommandError(f"--country must be an ISO 3166 alpha-2 code, got {code!r}.")
        versions = current_versions()
        if not versions:
            raise CommandError("No screening list is loaded: run load_screening_list first.")
        threshold = options["threshold"]
        if threshold is None:
            threshold = settings.SCREENING_MATCH_THRESHOLD
        unscreenable = unscreenable_reason(options["name"])
        matches = index_for(versions).search(
            options["name"][:MAX_NAME_LENGTH],
            date_of_birth=dob,
            countries=options["country"],
            threshold=threshold,
            limit=options["limit"],
        )
        if options["as_json"]:
            self.stdout.write(json.dumps([m.as_dict() for m in matches], indent=2))
        elif not matches and not unscreenable:
            self.stdout.write(f"No match at or above {threshold:.2f}.")
        for rank, m in enumerate([] if options["as_json"] else matches, 1):
            self.stdout.write(
                f"{rank:>2}. {m.score:.3f}  {m.source_list} {m.entity_id}  {m.primary_name}"
                f"  (matched {m.alias_kind} {m.matched_alias!r})"
            )
            for reason in [*m.reasons, *m.evidence_lines()]:
                self.stdout.write(f"      {reason}")
        if unscreenable:
            self.stderr.write(
                f"{unscreenable.capitalize()}: a person with this name is held for compliance, "
                "never cleared."
            )
            if not matches:
                raise SystemExit(2)
