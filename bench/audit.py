"""Audit explorer and export benchmark (docs/benchmarks.md, web pages; issue: 1,000,000 events).

On PostgreSQL (``DATABASE_URL``) it creates a scratch database next to the configured one
(``<name>_auditbench_<pid>``), migrates it, fills the audit trail with benchmark rows in
one ``INSERT ... SELECT generate_series`` (labelled: actor ``bench-user-N``, reasons that
start "benchmark data", object names "benchmark object"; hashes are linked but not
content hashes), then measures through the Django test client:

* explorer p95 latency: the first page, filtered pages (actor, action, organisation,
  covered model, date range, reason text), and a deep keyset page near the oldest event;
* export throughput (rows/s) of a streamed JSON Lines export, and the process's peak
  memory while streaming it.

The scratch database is dropped at the end, whatever happens; the configured database
is never touched. Run: ``python -m bench.audit [--scale K] [--rows N]`` (default 1,000,000
events times K: ``--scale 10`` loads 10,000,000).
"""

from __future__ import annotations

import datetime as dt
import os
import resource
import statistics
import sys
import tempfile
import time
from collections.abc import Callable
from typing import Any
from urllib.parse import urlsplit, urlunsplit

from bench._common import command_line, parse, postgres_url, scale

AREA = "audit"
DEFAULT_ROWS = 1_000_000  # times --scale (BENCH_SCALE)
PAGE_TARGET_MS = 150.0
EXPORT_TARGET_ROWS_PER_S = 10_000.0
REPEAT = 25
ORGANISATIONS = 200
MODELS = 10

ACTIONS = [
    "organisation.registered",
    "organisation.verification_changed",
    "organisation.trusted_changed",
    "membership.added",
    "membership.removed",
    "person.created",
    "person.screened",
    "person.held",
    "application.submitted",
    "application.approved",
    "application.rejected",
    "grant.created",
    "grant.suspended",
    "grant.restored",
    "grant.revoked",
    "credential.issued",
    "credential.rotated",
    "determination.approved",
    "bulk.executed",
    "certification.confirmed",
]
WORDS = [
    "routine",
    "screening",
    "determination",
    "quota",
    "rotation",
    "regulator",
    "letter",
    "partner",
    "renewal",
    "emergency",
    "drift",
    "certification",
    "expiry",
]


def _sql_array(values: list[str]) -> str:
    return "ARRAY[" + ", ".join(f"'{v}'" for v in values) + "]"


INSERT_SQL = f"""
INSERT INTO audit_auditevent (
    id, created_at, actor_id, actor_label, action, object_type, object_id, object_repr,
    organisation_id, reason, before, after, digest, request_id, ip, prev_hash, hash
)
SELECT
    %(base)s + i,
    now() - interval '365 days' + interval '365 days' * (i::float8 / %(n)s),
    NULL,
    'bench-user-' || (i %% 50),
    ({_sql_array(ACTIONS)})[1 + i %% {len(ACTIONS)}],
    ({_sql_array(["partners.organisation", "grants.grant", "eligibility.person"])})[1 + i %% 3],
    (i %% 5000)::text,
    'benchmark object ' || (i %% 5000),
    1 + (i %% {ORGANISATIONS}),
    'benchmark data: ' || ({_sql_array(WORDS)})[1 + i %% {len(WORDS)}] || ' '
        || ({_sql_array(WORDS)})[1 + (i / 7) %% {len(WORDS)}] || ' case ' || i,
    jsonb_build_object('state', 'active', 'model', 'bench-model-' || (i %% {MODELS})),
    jsonb_build_object('state', 'suspended', 'model', 'bench-model-' || (i %% {MODELS}), 'n', i),
    '',
    'bench-' || md5(i::text),
    '127.0.0.1',
    encode(sha256(convert_to('bench' || (i - 1), 'UTF8')), 'hex'),
    encode(sha256(convert_to('bench' || i, 'UTF8')), 'hex')
FROM generate_series(%(first)s, %(last)s) AS i
"""  # noqa: S608 — built from this module's constants only; the row count is a parameter


