"""Web load benchmark (docs/benchmarks.md: "web pages" and "introspection"), on PostgreSQL.

In a scratch database of its own: 2,000 organisations with 100,000 people, 100,000 grants,
100,000 credentials and 100,000 applications (a fifth of them open, in the review queue),
written with set-based SQL. The portal runs under gunicorn with production settings
(``DEBUG=0``, collected static files) on loopback, and Debian's ``wrk`` drives it:

* the reviewer queue, signed in as a reviewer with a TOTP device (staff need MFA);
* the partner dashboard (the organisation page) and the partner's API keys page with each
  key's sync status, signed in as a partner admin;
* ``POST /oauth/introspect`` as a gateway with a live key.

Each page and introspection is driven by closed-loop connections (each sends its next request
when the last is answered) at 2 (latency without queueing) and at 32 and 128
(``BENCH_WEB_CONNECTIONS``), against gunicorn started with the web container's own
``gunicorn.conf.py`` (``gthread`` workers, twice the cores with two threads each,
keep-alive). Sessions are made in the database by Django's own ``login`` (the cookie a
browser would get after signing in); p50/p95/p99 come from wrk's latency histogram. The verdicts:

* at the lowest level (2): p95 ≤ 150 ms for a page, p99 ≤ 10 ms for introspection, no errors;
* at 32 and 128 connections the latency is not a verdict. With W workers busy, a closed loop of
  C > W connections queues in front of them, and Little's law fixes the mean latency at
  C ÷ throughput whatever the code does (32 connections at 250 req/s: 128 ms; 128: 512 ms).
  What such a level can show is whether the server holds up: the row passes when no request
  failed or timed out (wrk's 10 s timeout) and the throughput is at least 0.8x that of the
  lowest level (it did not collapse under concurrency). Its p50/p95/p99, throughput and
  Little's-law latency are reported beside the verdict. Each run starts on a drained server:
  the bench waits out what the run before it and its own 2-second warm-up left queued
  (``_drain``), which the measured run would otherwise serve without counting;
* introspection's target is a statement at an offered rate, "p99 ≤ 10 ms at ≥ 1,000 req/s":
  it is also driven open-loop, paced at ``BENCH_WEB_RATE`` (default 1,050) requests a second
  over 32 connections (a schedule per wrk thread, each request sent at its slot through wrk's
  ``delay()``), and passes when p99 ≤ 10 ms, nothing failed and the achieved rate, reported
  next to p99, is ≥ 1,000 req/s. wrk times a request from when it is sent, so a server that
  falls behind the schedule shows as a lower achieved rate rather than in the percentiles.

It also checks that a revoked key reads inactive on the first request after its revocation
commits.

Run: ``DATABASE_URL=postgres://postgres@127.0.0.1:5432/postgres python -m bench.web``.
``BENCH_WEB_SECONDS`` sets each load run's length (default 10), ``BENCH_WEB_ROWS`` the size.
``--scale K`` (or ``BENCH_SCALE``) builds K times the rows over K times the organisations:
at 10, 1,000,000 of each over 20,000 organisations (the 10x target of the pages).
``--only introspection`` runs the introspection rows alone (no page is loaded), with a row
of the CPU time one introspection costs in gunicorn's workers, in PostgreSQL and in wrk (from
``/proc``, so it holds on a loaded machine where the rates do not).
Needs ``wrk`` (``apt-get install wrk``); without it or without PostgreSQL it reports a skip.
"""

from __future__ import annotations

import base64
import json
import os
import secrets
import shutil
import signal
import socket
import subprocess
import sys
import tempfile
import time
import urllib.error
import urllib.parse
import urllib.request
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path

from bench._common import (
    command_line,
    parse,
    postgres_url,
    print_rows,
    result_row,
    scale,
    scratch_database,
)
from bench._seed import insert_organisation_admins, insert_organisations, insert_people

