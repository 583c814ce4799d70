"""Feed usage events: a sample drawn from the database, or a JSON file of events.

    python manage.py feed_usage --sample
    python manage.py feed_usage events.json
    python manage.py feed_usage --sample --url http://127.0.0.1:8000/usage/v1/events \\
        --client-id gw_... --client-secret ...

Without ``--url`` the events go through the same service as the endpoint, reported by
the gateway client named by ``--gateway`` (created if missing). With ``--url`` they are
POSTed to a running portal as a real gateway would.
"""

from __future__ import annotations

import base64
import json
import urllib.error
import urllib.request
from pathlib import Path
from typing import Any

from django.core.management.base import BaseCommand, CommandError, CommandParser

from foundation.input_guard import load_json
from portal.usage.sample import sample_events
from portal.usage.services import usage_batch_ingest
from provisioning.introspection.models import GatewayClient
from provisioning.introspection.services import gateway_client_create


class Command(BaseCommand):
    help = "Send a batch of usage events (a sample, or a JSON file) so usage alerts can be seen."

    def add_arguments(self, parser: CommandParser) -> None:
        parser.add_argument("file", nargs="?", help="A JSON array of usage events.")
        parser.add_argument("--sample", action="store_true", help="Draw a sample from the data.")
        parser.add_argument("--gateway", default="sample-feed", help="Gateway client name.")
        parser.add_argument("--url", help="POST to this running endpoint instead.")
        parser.add_argument("--client-id", default="")
        parser.add_argument("--client-secret", default="")

    def handle(self, *args: Any, **options: Any) -> None:
        if bool(options["sample"]) == bool(options["file"]):
            raise CommandError("Give either --sample or a JSON file of events (not both).")
        if options["sample"]:
            sample = sample_events()
            events: list[Any] = sample.events
            for note in sample.notes:
                self.stdout.write(self.style.WARNING(note))
        else:
            try:
                events = load_json(Path(options["file"]).read_bytes(), check_text=False)
            except (OSError, ValueError) as exc:
                raise CommandError(f"Cannot read {options['file']}: {exc}") from exc
            if not isinstance(events, list):
                raise CommandError("The file must hold a JSON array of usage events.")
        result = self._post(events, options) if options["url"] else self._ingest(events, options)
        self._report(result)

    def _ingest(self, events: list[Any], options: dict[str, Any]) -> dict[str, Any]:
        gateway = GatewayClient.objects.filter(name=options["gateway"], enabled=True).first()
        if gateway is None:
            gateway = gateway_client_create(actor=None, name=options["gateway"]).client
            self.stdout.write(f"Created the gateway client {gateway.name} ({gateway.client_id}).")
        return usage_batch_ingest(gateway=gateway, events=events).as_dict()

    def _post(self, events: list[Any], options: dict[str, Any]) -> dict[str, Any]:
        if not (options["client_id"] and options["client_secret"]):
            raise CommandError("--url needs --client-id and --client-secret.")
        token = base64.b64encode(
            f"{options['client_id']}:{options['client_secret']}".encode()
        ).decode()
        request = urllib.request.Request(  # noqa: S310 — the operator gives the URL
            options["url"],
            data=json.dumps(events).encode(),
            headers={"Content-Type": "application/json", "Authorization": f"Basic {token}"},
            method="POST",
        )
        try:
            with urllib.request.urlopen(request, timeout=30) as response:  # noqa: S310
                return dict(json.loads(response.read()))
        except urllib.error.HTTPError as exc:
            body = exc.read().decode(errors="replace")
            try:
                return dict(json.loads(body))
            except ValueError:
                raise CommandError(f"The endpoint answered {exc.code}: {body[:500]}") from exc
        except urllib.error.URLError as exc:
            raise CommandError(f"Cannot reach {options['url']}: {exc.reason}") from exc

    def _report(self, result: dict[str, Any]) -> None:
        if "error_description" in result and not result.get("accepted"):
            self.stdout.write(self.style.ERROR(result["error_description"]))
        self.stdout.write(
            f"Accepted {result.get('accepted', 0)} event(s), rejected {result.get('rejected', 0)}; "
            f"alerts raised {result.get('alerts_raised', 0)}, "
            f"updated {result.get('alerts_updated', 0)}."
        )
        for error in result.get("errors", []):
            self.stdout.write(f"  event {error['index']}: {' '.join(error['reasons'])}")
        self.stdout.write("Compliance sees the alerts at /usage/alerts/.")