def _row(target: str, measured: str, ok: bool | None, what: str = "") -> dict[str, Any]:
    area = f"{AREA}: {what}" if what else AREA
    return {"area": area, "target": target, "measured": measured, "ok": ok}


def _admin_execute(base_url: str, sql: str) -> None:
    import psycopg

    parts = urlsplit(base_url)
    admin = urlunsplit(parts._replace(path="/postgres"))
    with psycopg.connect(admin, autocommit=True) as conn:
        conn.execute(sql)


def _setup_django(scratch_url: str, scratch_name: str) -> None:
    os.environ["DATABASE_URL"] = scratch_url
    # The checkpoints' demo signing key goes to a temporary var dir, not the checkout's.
    os.environ.setdefault("CLEARANCE_VAR_DIR", tempfile.mkdtemp(prefix="bench-audit-"))
    os.environ.setdefault("DJANGO_SETTINGS_MODULE", "portal.settings")
    import django
    from django.conf import settings

    if not settings.configured:
        django.setup()
    from django.db import connections

    # Already configured (imported by a caller): point the connection at the scratch database.
    connections["default"].close()
    connections["default"].settings_dict["NAME"] = scratch_name
    assert connections["default"].settings_dict["NAME"] == scratch_name


LOAD_CONNECTIONS = 2  # this machine's cores: the load is one INSERT and one build per core