AREA = "web"
ROWS = int(os.environ.get("BENCH_WEB_ROWS", "100000"))
ORGANISATIONS = 2_000
SECONDS = int(os.environ.get("BENCH_WEB_SECONDS", "10"))
# Concurrent wrk connections: 2 is latency without queueing (one request per core at a time);
# 32 and 128 are production-like concurrency, where queueing in front of the workers counts.
CONNECTION_LEVELS = tuple(
    int(n) for n in os.environ.get("BENCH_WEB_CONNECTIONS", "2,32,128").split(",") if n.strip()
)
# A level above the lowest passes when its throughput is at least this share of the lowest's.
HOLDS_UP = 0.8
# Introspection's open-loop run: the offered rate (a little above the 1,000 req/s of the
# target, which the achieved rate must reach) and the connections it is spread over.
RATE = int(os.environ.get("BENCH_WEB_RATE", "1050"))
RATE_TARGET = 1000
PACED_CONNECTIONS = 32
STARTUP_SECONDS = 180
# Probes of the server's queues between runs (``_drain``): twelve per core, six per worker.
DRAIN_PROBES = 12 * (os.cpu_count() or 1)
ROOT = Path(__file__).resolve().parent.parent

# Prints the percentiles (µs) and the error counts as one JSON line at the end of a run.
WRK_REPORT = """
done = function(summary, latency, requests)
  local errors = summary.errors
  io.write(string.format(
    'WRK-RESULT {"requests": %d, "seconds": %.3f, "p50": %d, "p95": %d, "p99": %d, '
    .. '"max": %d, "status_errors": %d, "socket_errors": %d}\\n',
    summary.requests, summary.duration / 1e6, latency:percentile(50),
    latency:percentile(95), latency:percentile(99), latency.max, errors.status,
    errors.connect + errors.read + errors.write + errors.timeout))
end
"""


# Paces each wrk thread's requests at a fixed rate: request k of a thread is sent at its
# start + k / rate (monotonic clock through LuaJIT's FFI); a thread behind its schedule
# sends at once. Prepended to WRK_REPORT with RATE_PER_THREAD set.
WRK_PACE = """
local ffi = require("ffi")
ffi.cdef[[
typedef struct { long tv_sec; long tv_nsec; } bench_timespec;
int clock_gettime(int clock, bench_timespec *now);
]]
local clock = ffi.new("bench_timespec")
local function now_ms()
  ffi.C.clock_gettime(1, clock)  -- CLOCK_MONOTONIC
  return tonumber(clock.tv_sec) * 1000 + tonumber(clock.tv_nsec) / 1e6
end
local interval = 1000 / RATE_PER_THREAD
local next_at = nil
function delay()
  local now = now_ms()
  local at = next_at or now
  next_at = at + interval
  if at <= now then return 0 end
  return math.floor(at - now + 0.5)
end
"""


def _row(target: str, measured: str, ok: bool | None, **extra: object) -> dict:
    """``extra``: a ratio's ``value`` and ``limit`` where the target's words name none."""
    return {**result_row(AREA, target, measured, ok), **extra}


# -- data ------------------------------------------------------------------------------------


