import json
from dataclasses import asdict
from typing import Any

from django.conf import settings
from django.core.management.base import BaseCommand, CommandError, CommandParser

from portal.web.demo import seed_demo


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
        logins = seed_demo()
        if options["json"]:
            self.stdout.write(json.dumps([asdict(login) for login in logins], indent=2))
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
            "or: python -c \"import pyotp; print(pyotp.TOTP('SECRET').now())\")."
        )
