import json
from typing import Any

from django.core.management.base import BaseCommand, CommandError, CommandParser

from provisioning.introspection.services import gateway_client_create


class Command(BaseCommand):
    help = "Create a gateway client for token introspection; prints its id and secret once."

    def add_arguments(self, parser: CommandParser) -> None:
        parser.add_argument("--name", required=True)
        parser.add_argument("--json", action="store_true", help="Print as JSON.")

    def handle(self, *args: Any, **options: Any) -> None:
        try:
            created = gateway_client_create(actor=None, name=options["name"])
        except ValueError as error:
            raise CommandError(str(error)) from None
        if options["json"]:
            self.stdout.write(
                json.dumps(
                    {"client_id": created.client.client_id, "client_secret": created.client_secret}
                )
            )
            return
        self.stdout.write(f"client_id:     {created.client.client_id}")
        self.stdout.write(f"client_secret: {created.client_secret}")
        self.stdout.write("The secret is shown once: store it in the gateway now.")