def _seed(rows: int, organisations: int) -> None:
    """Everything the pages read, at ``rows`` grants, credentials and applications (SQL)."""
    from django.db import connection
    from django.utils import timezone

    now = timezone.now()
    per_org = max(1, rows // organisations)
    with connection.cursor() as cursor:
        cursor.execute(
            "INSERT INTO catalog_coveredmodel (slug, name, capability_tier, four_eyes, created_at) "
            "VALUES ('mythos-5', 'Mythos 5', 1, false, %s), ('aegis-2', 'Aegis 2', 2, true, %s)",
            [now, now],
        )
        cursor.execute(
            "INSERT INTO catalog_stage (covered_model_id, name, position, seats, "
            "rate_limit_per_minute, monthly_quota, max_duration_days) "
            "SELECT id, 'full', 1, 1000, 60, 100000, 365 FROM catalog_coveredmodel"
        )
        insert_organisations(cursor, now, organisations)
        # One admin per organisation; they created its applications.
        insert_organisation_admins(cursor, now)
        # What membership_add grants an admin, per organisation (django-guardian rows).
        cursor.execute(
            "INSERT INTO guardian_userobjectpermission (object_pk, content_type_id, "
            "permission_id, user_id) SELECT m.organisation_id::text, p.content_type_id, p.id, "
            "m.user_id FROM partners_membership m JOIN auth_permission p ON p.codename IN "
            "('view_organisation', 'change_organisation', 'manage_members') "
            "JOIN django_content_type t ON t.id = p.content_type_id "
            "AND t.app_label = 'partners' AND t.model = 'organisation'"
        )
        insert_people(cursor, now, per_org)
        # Grants alternate between the two models; person k of an organisation holds the key
        # of its grant k (both inserted in organisation order, so row numbers pair them).
        cursor.execute(
            "INSERT INTO grants_grant (organisation_id, covered_model_id, stage_id, seats, "
            "monthly_quota, rate_limit_per_minute, expires_at, state, created_at, updated_at) "
            "SELECT o.id, s.covered_model_id, s.id, 1000, 100000, 60, %s, "
            "CASE WHEN k %% 10 = 0 THEN 'suspended' ELSE 'active' END, %s, %s "
            "FROM partners_organisation o, generate_series(1, %s) k, catalog_stage s "
            "WHERE s.position = 1 AND s.covered_model_id = "
            "(SELECT min(id) + k %% 2 FROM catalog_coveredmodel) ORDER BY o.id, k",
            [now + timezone.timedelta(days=300), now, now, per_org],
        )
        cursor.execute(
            "INSERT INTO credentials_credential (person_id, grant_id, state, held, version, "
            "key_prefix, key_hash, previous_key_hash, created_at, updated_at) "
            "SELECT p.id, g.id, CASE g.state WHEN 'active' THEN 'active' ELSE 'suspended' END, "
            "false, 1, 'k' || p.id, md5(p.id::text), '', %s, %s "
            "FROM (SELECT id, row_number() OVER (ORDER BY id) n FROM eligibility_person) p "
            "JOIN (SELECT id, state, row_number() OVER (ORDER BY id) n FROM grants_grant) g "
            "USING (n)",
            [now, now],
        )
        # Applications: a fifth open (submitted, in review, information requested), the rest
        # decided or withdrawn; one nominee each.
        cursor.execute(
            "INSERT INTO applications_application (state, use_case, attests_end_use, "
            "attests_no_transfer, attests_accuracy, created_at, updated_at, submitted_at, "
            "closed_at, covered_model_id, created_by_id, organisation_id, stage_id) "
            "SELECT st, 'Defending critical infrastructure', true, true, true, "
            "t - interval '1 day', t, t, CASE WHEN st IN ('approved', 'rejected', 'withdrawn') "
            "THEN t + interval '2 days' END, s.covered_model_id, u.id, o.id, s.id "
            "FROM partners_organisation o "
            "JOIN accounts_user u ON u.username = 'admin-' || o.slug, "
            "generate_series(1, %s) k, "
            "LATERAL (SELECT (ARRAY['submitted', 'in_review', 'approved', 'approved', "
            "'approved', 'approved', 'rejected', 'approved', 'withdrawn', 'info_requested'])"
            "[1 + k %% 10] AS st, %s::timestamptz - (k * 37 + o.id) * interval '1 minute' AS t) x, "
            "catalog_stage s WHERE s.position = 1 AND s.covered_model_id = "
            "(SELECT min(id) + k %% 2 FROM catalog_coveredmodel) ORDER BY o.id, k",
            [per_org, now],
        )
        cursor.execute(
            "INSERT INTO applications_application_nominees (application_id, person_id) "
            "SELECT a.id, p.id "
            "FROM (SELECT id, row_number() OVER (ORDER BY id) n FROM applications_application) a "
            "JOIN (SELECT id, row_number() OVER (ORDER BY id) n FROM eligibility_person) p "
            "USING (n)"
        )
        # As autovacuum leaves a table in service: statistics, and the visibility map that
        # lets a count read an index alone.
        cursor.execute("VACUUM ANALYZE")


@dataclass(frozen=True)
class World:
    reviewer_cookie: str
    partner_cookie: str
    gateway_auth: str
    live_key: str
    revocable_key: str
    revocable_id: int


def _session_cookie(user: object) -> str:
    """The session cookie a browser holds after signing in (Django's own login)."""
    from django.conf import settings
    from django.contrib.auth import login
    from django.http import HttpRequest

    request = HttpRequest()
    engine = __import__(settings.SESSION_ENGINE, fromlist=["SessionStore"])
    request.session = engine.SessionStore()
    login(request, user, backend="django.contrib.auth.backends.ModelBackend")
    request.session.save()
    return f"{settings.SESSION_COOKIE_NAME}={request.session.session_key}"


def _world() -> World:
    from allauth.mfa.totp.internal.auth import TOTP, generate_totp_secret
    from django.contrib.auth.models import Group

    from portal.accounts.models import User
    from portal.accounts.roles import Role
    from portal.eligibility.models import Person
    from provisioning.credentials.services import credential_issue
    from provisioning.grants.models import Grant
    from provisioning.introspection.services import gateway_client_create

    reviewer = User.objects.create(
        username="bench-reviewer", email="reviewer@lab.example", is_staff=True
    )
    reviewer.groups.add(Group.objects.get(name=Role.REVIEWER))
    TOTP.activate(reviewer, generate_totp_secret())
    partner = User.objects.get(username="admin-org-1")
    grant = Grant.objects.filter(organisation__slug="org-1", state="active").first()
    assert grant is not None
    keys = []
    for name in ("Gateway Tester", "Revoked Tester"):
        person = Person.objects.create(
            organisation=grant.organisation,
            legal_name=name,
            citizenships=["US"],
            residence_country="US",
            us_person_status="citizen",
            screening_state="clear",
        )
        keys.append(credential_issue(actor=None, grant=grant, person=person))
    gateway = gateway_client_create(actor=None, name="bench gateway")
    auth = base64.b64encode(f"{gateway.client.client_id}:{gateway.client_secret}".encode()).decode()
    return World(
        reviewer_cookie=_session_cookie(reviewer),
        partner_cookie=_session_cookie(partner),
        gateway_auth=f"Basic {auth}",
        live_key=keys[0].key,
        revocable_key=keys[1].key,
        revocable_id=keys[1].credential.pk,
    )


# -- the server --------------------------------------------------------------------------------


def _free_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return int(probe.getsockname()[1])


def _production_environment(static_root: str) -> dict[str, str]:
    return {
        **os.environ,
        "DEBUG": "0",
        "ALLOWED_HOSTS": "127.0.0.1",
        # Loopback plain HTTP: no TLS redirect (a proxy terminates TLS in production).
        "SECURE_SSL_REDIRECT": "0",
        "STATIC_ROOT": static_root,
        "PYTHONUNBUFFERED": "1",
    }


@dataclass
class Gunicorn:
    port: int
    process: subprocess.Popen[bytes]
    log: Path

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self.port}"

    def stop(self) -> None:
        self.process.send_signal(signal.SIGTERM)
        try:
            self.process.wait(timeout=20)
        except subprocess.TimeoutExpired:
            self.process.kill()
            self.process.wait()


