from typing import Any

from django.core.management.base import BaseCommand, CommandError, CommandParser

from provisioning.catalog.models import CoveredModel
from provisioning.deliveries.models import DeliveryError, TargetKind
from provisioning.deliveries.services import target_create


class Command(BaseCommand):
    help = "Add a downstream target (SCIM server or webhook receiver)."

    def add_arguments(self, parser: CommandParser) -> None:
        parser.add_argument("--kind", required=True, choices=TargetKind.values)
        parser.add_argument("--name", required=True)
        parser.add_argument("--url", required=True)
        secret = parser.add_mutually_exclusive_group()
        secret.add_argument("--token", default="", help="SCIM bearer token.")
        secret.add_argument(
            "--secret", action="append", default=[], help="Webhook signing secret (repeatable)."
        )
        parser.add_argument(
            "--model", action="append", default=[], help="Covered model slug (default: all)."
        )
        parser.add_argument("--disabled", action="store_true")

    def handle(self, *args: Any, **options: Any) -> None:
        models = list(CoveredModel.objects.filter(slug__in=options["model"]))
        missing = set(options["model"]) - {m.slug for m in models}
        if missing:
            raise CommandError(f"Unknown covered model(s): {', '.join(sorted(missing))}.")
        try:
            target = target_create(
                actor=None,
                kind=options["kind"],
                name=options["name"],
                url=options["url"],
                token=options["token"],
                secrets=options["secret"],
                covered_models=models,
                enabled=not options["disabled"],
            )
        except DeliveryError as exc:
            raise CommandError(str(exc)) from exc
        self.stdout.write(f"Target {target.name} ({target.kind}) added with id {target.pk}.")
