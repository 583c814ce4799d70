from typing import Any

from django.core.management.base import BaseCommand, CommandParser

from provisioning.deliveries.relay import relay_run, relay_until_idle


class Command(BaseCommand):
    help = "Run the relay in this process: every enabled target, or one with --target."

    def add_arguments(self, parser: CommandParser) -> None:
        parser.add_argument(
            "--until-idle", action="store_true", help="Repeat until nothing is due."
        )
        parser.add_argument("--target", type=int, help="Only this target id.")

    def handle(self, *args: Any, **options: Any) -> None:
        if options["target"]:
            results = [relay_run(target_id=options["target"])]
        elif options["until_idle"]:
            results = relay_until_idle()
        else:
            results = relay_until_idle(max_rounds=1)
        totals: dict[int, list[int]] = {}
        for r in results:
            t = totals.setdefault(r.target_id, [0, 0, 0, 0])
            t[0] += r.taken
            t[1] += r.delivered
            t[2] += r.failed
            t[3] += r.dead
        for target_id, (taken, delivered, failed, dead) in sorted(totals.items()):
            self.stdout.write(
                f"target {target_id}: {taken} changes taken, {delivered} delivered, "
                f"{failed} failed, {dead} dead"
            )
        errors = [r.error for r in results if r.error]
        for error in errors:
            self.stderr.write(f"error: {error}")