def _start_gunicorn(workdir: Path) -> Gunicorn:
    static_root = str(workdir / "static")
    env = _production_environment(static_root)
    subprocess.run(
        [sys.executable, "manage.py", "collectstatic", "--no-input", "-v", "0"],
        cwd=ROOT,
        env=env,
        check=True,
    )
    port = _free_port()
    log = workdir / "gunicorn.log"
    process = subprocess.Popen(
        [
            sys.executable,
            "-m",
            "gunicorn",
            "portal.wsgi:application",
            # The web container's settings (workers, threads, keep-alive, the redacted access
            # log), so the benchmark measures the serving model that ships; only the address
            # is the bench's own.
            "--config",
            "gunicorn.conf.py",
            "--bind",
            f"127.0.0.1:{port}",
        ],
        cwd=ROOT,
        env=env,
        stdout=log.open("w"),
        stderr=subprocess.STDOUT,
    )
    server = Gunicorn(port, process, log)
    # Workers importing Django on a busy 2-core machine can take over a minute.
    deadline = time.monotonic() + STARTUP_SECONDS
    while time.monotonic() < deadline:
        if process.poll() is not None:
            raise RuntimeError(f"gunicorn exited: {log.read_text()[-500:]}")
        try:
            with urllib.request.urlopen(f"{server.url}/healthz", timeout=2) as answer:  # noqa: S310
                if answer.status == 200:
                    return server
        except OSError:
            time.sleep(0.2)
    server.stop()
    raise RuntimeError(f"gunicorn did not answer /healthz within {STARTUP_SECONDS} s")


