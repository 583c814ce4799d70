"""Access-notice benchmark: the notices and emails of one emergency stop of 100,000 keys.

In a scratch PostgreSQL database (created and dropped here), the bulk benchmark's seed
(N active credentials across 2,000 organisations on one model) plus an account for every
key's holder and one admin per organisation, all members of their organisation. A model's
emergency stop suspends every key; then ``notifications.dispatch_access_notices`` (the
beat task) runs, with Celery eager so that each email chunk it queues
(``notifications.send_notice_emails``, 100 a chunk) is sent in the same process, to
Django's in-memory mail backend, before the timer stops. Measured: seconds from the first
dispatch until every notice is written and every email handed over, the notices, the
emails, and the database queries (dispatch and email chunks apart).

Targets (docs/benchmarks.md): ≤ 60 s for all of it, since beat runs the dispatch every
5 s and a partner should hear within the minute; the dispatch's queries grow with the
organisations and key chunks, never per key or per person: ≤ 100 + organisations ÷ 10 +
keys ÷ 1,000 for the dispatch, and ≤ 5 per email chunk of 100.

Run: ``DATABASE_URL=postgres://postgres@127.0.0.1:5432/postgres python -m bench.notices [N]``
(or ``--scale K`` for K times the reference size). Without a PostgreSQL ``DATABASE_URL`` it
reports that it was skipped.
"""

from __future__ import annotations

import functools
import logging
import time
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from typing import Any

from bench._common import (
    command_line,
    parse,
    postgres_url,
    print_rows,
    result_row,
    scale,
    scratch_database,
)
from bench._seed import insert_organisation_admins, seed_model_keys

AREA = "notices"
CREDENTIALS = 100_000
ORGANISATIONS = 2_000
TARGET_S = 60.0
EMAIL_CHUNK_QUERIES = 5


_row = functools.partial(result_row, AREA)


def dispatch_query_budget(keys: int, organisations: int) -> int:
    return 100 + organisations // 10 + keys // 1_000


def _accounts() -> None:
    """An account for every key's holder and one admin per organisation, all members."""
    from django.db import connection
    from django.utils import timezone

    now = timezone.now()
    with connection.cursor() as cursor:
        insert_organisation_admins(cursor, now)
        cursor.execute(
            "INSERT INTO accounts_user (password, is_superuser, username, first_name, "
            "last_name, is_staff, is_active, date_joined, email) "
            "SELECT '!', false, 'person-' || p.id, '', '', false, true, %s, "
            "'person' || p.id || '@' || o.email_domain FROM eligibility_person p "
            "JOIN partners_organisation o ON o.id = p.organisation_id ORDER BY p.id",
            [now],
        )
        cursor.execute(
            "UPDATE eligibility_person p SET user_id = u.id FROM accounts_user u "
            "WHERE u.username = 'person-' || p.id"
        )
        cursor.execute(
            "INSERT INTO partners_membership (role, created_at, user_id, organisation_id) "
            "SELECT 'member', %s, p.user_id, p.organisation_id FROM eligibility_person p",
            [now],
        )
        cursor.execute("ANALYZE")


class _Counter:
    def __init__(self) -> None:
        self.total = 0

    def __call__(self, execute: Callable[..., Any], sql: str, *args: Any) -> Any:
        self.total += 1
        return execute(sql, *args)


@contextmanager
def _counted() -> Iterator[_Counter]:
    from django.db import connection

    counter = _Counter()
    with connection.execute_wrapper(counter):
        yield counter


