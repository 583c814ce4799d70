"""Certification benchmark: open a campaign on N live keys and suspend them at the deadline.

In a scratch PostgreSQL database (created and dropped here), N active credentials across
2,000 organisations on one model (the bulk benchmark's seed):

* opening: the existence check, one ``INSERT … SELECT`` of the items, the reminder rows,
  the audit event and one notice per organisation admin (none here: no memberships);
* the deadline: every key suspended with reason ``certification`` through
  ``credentials_suspend`` (reason rows, change log and audit included) and every item
  marked, against a raw SQL ``UPDATE`` of the same keys in the same run.

Neither is an emergency path (the 5 s / 5x targets are for bulk suspends), so each is
judged by the budget its caller gives it (docs/benchmarks.md): opening runs inside a web
request, so ≤ 30 s (gunicorn's default timeout); the deadline runs in the beat task
``certification.close_due``, scheduled every 60 s, so it must finish within 60 s. The
ratio to the raw ``UPDATE`` is reported beside the deadline's time.

Run: ``DATABASE_URL=postgres://postgres@127.0.0.1:5432/postgres python -m bench.certification [N]``.
"""

from __future__ import annotations

import datetime as dt
import functools
import time

from bench._common import (
    command_line,
    parse,
    postgres_url,
    print_rows,
    raw_update_seconds,
    result_row,
    scratch_database,
)
from bench._seed import seed_model_keys

AREA = "certification"
CREDENTIALS = 100_000
ORGANISATIONS = 2_000
OPEN_TARGET_S = 30.0
DEADLINE_TARGET_S = 60.0


_row = functools.partial(result_row, AREA)


def _measure(n: int) -> list[dict]:
    from django.core.management import call_command
    from django.utils import timezone

    call_command("migrate", verbosity=0)
    from django.urls import reverse

    from portal.accounts.models import User
    from portal.certification.services import campaign_close_due, campaign_open
    from provisioning.catalog.models import CoveredModel
    from provisioning.credentials.models import Credential

    actor = User.objects.create(username="bench-compliance", is_staff=True)
    reverse("certification:tasks")  # import the URLconf now, not inside the timing
    model_id = seed_model_keys(n, ORGANISATIONS)
    raw = raw_update_seconds(model_id)
    started = time.perf_counter()
    campaign = campaign_open(
        actor=actor,
        title="Benchmark recertification",
        covered_model=CoveredModel.objects.get(pk=model_id),
        deadline=timezone.now() + dt.timedelta(days=1),
        reminder_days=[1],
    )
    opened = time.perf_counter() - started
    started = time.perf_counter()
    campaign_close_due(now=campaign.deadline + dt.timedelta(minutes=1))
    closed = time.perf_counter() - started
    suspended = Credential.objects.filter(state="suspended").count()
    ratio = closed / raw if raw else float("inf")
    return [
        {
            **_row(
                f"open a campaign on {campaign.item_count:,} keys ≤ {OPEN_TARGET_S:.0f} s",
                f"{opened:.2f} s",
                campaign.item_count == n and opened <= OPEN_TARGET_S,
            ),
            "value": opened,
            "limit": OPEN_TARGET_S,
        },
        {
            **_row(
                f"deadline suspends {suspended:,} keys (items, reasons, change log, audit) "
                f"≤ {DEADLINE_TARGET_S:.0f} s",
                f"{closed:.2f} s, {ratio:.1f}x a raw UPDATE of the same keys ({raw:.2f} s)"
                + ("" if suspended == n else f"; only {suspended:,} of {n:,} suspended"),
                suspended == n and closed <= DEADLINE_TARGET_S,
            ),
            "value": closed,
            "limit": DEADLINE_TARGET_S,
        },
    ]


def run(n: int = CREDENTIALS) -> list[dict]:
    url = postgres_url()
    if not url:
        return [
            _row("certification on PostgreSQL", "skipped: DATABASE_URL is not PostgreSQL", None)
        ]
    with scratch_database(url, "certification"):
        return _measure(n)


if __name__ == "__main__":
    arguments = parse(command_line(__doc__, size="credentials (100,000)"))
    print_rows(run(arguments.size or CREDENTIALS), measured_width=12)