# -- load --------------------------------------------------------------------------------------


class _NoRedirect(urllib.request.HTTPRedirectHandler):
    def redirect_request(self, *args: object, **kwargs: object) -> None:
        return None


def _fetch(
    url: str, *, headers: dict[str, str], body: bytes | None = None, timeout: float = 30
) -> tuple[int, str]:
    opener = urllib.request.build_opener(_NoRedirect)
    request = urllib.request.Request(url, data=body, headers=headers)  # noqa: S310
    try:
        with opener.open(request, timeout=timeout) as answer:
            return answer.status, answer.read().decode()
    except urllib.error.HTTPError as error:
        return error.code, error.read().decode(errors="replace")


@dataclass(frozen=True)
class Load:
    requests: int
    seconds: float
    p50: float  # ms
    p95: float
    p99: float
    errors: int

    @property
    def rate(self) -> float:
        return self.requests / self.seconds if self.seconds else 0.0

    def describe(self) -> str:
        return (
            f"p50 {self.p50:.1f} / p95 {self.p95:.1f} / p99 {self.p99:.1f} ms, "
            f"{self.rate:.0f} req/s"
        )


def _drain(url: str) -> None:
    """Wait until the server has answered what an earlier run left in its queue.

    wrk gives up on a request after its timeout, and closes its connections at the end of a
    run with a request outstanding on each; but a worker still serves every request the
    kernel accepted for it: after 128 connections on a slow page that backlog can take
    minutes, and the next run would measure it. Each worker serves what it accepted in
    arrival order, so once a new request is answered, those its worker took before it have
    been served. With ``gthread`` workers a connection is accepted by one process and kept
    there, so another process may still be working off its share of a backlog when one probe
    is answered. Each probe is a new connection, taken by whichever worker accepts first, so
    ``DRAIN_PROBES`` of them in turn pass through every worker's queue but for a small chance
    (four workers, 24 probes: about 0.4 % that one was missed).

    Called before each run's warm-up and again between the warm-up and the measured run.
    Before the second call was there, the measured run began with the warm-up's closed-loop
    queue (one request per connection, in the listen socket's accept queue) and spent its
    first C ÷ throughput seconds serving requests nobody counted: at 128 connections on a
    page served at 32 req/s, 4 of its 10 s, which read as the "0.65x" fall of the queue and
    keys pages from 32 to 128 connections (a measurement, not the server).
    """
    parts = urllib.parse.urlsplit(url)
    for _ in range(DRAIN_PROBES):
        _fetch(f"{parts.scheme}://{parts.netloc}/healthz", headers={}, timeout=10 * STARTUP_SECONDS)


