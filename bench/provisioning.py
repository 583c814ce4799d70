"""Provisioning benchmark (docs/benchmarks.md): the write cost of a bulk suspend, and introspection.

In a scratch PostgreSQL database of its own (created and dropped here):

* ``grant_suspend`` over 100,000 active credentials, committed (grants, credentials, change
  log, audit), against a raw SQL ``UPDATE`` of the same credential rows in the same run:
  ≤ 5 s and ≤ 5x, with 1, 3 and 5 downstream targets (the cost must not grow with them);
* ``POST /oauth/introspect`` p99 through ``portal.wsgi.application``, as a server calls it
  (the gateways' middleware stack, portal/web/gateways.py): ≤ 10 ms; the test client's
  figure (every middleware, plus the client's own instrumentation) is shown too.

Run: ``DATABASE_URL=postgres://postgres@127.0.0.1:5432/postgres python -m bench.provisioning [N]``;
with ``--explain``, one suspend's statements with their plans and timings (auto_explain).
Without a PostgreSQL ``DATABASE_URL`` it reports that it was skipped.
"""

from __future__ import annotations

import functools
import os
import statistics
import sys
import time

from bench._common import (
    command_line,
    ensure_targets,
    parse,
    postgres_url,
    print_rows,
    raw_update_seconds,
    reset_grants,
    result_row,
    scratch_database,
    warm_up,
)
from bench._seed import seed_model_keys

AREA = "provisioning"
CREDENTIALS = 100_000
GRANTS = 2_000
INTROSPECTIONS = 2_000


_row = functools.partial(result_row, AREA)


def _suspend_seconds(model_id: int, reference: str) -> tuple[float, int]:
    from provisioning.grants.models import Grant, SuspensionKind
    from provisioning.grants.services import grant_suspend

    started = time.perf_counter()
    result = grant_suspend(
        grants=Grant.objects.filter(covered_model_id=model_id),
        reason=SuspensionKind.REGULATORY,
        reference=reference,
        actor=None,
    )
    return time.perf_counter() - started, result.credentials_changed


def _percentiles(timings: list[float]) -> tuple[float, float]:
    timings = sorted(timings)
    return statistics.median(timings), timings[int(len(timings) * 0.99) - 1]


def _introspection_p99() -> tuple[tuple[float, float], tuple[float, float]]:
    """(p50, p99) in ms through the WSGI application, as a server calls it, and through
    the test client (which adds its own signal and template instrumentation per request)."""
    import base64
    import io
    from urllib.parse import urlencode

    from django.test import Client

    from portal.eligibility.models import Person
    from provisioning.credentials.services import credential_issue
    from provisioning.grants.models import Grant
    from provisioning.introspection.services import gateway_client_create

    grant = Grant.objects.filter(state="active").first()
    person = Person.objects.create(organisation_id=grant.organisation_id, legal_name="Probe")
    key = credential_issue(actor=None, grant=grant, person=person).key
    gateway = gateway_client_create(actor=None, name="bench")
    auth = (
        "Basic "
        + base64.b64encode(f"{gateway.client.client_id}:{gateway.client_secret}".encode()).decode()
    )
    body = urlencode({"token": key}).encode()
    from portal.wsgi import application

    def wsgi_post() -> bytes:
        environ = {
            "REQUEST_METHOD": "POST",
            "PATH_INFO": "/oauth/introspect",
            "SCRIPT_NAME": "",
            "QUERY_STRING": "",
            "SERVER_NAME": "localhost",
            "SERVER_PORT": "80",
            "SERVER_PROTOCOL": "HTTP/1.1",
            "REMOTE_ADDR": "127.0.0.1",
            "HTTP_HOST": "localhost",
            "HTTP_AUTHORIZATION": auth,
            "CONTENT_TYPE": "application/x-www-form-urlencoded",
            "CONTENT_LENGTH": str(len(body)),
            "wsgi.input": io.BytesIO(body),
            "wsgi.url_scheme": "http",
            "wsgi.errors": io.StringIO(),
            "wsgi.version": (1, 0),
            "wsgi.multithread": False,
            "wsgi.multiprocess": True,
            "wsgi.run_once": False,
        }
        status: list[str] = []
        chunks = application(environ, lambda s, h, *a: status.append(s))
        try:
            content = b"".join(chunks)
        finally:
            getattr(chunks, "close", lambda: None)()
        assert status[0].startswith("200") and b'"active": true' in content, content
        return content

    client = Client()

    def client_post() -> bytes:
        response = client.post("/oauth/introspect", {"token": key}, HTTP_AUTHORIZATION=auth)
        assert response.status_code == 200 and response.json()["active"] is True
        return response.content

    results = []
    for call in (wsgi_post, client_post):
        timings = []
        for i in range(INTROSPECTIONS + 200):
            started = time.perf_counter()
            call()
            elapsed = time.perf_counter() - started
            if i >= 200:  # warm-up
                timings.append(elapsed * 1000)
        results.append(_percentiles(timings))
    return results[0], results[1]


