"""What the benchmark areas share.

The command line (``command_line``: size and ``--scale``), the result rows and their printing,
a scratch database of their own, and the baseline the PostgreSQL suspend benchmarks (``bulk``,
``provisioning``, ``certification``) are measured against: a raw SQL ``UPDATE`` of the same
credential rows, with grants and keys reset between runs. The data they seed is in
``bench._seed``.
"""

from __future__ import annotations

import argparse
import os
import tempfile
import time
import uuid
from collections.abc import Iterator
from contextlib import contextmanager
from urllib.parse import urlsplit, urlunsplit


def postgres_url() -> str:
    """``DATABASE_URL`` when it names a PostgreSQL server, else "" (the area is skipped)."""
    url = os.environ.get("DATABASE_URL", "")
    return url if url.startswith(("postgres://", "postgresql://")) else ""


def scale() -> int:
    """How many times the reference data an area builds: ``BENCH_SCALE`` (1 by default).

    ``--scale K`` on any area's command line, or on ``python -m bench``'s, sets it (see
    ``command_line``); targets marked (10x) in docs/benchmarks.md are checked at 10.
    """
    value = os.environ.get("BENCH_SCALE", "1")
    try:
        return _positive(value)
    except argparse.ArgumentTypeError as error:
        raise SystemExit(f"BENCH_SCALE: {error}") from None


def _positive(text: str) -> int:
    try:
        value = int(text)
    except ValueError:
        raise argparse.ArgumentTypeError(f"{text!r} is not a whole number") from None
    if value < 1:
        raise argparse.ArgumentTypeError(f"{value} is not 1 or more")
    return value


def command_line(doc: str | None, *, size: str = "") -> argparse.ArgumentParser:
    """The command line every area takes, to which it adds its own flags: ``--scale K``
    and, where the area builds data (``size`` names what it counts), an optional ``N``.

    A size or scale that is not a whole number of 1 or more is refused with the usage,
    before any database is touched; ``--help`` prints the area's docstring.
    """
    parser = argparse.ArgumentParser(
        description=(doc or "").strip(), formatter_class=argparse.RawDescriptionHelpFormatter
    )
    if size:
        parser.add_argument(
            "size", nargs="?", type=_positive, help=f"{size} (default: the reference size)"
        )
    parser.add_argument(
        "--scale",
        type=_positive,
        metavar="K",
        help="K times the reference data (sets BENCH_SCALE)",
    )
    return parser


def parse(parser: argparse.ArgumentParser, argv: list[str] | None = None) -> argparse.Namespace:
    """``parser``'s reading of the command line, with ``--scale`` passed on as
    ``BENCH_SCALE`` (so that areas run in their own processes see it too)."""
    arguments = parser.parse_args(argv)
    if arguments.scale is not None:
        os.environ["BENCH_SCALE"] = str(arguments.scale)
    return arguments


def result_row(area: str, target: str, measured: str, ok: bool | None) -> dict:
    """One row of an area's results; ``ok`` is None where a figure is shown, not judged."""
    return {"area": area, "target": target, "measured": measured, "ok": ok}


def print_rows(rows: list[dict], *, measured_width: int, target_width: int = 60) -> None:
    """An area's rows, for running it on its own."""
    for row in rows:
        mark = {True: "ok", False: "FAIL", None: "-"}[row["ok"]]
        print(f"{row['target']:<{target_width}} {row['measured']:>{measured_width}}  {mark}")


@contextmanager
def scratch_database(url: str, name: str) -> Iterator[None]:
    """Django set up on a new database on ``url``'s server, dropped at the end whatever happens."""
    import psycopg

    parts = urlsplit(url)
    admin = psycopg.connect(urlunsplit(parts._replace(path="/postgres")), autocommit=True)
    scratch = f"clearance_bench_{name}_{uuid.uuid4().hex[:8]}"
    # `make bench` migrates one template for every area: a copy is quicker than a migrate.
    template = os.environ.get("BENCH_TEMPLATE_DATABASE", "")
    admin.execute(f'CREATE DATABASE "{scratch}"' + (f' TEMPLATE "{template}"' if template else ""))
    try:
        os.environ["DATABASE_URL"] = urlunsplit(parts._replace(path=f"/{scratch}"))
        os.environ.setdefault("CLEARANCE_VAR_DIR", tempfile.mkdtemp(prefix=f"bench-{name}-"))
        os.environ.setdefault("DJANGO_SETTINGS_MODULE", "portal.settings")
        import django

        django.setup()
        try:
            yield
        finally:
            from django.db import connections

            connections.close_all()
    finally:
        os.environ["DATABASE_URL"] = url
        admin.execute(f'DROP DATABASE IF EXISTS "{scratch}" WITH (FORCE)')
        admin.close()


def warm_up() -> None:
    """Import what a long-running web or worker process has loaded before any request.

    The relay wake-up after a commit imports the task modules late (they import the
    services); a fresh process would otherwise time a one-off import in its first run.
    """
    import provisioning.deliveries.tasks  # noqa: F401


def reset_grants() -> None:
    """Back to every grant and key active, between runs."""
    from django.db import connection

    with connection.cursor() as cursor:
        cursor.execute("DELETE FROM grants_grantsuspension")
        cursor.execute("UPDATE grants_grant SET state = 'active', change_batch = NULL")
        cursor.execute(
            "UPDATE credentials_credential SET state = 'active', change_batch = NULL "
            "WHERE state <> 'active'"
        )
        cursor.execute("VACUUM ANALYZE credentials_credential")
        cursor.execute("VACUUM ANALYZE grants_grant")


class _Rollback(Exception):
    pass


def raw_update_seconds(model_id: int, *, commit: bool = False) -> float:
    """The same credential rows with a bare UPDATE: rolled back, or committed and timed with
    its commit (``commit=True``, the baseline at scale 10); the caller resets the rows.

    The row versions it leaves are vacuumed away afterwards: PostgreSQL does not prune
    aborted versions on access, so they would fill the free room on every page that the
    measured suspend's in-place (HOT) updates need, a state no real workload produces.
    Both the baseline and the suspend start from a freshly vacuumed table.
    """
    from django.db import connection, transaction

    elapsed = 0.0
    try:
        started = time.perf_counter()
        with transaction.atomic():
            with connection.cursor() as cursor:
                cursor.execute(
                    "UPDATE credentials_credential SET state = 'suspended', "
                    "version = version + 1 WHERE state = 'active' AND grant_id IN "
                    "(SELECT id FROM grants_grant WHERE covered_model_id = %s)",
                    [model_id],
                )
            elapsed = time.perf_counter() - started
            if not commit:
                raise _Rollback
        elapsed = time.perf_counter() - started
    except _Rollback:
        pass
    if commit:
        reset_grants()
    with connection.cursor() as cursor:
        cursor.execute("VACUUM credentials_credential")
    return elapsed


def ensure_targets(total: int) -> None:
    """At least ``total`` downstream SCIM targets."""
    from provisioning.deliveries.models import Target

    for index in range(Target.objects.count(), total):
        Target.objects.create(kind="scim", name=f"bench-{index}", url=f"http://127.0.0.1:9/{index}")