def _wrk(
    url: str,
    *,
    headers: dict[str, str],
    seconds: int,
    connections: int,
    body: str | None = None,
    rate: int | None = None,
    warm_up: bool = True,
) -> Load:
    """One wrk run against ``url``; a short warm-up first so caches and connections are hot,
    and the server drained of what the warm-up left queued before the measured run starts.

    Closed loop by default; with ``rate``, requests are paced at ``rate`` a second in all."""
    _drain(url)
    threads = min(2, connections)
    script = WRK_REPORT
    if rate is not None:
        script = f"RATE_PER_THREAD = {rate / threads}\n" + WRK_PACE + script
    if body is not None:
        script = f"wrk.method = 'POST'\nwrk.body = {json.dumps(body)}\n" + script
    with tempfile.NamedTemporaryFile("w", suffix=".lua", delete=False) as handle:
        handle.write(script)
    try:
        command = ["wrk", f"-t{threads}", f"-c{connections}", "-s", handle.name, "--timeout", "10s"]
        for name, value in headers.items():
            command += ["-H", f"{name}: {value}"]
        if warm_up:
            subprocess.run([*command, "-d2s", url], capture_output=True, check=True)
            # The warm-up's last requests are still queued when wrk closes its connections:
            # served inside the measured run, they would be counted as its lost throughput.
            _drain(url)
        output = subprocess.run(
            [*command, f"-d{seconds}s", url], capture_output=True, text=True, check=True
        ).stdout
    finally:
        os.unlink(handle.name)
    line = next(ln for ln in output.splitlines() if ln.startswith("WRK-RESULT "))
    result = json.loads(line.removeprefix("WRK-RESULT "))
    return Load(
        requests=result["requests"],
        seconds=result["seconds"],
        p50=result["p50"] / 1000,
        p95=result["p95"] / 1000,
        p99=result["p99"] / 1000,
        errors=result["status_errors"] + result["socket_errors"],
    )


def _described(load: Load) -> str:
    return load.describe() + (f", {load.errors} errors" if load.errors else "")


def _level_rows(
    label: str, loads: list[tuple[int, Load]], *, statistic: str, limit: float
) -> list[dict]:
    """One row per connection level: the lowest judged on latency (``statistic`` ≤ ``limit``
    ms), the others on holding up (no errors, throughput ≥ HOLDS_UP x the lowest's)."""
    rows = []
    baseline = loads[0][1].rate if loads else 0.0
    for index, (connections, load) in enumerate(loads):
        if index == 0:
            target = f"{label}, {connections} connections: {statistic} ≤ {limit:g} ms"
            if not load.requests:
                rows.append(_row(target, f"failed: no answer in {SECONDS} s", False))
                continue
            ok = getattr(load, statistic) <= limit and load.errors == 0
            rows.append(_row(target, _described(load), ok))
            continue
        target = (
            f"{label}, {connections} connections: no errors, throughput "
            f"≥ {HOLDS_UP:g}x the {loads[0][0]}-connection run"
        )
        if not load.requests:
            rows.append(_row(target, f"failed: no answer in {SECONDS} s", False))
            continue
        share = load.rate / baseline if baseline else 0.0
        little = connections / load.rate * 1000 if load.rate else 0.0
        measured = f"{_described(load)} ({share:.2f}x), Little's law {little:.0f} ms"
        ok = load.errors == 0 and share >= HOLDS_UP
        rows.append(_row(target, measured, ok, value=round(share, 3), limit=HOLDS_UP))
    return rows


def _page_rows(server: Gunicorn, *, label: str, path: str, cookie: str, marker: str) -> list[dict]:
    headers = {"Cookie": cookie}
    # A worker's first page (imports, templates, a cold cache) can take long on a busy
    # machine; it is not measured, only checked.
    try:
        status, text = _fetch(server.url + path, headers=headers, timeout=STARTUP_SECONDS)
    except OSError as error:
        return [_row(f"{label} p95 ≤ 150 ms", f"failed: {error} on {path}", False)]
    if status != 200 or marker not in text:
        return [_row(f"{label} p95 ≤ 150 ms", f"failed: HTTP {status} on {path}", False)]
    loads = [
        (c, _wrk(server.url + path, headers=headers, seconds=SECONDS, connections=c))
        for c in CONNECTION_LEVELS
    ]
    return _level_rows(label, loads, statistic="p95", limit=150)