def _measure(n: int) -> list[dict]:
    from django.core.management import call_command

    call_command("migrate", verbosity=0)
    warm_up()
    model_id = seed_model_keys(n, GRANTS)
    rows = []
    commits: dict[int, float] = {}
    for targets in (1, 3, 5):
        ensure_targets(targets)
        reset_grants()
        raw = raw_update_seconds(model_id)
        committed, changed = _suspend_seconds(model_id, f"bench-{targets}")
        commits[targets] = committed
        ratio = committed / raw if raw else float("inf")
        label = f"{targets} target{'s' if targets > 1 else ''}"
        rows.append(
            _row(
                f"bulk suspend of {changed:,} committed ≤ 5 s, {label}",
                f"{committed:.2f} s",
                committed <= 5.0 and changed == n,
            )
        )
        rows.append(_row(f"≤ 5x raw UPDATE ({raw:.2f} s), {label}", f"{ratio:.1f}x", ratio <= 5.0))
    # One-sided: more targets must not cost more than one (a first run that is slower, from
    # cold caches, is not growth).
    growth = max(commits[3], commits[5]) / commits[1]
    rows.append(
        _row(
            "write cost does not grow with targets (3 or 5 vs 1, ≤ 1.3x)",
            f"{growth:.2f}x",
            growth <= 1.3,
        )
    )
    reset_grants()
    (median, p99), (client_median, client_p99) = _introspection_p99()
    rows.append(
        _row(
            "introspection p99 ≤ 10 ms (WSGI app)",
            f"{p99:.2f} ms (p50 {median:.2f}); through the test client p99 "
            f"{client_p99:.2f} ms (p50 {client_median:.2f})",
            p99 <= 10,
        )
    )
    return rows


def explain_suspend(n: int = CREDENTIALS) -> None:
    """Print where one bulk suspend's time goes: each statement's plan with its timings
    (auto_explain, nested statements and triggers included) and the Python side."""
    from django.core.management import call_command
    from django.db import connection

    from provisioning.grants.models import Grant, SuspensionKind
    from provisioning.grants.services import grant_suspend

    call_command("migrate", verbosity=0)
    warm_up()
    model_id = seed_model_keys(n, GRANTS)
    ensure_targets(1)
    reset_grants()
    raw = raw_update_seconds(model_id)
    plans: list[str] = []
    connection.ensure_connection()
    connection.connection.add_notice_handler(lambda notice: plans.append(notice.message_primary))
    with connection.cursor() as cursor:
        cursor.execute("LOAD 'auto_explain'")
        for setting, value in (
            ("log_min_duration", "20"),
            ("log_analyze", "on"),
            ("log_buffers", "on"),
            ("log_wal", "on"),
            ("log_nested_statements", "on"),
            ("log_level", "notice"),
        ):
            cursor.execute(f"SET auto_explain.{setting} = {value}")
    timings: list[tuple[float, str]] = []

    def timed(execute, sql, params, many, context):  # type: ignore[no-untyped-def]
        started = time.perf_counter()
        try:
            return execute(sql, params, many, context)
        finally:
            timings.append((time.perf_counter() - started, " ".join(sql.split())[:90]))

    started = time.perf_counter()
    with connection.execute_wrapper(timed):
        result = grant_suspend(
            grants=Grant.objects.filter(covered_model_id=model_id),
            reason=SuspensionKind.REGULATORY,
            reference="explain",
            actor=None,
        )
    total = time.perf_counter() - started
    for plan in plans:
        print(plan, end="\n\n")
    print(f"raw UPDATE baseline: {raw:.2f} s")
    for elapsed, sql in timings:
        if elapsed >= 0.005:
            print(f"{elapsed * 1000:8.0f} ms  {sql}")
    sql_total = sum(elapsed for elapsed, _ in timings)
    print(
        f"statements {sql_total:.2f} s, commit and Python {total - sql_total:.2f} s, "
        f"total {total:.2f} s for {result.credentials_changed:,} credentials"
    )


def run(n: int = CREDENTIALS) -> list[dict]:
    url = postgres_url()
    if not url:
        return [_row("provisioning on PostgreSQL", "skipped: DATABASE_URL is not PostgreSQL", None)]
    os.environ["ALLOWED_HOSTS"] = "testserver,127.0.0.1,localhost"
    os.environ.setdefault("LOG_LEVEL", "WARNING")
    with scratch_database(url, "prov"):
        return _measure(n)


if __name__ == "__main__":
    parser = command_line(__doc__, size="credentials (100,000)")
    parser.add_argument(
        "--explain",
        action="store_true",
        help="where the suspend's time goes, statement by statement",
    )
    arguments = parse(parser)
    size = arguments.size or CREDENTIALS
    if arguments.explain:
        # Where the time goes, statement by statement (PostgreSQL, scratch database).
        database = postgres_url()
        if not database:
            sys.exit("--explain needs a PostgreSQL DATABASE_URL")
        with scratch_database(database, "explain"):
            explain_suspend(size)
        sys.exit(0)
    print_rows(run(size), measured_width=22, target_width=70)