def _fill(rows: int) -> float:
    """Benchmark rows loaded the way ``pg_restore --jobs`` restores a table: rows first, in
    ``LOAD_CONNECTIONS`` parallel slices, then every index and constraint built over the
    loaded rows, a build per connection at a time.

    Building an index over a loaded table is a sort, far faster than millions of incremental
    inserts into a dozen indexes (the explorer's GIN indexes above all, and the unique index
    of random ``hash`` values); the foreign key is checked once, by one query, when it is
    added back. Ids are given explicitly, each slice its own range, and the identity
    sequence is set past them afterwards: the table, its indexes and constraints (same
    names, same definitions) end as a serial load would leave them.
    """
    from concurrent.futures import ThreadPoolExecutor

    from django.db import connection

    started = time.perf_counter()
    with connection.cursor() as cursor:
        cursor.execute(
            """
            SELECT indexname, indexdef FROM pg_indexes
            WHERE tablename = 'audit_auditevent' AND indexname NOT IN (
                SELECT conname FROM pg_constraint
                WHERE conrelid = 'audit_auditevent'::regclass
            )
            """
        )
        indexes = cursor.fetchall()
        # Unique constraints before foreign keys (a restore's order); the primary key stays:
        # ids arrive in order, so its index is only ever appended to.
        cursor.execute(
            """
            SELECT conname, pg_get_constraintdef(oid) FROM pg_constraint
            WHERE conrelid = 'audit_auditevent'::regclass AND contype IN ('u', 'f')
            ORDER BY contype DESC, conname
            """
        )
        constraints = cursor.fetchall()
        for name, _ in indexes:
            cursor.execute(f'DROP INDEX "{name}"')
        for name, _ in constraints:
            cursor.execute(f'ALTER TABLE audit_auditevent DROP CONSTRAINT "{name}"')
        cursor.execute("SELECT COALESCE(MAX(id), 0) FROM audit_auditevent")
        base = int(cursor.fetchone()[0])
    params = connection.get_connection_params()

    def run_all(statements: list[tuple[str, dict[str, int] | None]]) -> None:
        import psycopg

        with psycopg.connect(**params, autocommit=True) as conn:
            conn.execute("SET synchronous_commit = off")
            conn.execute("SET maintenance_work_mem = '512MB'")
            for sql, values in statements:
                conn.execute(sql, values)

    step = -(-rows // LOAD_CONNECTIONS)
    slices = [
        [
            (
                INSERT_SQL,
                {"n": rows, "base": base, "first": first, "last": min(rows, first + step - 1)},
            )
        ]
        for first in range(1, rows + 1, step)
    ]
    # The largest builds first (GIN, then the wider btrees), dealt out in turn, so the two
    # connections finish together; foreign keys last, after the unique index they may use.
    builds = sorted(indexes, key=lambda item: ("USING gin" not in item[1], -len(item[1])))
    queues: list[list[tuple[str, dict[str, int] | None]]] = [[] for _ in range(LOAD_CONNECTIONS)]
    unique = [(n, d) for n, d in constraints if d.startswith("UNIQUE")]
    for position, (name, definition) in enumerate([*unique, *builds]):
        sql = (
            f'ALTER TABLE audit_auditevent ADD CONSTRAINT "{name}" {definition}'
            if (name, definition) in unique
            else definition
        )
        queues[position % LOAD_CONNECTIONS].append((sql, None))
    foreign = [
        (f'ALTER TABLE audit_auditevent ADD CONSTRAINT "{name}" {definition}', None)
        for name, definition in constraints
        if not definition.startswith("UNIQUE")
    ]
    with ThreadPoolExecutor(LOAD_CONNECTIONS) as pool:
        list(pool.map(run_all, slices))
        list(pool.map(run_all, queues))
    run_all(foreign)
    with connection.cursor() as cursor:
        cursor.execute(
            "SELECT setval(pg_get_serial_sequence('audit_auditevent', 'id'), MAX(id)) "
            "FROM audit_auditevent"
        )
        cursor.execute("ANALYZE audit_auditevent")
    return time.perf_counter() - started


def _reference_data() -> Any:
    from allauth.mfa.totp.internal.auth import TOTP, generate_totp_secret
    from django.contrib.auth.models import Group

    from portal.accounts.models import User
    from portal.accounts.roles import Role
    from portal.partners.models import Organisation, Sector
    from provisioning.catalog.models import CoveredModel

    Organisation.objects.bulk_create(
        Organisation(
            slug=f"bench-org-{i}",
            legal_name=f"Benchmark Organisation {i}",
            country="US",
            sector=Sector.OTHER,
            email_domain=f"bench-{i}.example",
        )
        for i in range(1, ORGANISATIONS + 1)
    )
    CoveredModel.objects.bulk_create(
        CoveredModel(slug=f"bench-model-{i}", name=f"Benchmark model {i}") for i in range(MODELS)
    )
    user = User.objects.create_user("bench-auditor", "bench-auditor@bench.example")
    user.groups.add(Group.objects.get(name=Role.AUDITOR))
    TOTP.activate(user, generate_totp_secret())
    return user


def _p95_ms(request: Callable[[], Any], repeat: int = REPEAT) -> tuple[float, float]:
    for _ in range(3):  # warm caches and connections
        request()
    timings = []
    for _ in range(repeat):
        started = time.perf_counter()
        response = request()
        timings.append((time.perf_counter() - started) * 1000)
        if response.status_code != 200:
            raise RuntimeError(f"explorer answered {response.status_code}")
    timings.sort()
    p95 = timings[max(0, round(0.95 * len(timings)) - 1)]
    return p95, statistics.median(timings)


def _measure(
    rows: int, user: Any, *, export: bool = True, with_explorer: bool = True
) -> list[dict[str, Any]]:
    from django.conf import settings
    from django.test import Client
    from django.urls import reverse

    from foundation.audit.models import AuditEvent

    # As production serves it: no query log, no test instrumentation of templates.
    settings.DEBUG = False
    settings.ALLOWED_HOSTS = [*settings.ALLOWED_HOSTS, "testserver"]
    client = Client()
    client.force_login(user)
    explorer = reverse("audit:explorer")
    first_id = AuditEvent.objects.order_by("id").values_list("id", flat=True).first() or 1
    mid = AuditEvent.objects.filter(id__gte=first_id + rows // 2).values_list("created_at").first()
    # The calendar month of the middle event: a month's span, in the middle of the trail.
    month = mid[0].date().replace(day=1) if mid else None
    month_end = (
        (month + dt.timedelta(days=31)).replace(day=1) - dt.timedelta(days=1) if month else None
    )
    pages: list[tuple[str, dict[str, str]]] = [
        ("first page", {}),
        ("actor filter", {"actor": "bench-user-7"}),
        ("action filter", {"action": "grant.suspended"}),
        ("action prefix", {"action": "grant."}),
        ("organisation filter", {"organisation": "bench-org-42"}),
        ("model filter", {"model": "bench-model-3"}),
        ("reason full text", {"q": "emergency regulator"}),
        (
            "one month",
            {"date_from": f"{month}", "date_to": f"{month_end}"} if month else {},
        ),
        ("deep keyset page", {"before": str(first_id + 1000)}),
        ("deep filtered page", {"organisation": "bench-org-42", "before": str(first_id + 5000)}),
    ]
    results = []
    for label, query in pages if with_explorer else []:
        p95, median = _p95_ms(lambda q=query: client.get(explorer, q))
        results.append(
            _row(
                f"p95 <= {PAGE_TARGET_MS:.0f} ms at {rows:,} events",
                f"p95 {p95:.1f} ms (median {median:.1f})",
                p95 <= PAGE_TARGET_MS,
                f"explorer {label}",
            )
        )

    if not export:
        return results
    # Export: everything up to the middle of the trail, streamed as a server would send it.
    export_filter = {"date_to": f"{month}"} if month else {}
    rss_before = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss
    started = time.perf_counter()
    response = client.get(reverse("audit:export_jsonl"), export_filter)
    exported = sum(chunk.count(b"\n") for chunk in response.streaming_content)
    elapsed = time.perf_counter() - started
    rss_after = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss
    rate = exported / elapsed if elapsed else 0.0
    results.append(
        _row(
            f">= {EXPORT_TARGET_ROWS_PER_S:,.0f} rows/s, memory flat",
            f"{rate:,.0f} rows/s ({exported:,} rows in {elapsed:.1f} s; "
            f"peak RSS +{(rss_after - rss_before) / 1024:.0f} MiB)",
            rate >= EXPORT_TARGET_ROWS_PER_S,
            "export JSON Lines",
        )
    )
    return results


PROOF_TARGET_MS = 5.0
PROOF_LEAVES = 10_000_000  # DESIGN.md §7: an inclusion proof at 10,000,000 events
CHECKPOINT_TARGET_MS = 50.0
APPEND_OVERHEAD_TARGET = 0.10


def _fill_tree() -> tuple[int, float]:
    """A Merkle tree over every loaded event, written set-based: a leaf per event and every
    complete subtree above. The hashes are stand-ins (a proof reads the same rows whatever
    they hold); what is signed and checked afterwards is consistent, being read from them."""
    from django.db import connection

    started = time.perf_counter()
    with connection.cursor() as cursor:
        cursor.execute("SET synchronous_commit = off")
        cursor.execute("TRUNCATE audit_audittreenode")
        cursor.execute(
            'INSERT INTO audit_audittreenode (level, "index", hash, event_id) '
            "SELECT 0, row_number() OVER (ORDER BY id) - 1, sha256(int8send(id)), id "
            "FROM audit_auditevent"
        )
        cursor.execute("SELECT count(*) FROM audit_auditevent")
        size = int(cursor.fetchone()[0])
        _insert_stand_in_nodes(cursor, size, from_level=1)
        cursor.execute("ANALYZE audit_audittreenode")
    from foundation.audit.tree import forget_cache

    forget_cache()  # the tree was replaced under this process's cached frontier
    return size, time.perf_counter() - started


def _insert_stand_in_nodes(cursor: Any, leaves: int, *, from_level: int) -> None:
    """Every node of a tree of ``leaves`` leaves from ``from_level`` up, each hash standing in
    for the real one (its index and level hashed): a tree of the right shape, quickly."""
    level = from_level
    while leaves >> level:
        cursor.execute(
            'INSERT INTO audit_audittreenode (level, "index", hash) '
            "SELECT %s, j, sha256(int8send(j) || int2send(%s::int2)) "
            "FROM generate_series(0, %s) AS j",
            [level, level, (leaves >> level) - 1],
        )
        level += 1


def _synthetic_proofs(leaves: int) -> dict[str, Any]:
    """Inclusion proofs in a tree of ``leaves`` stand-in leaves with no events behind them:
    the proof's cost at a size the loaded events do not reach (DESIGN.md: 10,000,000)."""
    import random

    from django.db import connection

    from foundation.audit.tree import forget_cache, inclusion_proof

    with connection.cursor() as cursor:
        cursor.execute("SET synchronous_commit = off")
        cursor.execute("TRUNCATE audit_audittreenode")
        _insert_stand_in_nodes(cursor, leaves, from_level=0)
        cursor.execute("ANALYZE audit_audittreenode")
    forget_cache()
    rng = random.Random(5)
    for _ in range(5):
        inclusion_proof(index=rng.randrange(leaves), size=leaves)
    timings = [
        _timed_ms(lambda: inclusion_proof(index=rng.randrange(leaves), size=leaves))
        for _ in range(300)
    ]
    return _row(
        f"inclusion proof p95 <= {PROOF_TARGET_MS:.0f} ms at {leaves:,} events",
        f"p95 {_p95(timings):.2f} ms (median {statistics.median(timings):.2f}; stand-in tree)",
        _p95(timings) <= PROOF_TARGET_MS,
        "tree",
    )


def _timed_ms(function: Callable[[], Any]) -> float:
    started = time.perf_counter()
    function()
    return (time.perf_counter() - started) * 1000


def _p95(values: list[float]) -> float:
    ordered = sorted(values)
    return ordered[max(0, round(0.95 * len(ordered)) - 1)]


def _append_overhead(events: int = 2000) -> tuple[float, float]:
    """Milliseconds per ``audit_record`` with the tree and without it, alternating blocks."""
    from django.db import transaction

    from foundation.audit import services

    real = services.tree_append
    with_tree: list[float] = []
    without: list[float] = []
    for block in range(6):
        services.tree_append = real if block % 2 == 0 else (lambda **_: None)
        started = time.perf_counter()
        with transaction.atomic():
            for i in range(events // 6):
                services.audit_record(actor=None, action="bench.append", object_id=str(i))
        (with_tree if block % 2 == 0 else without).append(time.perf_counter() - started)
    services.tree_append = real
    per_block = events // 6
    return sum(with_tree) / (3 * per_block) * 1000, sum(without) / (3 * per_block) * 1000


def _transparency() -> list[dict[str, Any]]:
    import random

    from foundation.audit.checkpoints import checkpoint_make
    from foundation.audit.services import audit_record
    from foundation.audit.tree import inclusion_proof, tree_size

    size, fill_s = _fill_tree()
    results = [
        _row(
            "Merkle tree over the loaded events", f"{size:,} leaves in {fill_s:.1f} s", None, "tree"
        )
    ]
    rng = random.Random(17)
    for _ in range(5):  # warm the connection and the index pages' first touch
        inclusion_proof(index=rng.randrange(size), size=size)
    timings = [
        _timed_ms(lambda: inclusion_proof(index=rng.randrange(size), size=size)) for _ in range(200)
    ]
    results.append(
        _row(
            f"inclusion proof p95 <= {PROOF_TARGET_MS:.0f} ms at {size:,} events",
            f"p95 {_p95(timings):.2f} ms (median {statistics.median(timings):.2f})",
            _p95(timings) <= PROOF_TARGET_MS,
            "tree",
        )
    )
    audit_record(actor=None, action="bench.first", object_type="bench")
    checkpoint_make()  # the first has nothing to check against; the timed ones do
    signed = []
    for _ in range(20):
        audit_record(actor=None, action="bench.next", object_type="bench")
        signed.append(_timed_ms(checkpoint_make))
    results.append(
        _row(
            f"checkpoint p95 <= {CHECKPOINT_TARGET_MS:.0f} ms at {tree_size():,} events",
            f"p95 {_p95(signed):.1f} ms (median {statistics.median(signed):.1f}; "
            "checks the last checkpoint, then signs)",
            _p95(signed) <= CHECKPOINT_TARGET_MS,
            "tree",
        )
    )
    with_tree, without = _append_overhead()
    results.append(
        _row(
            "one audit event appended: the tree's share (not a target)",
            f"{(with_tree / without - 1) * 100:+.0f} % ({with_tree:.2f} ms "
            f"vs {without:.2f} ms per event)",
            None,
            "tree",
        )
    )
    return results


def run(
    rows: int | None = None,
    *,
    tree_only: bool = False,
    explorer_only: bool = False,
    skip_explorer: bool = False,
    proof_leaves: int = PROOF_LEAVES,
) -> list[dict[str, Any]]:
    rows = rows or DEFAULT_ROWS * scale()
    base_url = postgres_url()
    if not base_url:
        return [_row("PostgreSQL", "skipped: set DATABASE_URL to a PostgreSQL server", None)]
    parts = urlsplit(base_url)
    base_name = parts.path.lstrip("/") or "clearance"
    scratch_name = f"{base_name}_auditbench_{os.getpid()}"
    scratch_url = urlunsplit(parts._replace(path=f"/{scratch_name}"))
    _admin_execute(base_url, f'CREATE DATABASE "{scratch_name}"')
    try:
        _setup_django(scratch_url, scratch_name)
        from django.core.management import call_command

        call_command("migrate", verbosity=0, interactive=False)
        user = _reference_data()
        load_s = _fill(rows)
        load_average = ", ".join(f"{value:.1f}" for value in os.getloadavg())
        results = [
            {
                **_row(
                    "benchmark data, scratch database",
                    f"{rows:,} events loaded in {load_s:.1f} s (load avg {load_average})",
                    None,
                    "load",
                ),
                "context": True,
            }
        ]
        if not tree_only:
            results.extend(
                _measure(rows, user, export=not explorer_only, with_explorer=not skip_explorer)
            )
        if explorer_only:
            return results
        results.extend(_transparency())
        if proof_leaves:
            results.append(_synthetic_proofs(proof_leaves))
        return results
    finally:
        from django.db import connections

        connections.close_all()
        _admin_execute(base_url, f'DROP DATABASE IF EXISTS "{scratch_name}" WITH (FORCE)')


def main() -> int:
    parser = command_line(__doc__)
    parser.add_argument("--rows", type=int, help="audit events to load (1,000,000 x K)")
    parser.add_argument("--tree-only", action="store_true", help="only the transparency log's rows")
    parser.add_argument(
        "--explorer-only",
        action="store_true",
        help="only the explorer's pages (no export, no tree)",
    )
    parser.add_argument(
        "--skip-explorer",
        action="store_true",
        help="the export and the tree without the explorer's pages",
    )
    parser.add_argument(
        "--proof-leaves",
        type=int,
        default=PROOF_LEAVES,
        help="time proofs in a stand-in tree of this many leaves (0: skip)",
    )
    args = parse(parser)
    started = time.perf_counter()
    rows = run(
        args.rows,
        tree_only=args.tree_only,
        explorer_only=args.explorer_only,
        skip_explorer=args.skip_explorer,
        proof_leaves=args.proof_leaves,
    )
    for row in rows:
        ok = {True: "yes", False: "NO", None: "-"}[row["ok"]]
        print(f"{row['area']:<34} {row['target']:<40} {row['measured']:<48} {ok}")
    print(f"total {time.perf_counter() - started:.1f} s", file=sys.stderr)
    return 0 if all(row["ok"] is not False for row in rows) else 1


if __name__ == "__main__":
    sys.exit(main())