def _measure(rows: int, organisations: int, *, pages: bool = True) -> list[dict]:
    from django.core.management import call_command

    started = time.perf_counter()
    call_command("migrate", verbosity=0)
    migrated = time.perf_counter() - started
    _seed(rows, organisations)
    world = _world()
    seeded = time.perf_counter() - started - migrated
    results = [
        {
            **_row(
                f"scratch data: {rows:,} grants, credentials, applications "
                f"over {organisations:,} organisations",
                f"migrate {migrated:.0f} s, seed {seeded:.0f} s",
                None,
            ),
            "context": True,
        }
    ]
    with tempfile.TemporaryDirectory(prefix="bench-web-") as folder:
        server = _start_gunicorn(Path(folder))
        try:
            results += _load(server, world, rows, pages=pages)
        finally:
            server.stop()
    return results


def _load(server: Gunicorn, world: World, rows: int, *, pages: bool = True) -> list[dict]:
    from provisioning.credentials.models import Credential
    from provisioning.credentials.services import credential_revoke

    results = []
    for label, path, cookie, marker in (
        (f"reviewer queue ({rows:,} applications)", "/reviews/", world.reviewer_cookie, "<h1"),
        ("partner dashboard (organisation page)", "/organisation/", world.partner_cookie, "<h1"),
        (
            "partner API keys with sync status",
            "/provisioning/keys/",
            world.partner_cookie,
            "<h1",
        ),
    ):
        if pages:  # --only introspection leaves them out
            results += _page_rows(server, label=label, path=path, cookie=cookie, marker=marker)

    introspect = server.url + "/oauth/introspect"
    headers = {
        "Authorization": world.gateway_auth,
        "Content-Type": "application/x-www-form-urlencoded",
    }
    body = urllib.parse.urlencode({"token": world.live_key})
    status, text = _fetch(introspect, headers=headers, body=body.encode())
    if status != 200 or json.loads(text).get("active") is not True:
        results.append(_row("introspection p99 ≤ 10 ms", f"failed: HTTP {status}", False))
    else:
        paced = _wrk(
            introspect,
            headers=headers,
            seconds=SECONDS,
            connections=PACED_CONNECTIONS,
            body=body,
            rate=RATE,
        )
        results.append(
            _row(
                f"introspection at {RATE:,} req/s offered ({PACED_CONNECTIONS} connections, "
                f"paced): p99 ≤ 10 ms at ≥ {RATE_TARGET:,} req/s",
                _described(paced) if paced.requests else f"failed: no answer in {SECONDS} s",
                bool(paced.requests)
                and paced.p99 <= 10
                and paced.rate >= RATE_TARGET
                and paced.errors == 0,
            )
        )
        loads = [
            (
                connections,
                _wrk(
                    introspect,
                    headers=headers,
                    seconds=SECONDS,
                    connections=connections,
                    body=body,
                ),
            )
            for connections in CONNECTION_LEVELS
        ]
        results += _level_rows("introspection, closed loop", loads, statistic="p99", limit=10)
        results.append(_cpu_row(server, introspect, headers=headers, body=body))

    # Invariant 1 through the running server: revoked, then asked once, at once.
    revoked_body = urllib.parse.urlencode({"token": world.revocable_key}).encode()
    before = json.loads(_fetch(introspect, headers=headers, body=revoked_body)[1]).get("active")
    credential_revoke(actor=None, credential=Credential.objects.get(pk=world.revocable_id))
    after = json.loads(_fetch(introspect, headers=headers, body=revoked_body)[1]).get("active")
    results.append(
        _row(
            "revoked key inactive on the first request after commit",
            f"active before: {before}, first request after: {after}",
            before is True and after is False,
        )
    )
    return results


def _process_cpu(pid: int) -> float:
    """CPU seconds (user + system) ``pid`` has used so far; 0 when it is gone."""
    try:
        with open(f"/proc/{pid}/stat") as stat:
            fields = stat.read().rsplit(")", 1)[1].split()
    except OSError:
        return 0.0
    return (int(fields[11]) + int(fields[12])) / os.sysconf("SC_CLK_TCK")


