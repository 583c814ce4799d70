"""Print a new personal access token for a user (shown once; only its hash is stored)."""

from __future__ import annotations

from typing import Any

from django.core.management.base import BaseCommand, CommandError, CommandParser

from portal.accounts.commands import named_user
from portal.api.errors import ApiTokenError
from portal.api.models import TokenScope
from portal.api.services import api_token_issue


class Command(BaseCommand):
    help = "Issue a personal access token for USERNAME and print it once."

    def add_arguments(self, parser: CommandParser) -> None:
        parser.add_argument("--user", required=True, help="Username of the token's owner.")
        parser.add_argument(
            "--scope",
            action="append",
            choices=TokenScope.values,
            help="read or write; repeat for several (default: read).",
        )
        parser.add_argument("--expires-in", type=int, default=None, metavar="DAYS")
        parser.add_argument("--name", default="Issued from the command line")

    def handle(self, *args: Any, **options: Any) -> None:
        user = named_user(options["user"])
        try:
            issued = api_token_issue(
                actor=None,
                user=user,
                name=options["name"],
                scopes=options["scope"] or [TokenScope.READ],
                expires_in_days=options["expires_in"],
            )
        except ApiTokenError as error:
            raise CommandError(str(error)) from None
        # The only place the plaintext appears: the operator's terminal.
        self.stdout.write(issued.plaintext)