def _measure(n: int, organisations: int) -> list[dict]:
    from django.conf import settings
    from django.core import mail
    from django.core.management import call_command

    call_command("migrate", verbosity=0)
    from portal.accounts.models import User
    from portal.celery import app
    from portal.notifications import access
    from portal.notifications.models import Notification
    from portal.notifications.tasks import dispatch_access_notices
    from provisioning.bulk.stop import model_emergency_stop
    from provisioning.catalog.models import CoveredModel

    model_id = seed_model_keys(n, organisations)
    _accounts()
    actor = User.objects.create(username="bench-ops", is_staff=True)
    access.access_notices_dispatch()  # the cursor starts here: the seed is history
    stop = model_emergency_stop(
        covered_model=CoveredModel.objects.get(pk=model_id), actor=actor, reason="benchmark"
    )
    keys = stop.credentials_suspended

    settings.EMAIL_BACKEND = "django.core.mail.backends.locmem.EmailBackend"
    mail.outbox = []
    app.conf.task_always_eager = True  # each queued email chunk is sent here, in turn
    logging.getLogger("celery.app.trace").setLevel(logging.WARNING)  # a line per chunk
    sent: dict[str, float] = {"seconds": 0.0, "queries": 0, "chunks": 0}
    original = access.notice_emails_send

    def counted_send(*, notification_ids: Any) -> int:
        began = time.perf_counter()
        with _counted() as inner:
            emailed = original(notification_ids=notification_ids)
        sent["seconds"] += time.perf_counter() - began
        sent["queries"] += inner.total
        sent["chunks"] += 1
        return emailed

    access.notice_emails_send = counted_send  # type: ignore[assignment]
    import portal.notifications.tasks as tasks

    tasks.notice_emails_send = counted_send  # type: ignore[assignment]
    try:
        started = time.perf_counter()
        with _counted() as queries:
            while dispatch_access_notices():
                pass
        elapsed = time.perf_counter() - started
    finally:
        access.notice_emails_send = original
        tasks.notice_emails_send = original  # type: ignore[assignment]
        app.conf.task_always_eager = False
    notices = Notification.objects.exclude(decision_key="").count()
    emails = len(mail.outbox)
    unsent = Notification.objects.exclude(decision_key="").filter(emailed_at__isnull=True)
    dispatch_queries = queries.total - sent["queries"]
    budget = dispatch_query_budget(keys, organisations)
    chunk_budget = sent["chunks"] * EMAIL_CHUNK_QUERIES
    expected = n + organisations  # every holder and every admin
    complete = notices == expected and emails == expected and not unsent.exists()
    return [
        {
            **_row(
                f"notices and emails of a stop of {keys:,} keys over {organisations:,} "
                f"organisations ≤ {TARGET_S:.0f} s",
                f"{elapsed:.2f} s: {notices:,} notices written in "
                f"{elapsed - sent['seconds']:.2f} s, {emails:,} emails sent in "
                f"{sent['seconds']:.2f} s ({emails / max(sent['seconds'], 1e-9):,.0f}/s, one "
                "worker)" + ("" if complete else f" (expected {expected:,} of each, all sent)"),
                complete and elapsed <= TARGET_S,
            ),
            "value": elapsed,
            "limit": TARGET_S,
        },
        {
            **_row(
                f"queries: dispatch ≤ {budget:,}, email chunks ≤ {EMAIL_CHUNK_QUERIES} each",
                f"dispatch {dispatch_queries:,}; emails {sent['queries']:,.0f} in "
                f"{sent['chunks']:,.0f} chunks",
                dispatch_queries <= budget and sent["queries"] <= chunk_budget,
            ),
            "value": dispatch_queries,
            "limit": budget,
        },
    ]


def run(n: int | None = None) -> list[dict]:
    url = postgres_url()
    if not url:
        return [
            _row("access notices on PostgreSQL", "skipped: DATABASE_URL is not PostgreSQL", None)
        ]
    factor = scale()
    n = n or CREDENTIALS * factor
    with scratch_database(url, "notices"):
        return _measure(n, min(ORGANISATIONS * factor, n))


if __name__ == "__main__":
    arguments = parse(command_line(__doc__, size="credentials (100,000 x K)"))
    print_rows(run(arguments.size), measured_width=12)