def _server_pids(server: Gunicorn) -> tuple[list[int], list[int]]:
    """gunicorn's master and workers, and the PostgreSQL backends of this database."""
    from django.db import connection

    workers = [server.process.pid]
    for entry in os.listdir("/proc"):
        if entry.isdigit():
            try:
                with open(f"/proc/{entry}/stat") as stat:
                    parent = int(stat.read().rsplit(")", 1)[1].split()[1])
            except OSError:
                continue
            if parent == server.process.pid:
                workers.append(int(entry))
    with connection.cursor() as cursor:
        cursor.execute(
            "SELECT pid FROM pg_stat_activity WHERE datname = current_database() "
            "AND pid <> pg_backend_pid()"
        )
        backends = [pid for (pid,) in cursor.fetchall()]
    return workers, backends


def _cpu_row(server: Gunicorn, url: str, *, headers: dict[str, str], body: str) -> dict:
    """The CPU one introspection costs, per process kind, over a closed-loop run at the
    lowest connection level: load-independent where the rates and latencies are not."""
    if not os.path.isdir("/proc"):
        return _row("introspection CPU per request", "skipped: no /proc", None)
    import resource

    connections = CONNECTION_LEVELS[0]
    # Warm (every worker has its connection and prepared statement) since the runs before.
    workers, backends = _server_pids(server)
    before = {pid: _process_cpu(pid) for pid in (*workers, *backends)}
    children = resource.getrusage(resource.RUSAGE_CHILDREN)
    load = _wrk(
        url, headers=headers, seconds=SECONDS, connections=connections, body=body, warm_up=False
    )
    after = resource.getrusage(resource.RUSAGE_CHILDREN)
    wrk_cpu = after.ru_utime + after.ru_stime - children.ru_utime - children.ru_stime
    workers_after, backends_after = _server_pids(server)
    spent = _cpu_since(before)
    gunicorn_cpu, gunicorn_gone = spent({*workers, *workers_after})
    postgres_cpu, postgres_gone = spent({*backends, *backends_after})
    n = max(load.requests, 1)
    total = gunicorn_cpu + postgres_cpu + wrk_cpu
    gone = gunicorn_gone + postgres_gone
    return _row(
        f"introspection CPU per request ({connections} connections, closed loop)",
        f"{total / n * 1e6:.0f} µs: gunicorn {gunicorn_cpu / n * 1e6:.0f}, "
        f"PostgreSQL {postgres_cpu / n * 1e6:.0f}, wrk {wrk_cpu / n * 1e6:.0f}"
        + (f" ({gone} processes ended during the run, not counted)" if gone else ""),
        None,
    )


def _cpu_since(before: dict[int, float]) -> Callable[[set[int]], tuple[float, int]]:
    """A function of a set of pids: the CPU seconds they used since ``before`` and how many
    of them ended meanwhile. A process that ended is left out (what it used is gone with it),
    never counted as a negative; one that started meanwhile counts from nothing."""

    def spent(pids: set[int]) -> tuple[float, int]:
        total, gone = 0.0, 0
        for pid in pids:
            if not os.path.exists(f"/proc/{pid}"):
                gone += 1
                continue
            total += max(_process_cpu(pid) - before.get(pid, 0.0), 0.0)
        return total, gone

    return spent


def run(rows: int | None = None, *, only: str = "") -> list[dict]:
    url = postgres_url()
    if not url:
        return [_row("web pages under load", "skipped: DATABASE_URL is not PostgreSQL", None)]
    if shutil.which("wrk") is None:
        return [_row("web pages under load", "skipped: wrk is not installed", None)]
    # gunicorn must read the sessions this process signs: one key for both.
    os.environ.setdefault("SECRET_KEY", secrets.token_urlsafe(60))
    k = scale()
    with scratch_database(url, "web"):
        return _measure(rows or ROWS * k, ORGANISATIONS * k, pages=only != "introspection")


if __name__ == "__main__":
    parser = command_line(__doc__, size="grants, keys and applications (BENCH_WEB_ROWS x K)")
    parser.add_argument(
        "--only", choices=["introspection"], default="", help="only the introspection rows"
    )
    arguments = parse(parser)
    print_rows(run(arguments.size, only=arguments.only), measured_width=50)
