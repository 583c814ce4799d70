import contextlib
import json
import sys
from dataclasses import asdict
from typing import Any

from django.conf import settings
from django.core.management.base import BaseCommand, CommandError, CommandParser

from portal.screening.demo import seed_screening
from portal.web.demo import seed_demo
from portal.web.demo_access import demo_credentials


class Command(BaseCommand):
    help = "Create the demo story (models, partners, members, staff). Safe to run twice."

    def add_arguments(self, parser: CommandParser) -> None:
        parser.add_argument("--json", action="store_true", help="Print the logins as JSON.")
        parser.add_argument(
            "--allow-production",
            action="store_true",
            help="Seed even with DEBUG off. Demo users have known passwords: never in production.",
        )

    def handle(self, *args: Any, **options: Any) -> None:
        if not settings.DEBUG and not options["allow_production"]:
            raise CommandError(
                "Refusing to seed demo users with known passwords while DEBUG is off. "
                "Pass --allow-production if this really is a throwaway installation."
            )
        # With --json, stdout carries the JSON document alone: whatever seeding prints (the
        # console email backend's certification emails on a fresh database) goes to stderr.
        quiet = (
            contextlib.redirect_stdout(sys.stderr) if options["json"] else contextlib.nullcontext()
        )
        with quiet:
            logins = seed_demo()
            seed_screening(actor=None)  # the shipped SDN + CSL lists; everyone screened for real
            credentials = demo_credentials()
        if options["json"]:
            # Credentials first: a reader keying rows by username keeps the login rows.
            rows = [asdict(c) for c in credentials] + [asdict(login) for login in logins]
            self.stdout.write(json.dumps(rows, indent=2))
            return
        self.stdout.write(f"Demo logins (password for all: {logins[0].password})")
        self.stdout.write(f"{'username':<16} {'role':<16} {'organisation':<18} TOTP secret")
        for login in logins:
            self.stdout.write(
                f"{login.username:<16} {login.role:<16} {login.organisation or '-':<18} "
                f"{login.totp_secret or '-'}"
            )
        self.stdout.write(
            "Staff sign in with a TOTP code from the secret above (any authenticator app, "
            "or: .venv/bin/python -c \"import pyotp; print(pyotp.TOTP('SECRET').now())\")."
        )
        self.stdout.write("")
        self.stdout.write(f"Demo API keys (demo only; {len(credentials)}):")
        for c in credentials:
            self.stdout.write(
                f"{c.username:<16} {c.organisation:<18} {c.model:<10} {c.state:<10} {c.key or '-'}"
            )
