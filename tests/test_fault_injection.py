"""Fault injection: thousands of access changes while everything that can fail, fails.

Real services write grants, suspensions, restores, revocations and rotations, one by one and
in bulk. Real Celery workers relay them to a real SCIM directory (scim2-server behind a
recording proxy) and to a Standard Webhooks receiver. Meanwhile the workers are SIGKILLed and
restarted, the Redis broker is restarted (a redis-server of this test's own, never a shared
one) and both targets fail a fifth of their requests (5xx, 429) or, a few times, hang until
the client times out. Then the faults stop, the deliveries drain, and every target must hold
exactly the desired state of every credential (DESIGN.md §7, "faults"). The counts are printed
whether or not pytest captures output.

Three workers relay at once, sharing the targets through leases; one of them, chosen at random,
is killed after every run, and no target may ever accept a state older than one it already holds.
"""

from __future__ import annotations

import base64
import json
import os
import random
import shutil
import signal
import socket
import subprocess
import threading
import time
import uuid
from collections import Counter
from collections.abc import Callable, Iterator
from contextlib import ExitStack, contextmanager
from dataclasses import dataclass, field
from io import StringIO
from urllib.parse import urlsplit

import pytest
from django.core.management import call_command
from django.db import connection
from standardwebhooks import Webhook

from portal.celery import app as celery_app
from portal.partners.models import Organisation
from provisioning.bulk.models import BulkActionError, BulkKind
from provisioning.bulk.services import bulk_approve, bulk_execute, bulk_plan
from provisioning.connectors.base import TargetConfig
from provisioning.connectors.scim import ENTERPRISE_SCHEMA, ScimConnector, expected_groups
from provisioning.credentials.models import Credential, CredentialError, CredentialState
from provisioning.credentials.services import credential_revoke, credential_rotate
from provisioning.deliveries.models import Change, Failure, FailureState, Target
from provisioning.deliveries.relay import desired_states, read_changes
from provisioning.deliveries.services import target_create
from provisioning.deliveries.tasks import relay_target
from provisioning.grants.models import (
    LIVE_GRANT_STATES,
    Grant,
    GrantError,
    GrantState,
    GrantSuspension,
)
from provisioning.grants.services import grant_restore, grant_revoke, grant_suspend
from tests.factories import OrganisationFactory, PersonFactory, StageFactory, staff_user
from tests.provisioning_fakes import active_grant, issue
from tests.servers import (
    SCIM_TOKEN,
    Fault,
    RecordedRequest,
    RecordingServer,
    free_port,
    new_tenant_url,
)
from tests.workers import celery_worker, wait_for, worker_pids

pytest_plugins = ["tests.servers"]
pytestmark = [pytest.mark.worker, pytest.mark.django_db(transaction=True)]

OPERATIONS = int(os.environ.get("FAULT_OPERATIONS", "2000"))  # effective changes
SEED = int(os.environ.get("FAULT_SEED", "20261127"))
WORKER_RUNS = 5  # a worker is killed at the end of every run but the last
WORKERS = 3  # relaying to the same targets at once, sharing them through leases
BROKER_RESTART_RUNS = (1, 3)  # Redis is restarted halfway through these runs
FAILURE_RATE = 0.2
HANGS_PER_TARGET = 2  # each costs the connector's 10 s timeout
ORGANISATIONS = 4
GRANTS_PER_ORGANISATION = 5
KEYS_PER_GRANT = 6
REFERENCES = ("inc-1", "inc-2", "inc-3")
SUSPENSION_KINDS = ("ops", "compliance", "regulatory")

# Retries come quickly and a killed worker's lease runs out soon, so the run stays short.
WORKER_ENVIRONMENT = {
    "DELIVERY_LEASE_SECONDS": "12",
    "DELIVERY_BACKOFF_BASE_SECONDS": "1",
    "DELIVERY_BACKOFF_MAX_SECONDS": "2",
    "DELIVERY_MAX_ATTEMPTS": "1000",
    "DELIVERY_BATCH_SIZE": "200",
}


# -- faulty targets ----------------------------------------------------------------------------


@dataclass
class FlakyServer(RecordingServer):
    """Fails about ``rate`` of all requests at random: an error status, or (rarely) no answer."""

    rate: float = FAILURE_RATE
    hangs_left: int = HANGS_PER_TARGET
    calm: bool = False
    rnd: random.Random = field(default_factory=lambda: random.Random(SEED))
    faulted: set[int] = field(default_factory=set)  # indexes into ``requests``
    hangs: int = 0
    # Checks each request as it arrives (a signature is only valid for a few minutes).
    check: Callable[[RecordedRequest], None] | None = None
    refused_checks: list[str] = field(default_factory=list)

    def _take_fault(self, path: str) -> Fault | None:  # called under the lock
        if self.check is not None:
            try:
                self.check(self.requests[-1])
            except Exception as exc:
                self.refused_checks.append(f"request {len(self.requests) - 1}: {exc}")
        if self.calm or self.rnd.random() >= self.rate:
            return None
        self.faulted.add(len(self.requests) - 1)
        if self.hangs_left and self.rnd.random() < 0.05:
            self.hangs_left -= 1
            self.hangs += 1
            return Fault("hang")
        status = self.rnd.choice((500, 502, 503, 429))
        return Fault("answer", status=status, body=b'{"detail": "injected failure"}')

    def answered(self) -> list[tuple[int, object]]:
        """(index, request) of the requests the target really handled."""
        with self._lock:
            return [(i, r) for i, r in enumerate(self.requests) if i not in self.faulted]


# -- a broker of our own -------------------------------------------------------------------------


class Broker:
    """A redis-server on a free loopback port, no persistence: a restart loses every message."""

    def __init__(self) -> None:
        self.port = free_port()
        self.process: subprocess.Popen[bytes] | None = None
        self.restarts = 0

    @property
    def url(self) -> str:
        return f"redis://127.0.0.1:{self.port}/0"

    def start(self) -> None:
        self.process = subprocess.Popen(
            [
                shutil.which("redis-server") or "redis-server",
                "--port",
                str(self.port),
                "--bind",
                "127.0.0.1",
                "--save",
                "",
                "--appendonly",
                "no",
            ],
            stdout=subprocess.DEVNULL,
            stderr=subprocess.DEVNULL,
        )
        deadline = time.monotonic() + 20
        while time.monotonic() < deadline:
            try:
                with socket.create_connection(("127.0.0.1", self.port), timeout=1) as probe:
                    probe.sendall(b"PING\r\n")
                    if probe.recv(16).startswith(b"+PONG"):
                        return
            except OSError:
                time.sleep(0.05)
        raise RuntimeError("redis-server did not answer within 20 s")

    def kill(self) -> None:
        if self.process is not None:
            self.process.send_signal(signal.SIGKILL)
            self.process.wait(timeout=10)
            self.process = None

    def restart(self) -> None:
        self.kill()
        time.sleep(1)
        self.start()
        self.restarts += 1


@contextmanager
def own_broker(settings, monkeypatch) -> Iterator[Broker]:
    if shutil.which("redis-server") is None:
        pytest.fail("redis-server is not installed: the fault test needs a broker of its own")
    broker = Broker()
    broker.start()
    # Celery reads the variable before its settings; tests.workers hands the setting on.
    monkeypatch.setenv("CELERY_BROKER_URL", broker.url)
    settings.CELERY_BROKER_URL = broker.url
    _drop_producer_pool()
    try:
        yield broker
    finally:
        _drop_producer_pool()
        broker.kill()


def _drop_producer_pool() -> None:
    """Pools are kept per broker URL: the next publish opens one to the broker now set."""
    celery_app._pool = None
    celery_app.amqp._producer_pool = None


class Beat(threading.Thread):
    """What celery beat does in production: wake every target's relay every couple of seconds."""

    def __init__(self, queue: str, target_ids: list[int], interval: float = 2.0) -> None:
        super().__init__(daemon=True)
        self.queue, self.target_ids, self.interval = queue, target_ids, interval
        self.stopping = threading.Event()
        self.sent = self.lost = 0

    def run(self) -> None:
        while not self.stopping.wait(self.interval):
            for target_id in self.target_ids:
                try:
                    relay_target.apply_async(args=[target_id], queue=self.queue)
                    self.sent += 1
                except Exception:  # the broker is down: the next tick tries again
                    self.lost += 1


# -- the operations ----------------------------------------------------------------------------


class Operations:
    """Random, mostly legal access changes through the real services, counted by kind."""

    def __init__(self, rnd: random.Random, grants: list[Grant], ops_users: tuple) -> None:
        self.rnd = rnd
        self.grant_ids = [g.pk for g in grants]
        self.organisations = sorted({g.organisation_id for g in grants})
        self.stage = grants[0].stage
        self.ops, self.colleague = ops_users
        self.done: Counter[str] = Counter()
        self.seconds: Counter[str] = Counter()
        self.refused: Counter[str] = Counter()
        self.bulk_references: list[tuple[int, str]] = []
        self.menu: list[tuple[str, Callable[[], None], int]] = [
            ("suspend", self.suspend, 30),
            ("restore", self.restore, 30),
            ("rotate", self.rotate, 12),
            ("revoke_key", self.revoke_key, 6),
            ("issue", self.issue, 12),
            ("grant", self.grant, 3),
            ("revoke_grant", self.revoke_grant, 1),
            ("bulk_suspend", self.bulk_suspend, 1),
            ("bulk_restore", self.bulk_restore, 1),
        ]

    def run(self, count: int) -> None:
        """``count`` effective changes; refused attempts (illegal in that state) come on top."""
        names = [name for name, _, _ in self.menu]
        actions = {name: action for name, action, _ in self.menu}
        weights = [weight for _, _, weight in self.menu]
        goal = sum(self.done.values()) + count
        for _ in range(count * 3):
            if sum(self.done.values()) >= goal:
                break
            name = self.rnd.choices(names, weights)[0]
            began = time.perf_counter()
            try:
                actions[name]()
                self.done[name] += 1
            except (GrantError, CredentialError, BulkActionError):
                self.refused[name] += 1  # illegal in the current state: refused, nothing written
            self.seconds[name] += time.perf_counter() - began

    @property
    def total(self) -> int:
        return sum(self.done.values()) + sum(self.refused.values())

    def _grant(self) -> Grant:
        return Grant.objects.get(pk=self.rnd.choice(self.grant_ids))

    def _credential(self, *states: str) -> Credential:
        ids = list(
            Credential.objects.filter(state__in=states).values_list("pk", flat=True).order_by("pk")
        )
        if not ids:
            raise CredentialError("no credential in that state")
        return Credential.objects.get(pk=self.rnd.choice(ids))

    def suspend(self) -> None:
        # A selection rather than one grant: a suspended grant takes a further reason.
        grant_suspend(
            grants=Grant.objects.filter(pk=self.rnd.choice(self.grant_ids)),
            reason=self.rnd.choice(SUSPENSION_KINDS),
            reference=self.rnd.choice(REFERENCES),
            actor=None,
        )

    def restore(self) -> None:
        reasons = list(
            GrantSuspension.objects.filter(grant__state=GrantState.SUSPENDED)
            .order_by("pk")
            .values_list("grant_id", "kind", "reference")
        )
        if not reasons:
            raise GrantError("nothing to restore")
        grant_id, kind, reference = self.rnd.choice(reasons)
        grant = Grant.objects.get(pk=grant_id)
        grant_restore(grants=grant, reason=kind, reference=reference, actor=None)

    def rotate(self) -> None:
        credential_rotate(actor=None, credential=self._credential(CredentialState.ACTIVE))

    def revoke_key(self) -> None:
        credential = self._credential(CredentialState.ACTIVE, CredentialState.SUSPENDED)
        credential_revoke(actor=None, credential=credential, reason="fault test")

    def issue(self) -> None:
        grant = self._grant()
        issue(grant, PersonFactory(organisation=grant.organisation))

    def grant(self) -> None:
        organisation_id = self.rnd.choice(self.organisations)
        organisation = Organisation.objects.get(pk=organisation_id)
        grant = active_grant(organisation=organisation, stage=self.stage)
        self.grant_ids.append(grant.pk)

    def revoke_grant(self) -> None:
        live = [pk for pk in self.grant_ids if self._is_live(pk)]
        if len(live) <= len(self.organisations) * 2:
            raise GrantError("keep enough live grants to work on")
        grant_revoke(grants=Grant.objects.get(pk=self.rnd.choice(live)), actor=None)

    @staticmethod
    def _is_live(grant_id: int) -> bool:
        return Grant.objects.filter(pk=grant_id, state__in=LIVE_GRANT_STATES).exists()

    def bulk_suspend(self) -> None:
        organisation_id = self.rnd.choice(self.organisations)
        action = bulk_plan(
            kind=BulkKind.SUSPEND,
            filters={"organisation": organisation_id},
            reason="fault test incident",
            actor=self.ops,
            emergency=True,
        )
        bulk_execute(action=action, actor=self.ops, run_now=True)
        self.bulk_references.append((organisation_id, action.reference))

    def bulk_restore(self) -> None:
        if not self.bulk_references:
            raise BulkActionError("no bulk suspension to lift")
        organisation_id, reference = self.bulk_references.pop(0)
        action = bulk_plan(
            kind=BulkKind.RESTORE,
            filters={"organisation": organisation_id},
            reason="fault test incident closed",
            actor=self.ops,
            reference=reference,
        )
        bulk_approve(action=action, actor=self.colleague)
        bulk_execute(action=action, actor=self.ops, run_now=True)


# -- what the targets hold ---------------------------------------------------------------------


def _states_sent(body: bytes) -> Iterator[tuple[int, int, dict]]:
    """(credential id, version, state) of every credential state in a SCIM or webhook body."""

    def walk(node: object) -> Iterator[dict]:
        if isinstance(node, dict):
            yield node
            for value in node.values():
                yield from walk(value)
        elif isinstance(node, list):
            for value in node:
                yield from walk(value)

    try:
        document = json.loads(body)
    except ValueError:
        return
    for node in walk(document):
        if "credential_id" in node and "version" in node:  # webhook item
            yield int(node["credential_id"]), int(node["version"]), node
        elif "externalId" in node and ENTERPRISE_SCHEMA in node:  # SCIM user
            version = node[ENTERPRISE_SCHEMA].get("employeeNumber")
            yield int(node["externalId"]), int(version), node


def _resent(server: RecordingServer) -> int:
    """States sent again with the same version: the retries the faults and kills caused."""
    sent = Counter(
        (cid, version)
        for request in server.received()
        for cid, version, _ in _states_sent(request.body)
    )
    return sum(count - 1 for count in sent.values())


def _regressions(server: FlakyServer) -> list[str]:
    """States a target accepted after it had accepted a newer version of the same credential."""
    newest: dict[int, int] = {}
    regressions = []
    for index, request in server.answered():
        for cid, version, _ in _states_sent(request.body):
            if version < newest.get(cid, 0):
                regressions.append(f"request {index}: credential {cid} v{version} < v{newest[cid]}")
            newest[cid] = max(version, newest.get(cid, 0))
    return regressions


def _scim_mismatches(tenant_url: str, desired: dict[int, object]) -> list[str]:
    connector = ScimConnector(
        TargetConfig(
            kind="scim", name="check", url=tenant_url, token=SCIM_TOKEN, timeout_seconds=60
        )
    )
    try:
        actual = connector.read_state()
    finally:
        connector.close()
    wrong = [f"scim: credential {cid} is missing" for cid in desired if cid not in actual]
    wrong += [f"scim: credential {cid} is unknown here" for cid in actual if cid not in desired]
    for cid, state in desired.items():
        held = actual.get(cid)
        if held is None:
            continue
        if (held.version, held.active, held.groups) != (
            state.version,
            state.active,
            expected_groups(state),
        ):
            wrong.append(
                f"scim: credential {cid} holds v{held.version} active={held.active} "
                f"groups={sorted(held.groups)}, desired v{state.version} active={state.active}"
            )
    return wrong


def _signature_check(secret: str) -> Callable[[RecordedRequest], None]:
    verifier = Webhook(secret)

    def check(request: RecordedRequest) -> None:
        headers = {name.lower(): value for name, value in request.headers.items()}
        verifier.verify(request.body, headers)  # raises on a bad or stale signature

    return check


def _webhook_mismatches(receiver: FlakyServer, desired: dict[int, object]) -> list[str]:
    wrong = [f"webhook: bad signature on {refused}" for refused in receiver.refused_checks]
    last: dict[int, tuple[int, bool, bool]] = {}
    for _, request in receiver.answered():
        for cid, version, item in _states_sent(request.body):
            if cid not in last or last[cid][0] < version:
                last[cid] = (version, bool(item["active"]), bool(item["revoked"]))
    wrong += [f"webhook: credential {cid} never arrived" for cid in desired if cid not in last]
    for cid, state in desired.items():
        if cid in last and last[cid] != (state.version, state.active, state.revoked):
            wrong.append(f"webhook: credential {cid} last got {last[cid]}, desired {state}")
    return wrong


def _drained(target_ids: list[int]) -> bool:
    for target in Target.objects.filter(pk__in=target_ids):
        if read_changes(cursor_xid=target.cursor_xid, cursor_id=target.cursor_id, limit=1):
            return False
    return not Failure.objects.filter(target_id__in=target_ids).exists()


# -- the test ----------------------------------------------------------------------------------


@pytest.mark.skipif(
    connection.vendor != "postgresql",
    reason="fault injection runs on PostgreSQL (set DATABASE_URL): the relay's commit-order "
    "reading and several concurrent writers are what it proves",
)
def test_every_target_ends_equal_to_the_desired_state_after_kills_restarts_and_faults(
    settings, monkeypatch, scim_server_root, capsys, request
):
    started = time.monotonic()
    rnd = random.Random(SEED)
    for name, value in WORKER_ENVIRONMENT.items():
        monkeypatch.setenv(name, value)
        setattr(settings, name, int(value))

    # given a SCIM directory and a webhook receiver, both failing a fifth of their requests
    tenant_url = new_tenant_url(scim_server_root)
    scim = FlakyServer(upstream=scim_server_root).start()
    secret = "whsec_" + base64.b64encode(os.urandom(24)).decode()
    webhook = FlakyServer(rnd=random.Random(SEED + 1), check=_signature_check(secret)).start()
    request.addfinalizer(scim.stop)
    request.addfinalizer(webhook.stop)
    targets = [
        target_create(
            actor=None,
            kind="scim",
            name="fault-scim",
            url=scim.url + urlsplit(tenant_url).path,
            token=SCIM_TOKEN,
        ),
        target_create(
            actor=None, kind="webhook", name="fault-webhook", url=webhook.url, secrets=[secret]
        ),
    ]
    target_ids = [t.pk for t in targets]

    # ... and organisations with grants and keys
    stage = StageFactory(seats=KEYS_PER_GRANT * 3)
    grants = []
    for _ in range(ORGANISATIONS):
        organisation = OrganisationFactory()
        for _ in range(GRANTS_PER_ORGANISATION):
            grant = active_grant(organisation=organisation, stage=stage)
            for _ in range(KEYS_PER_GRANT):
                issue(grant, PersonFactory(organisation=organisation))
            grants.append(grant)
    operations = Operations(
        rnd,
        grants,
        (staff_user("ops", username="fault-ops"), staff_user("ops", username="fault-ops-2")),
    )
    queue = f"fault-{uuid.uuid4().hex[:10]}"
    kills = 0
    timeline: list[str] = []

    def mark(label: str) -> None:
        timeline.append(f"{label} {time.monotonic() - started:.0f}s")

    mark("set up")

    with own_broker(settings, monkeypatch) as broker:
        # Commits wake the relays on our queue, as they wake the default one in production.
        monkeypatch.setattr(
            relay_target,
            "delay",
            lambda target_id: relay_target.apply_async(args=[target_id], queue=queue),
        )
        beat = Beat(queue, target_ids)
        beat.start()
        try:
            # when thousands of changes are made while workers die and the broker restarts
            per_run = (OPERATIONS - 10 * WORKER_RUNS) // WORKER_RUNS + 1
            with ExitStack() as pool:
                names = [f"{queue}-w{i}" for i in range(WORKERS)]
                for worker_name in names:
                    pool.enter_context(celery_worker(queue=queue, name=worker_name))
                for run in range(WORKER_RUNS):
                    mark(f"run {run + 1}")
                    seen = len(scim.requests)
                    operations.run(per_run // 2)
                    if run in BROKER_RESTART_RUNS:
                        broker.restart()
                    operations.run(per_run - per_run // 2)
                    if run < WORKER_RUNS - 1:
                        # kill one of the three at random while they relay, start another
                        wait_for(
                            lambda seen=seen: len(scim.requests) > seen, timeout=20, interval=1
                        )
                        victim = names.pop(rnd.randrange(len(names)))
                        for pid in worker_pids(queue, hostname=f"{victim}@localhost"):
                            os.kill(pid, signal.SIGKILL)
                        kills += 1
                        mark(f"kill {victim.rsplit('-', 1)[1]}")
                        names.append(f"{queue}-w{WORKERS + run}")
                        pool.enter_context(celery_worker(queue=queue, name=names[-1]))
                    # changes keep coming while the new worker starts
                    operations.run(10)
            assert sum(operations.done.values()) >= OPERATIONS
            operations_seconds = time.monotonic() - started

            # then, once the faults stop, a fresh worker drains every target
            scim.calm = webhook.calm = True
            with celery_worker(queue=queue, concurrency=2):
                mark("calm")
                drained_by_worker = wait_for(lambda: _drained(target_ids), timeout=120, interval=1)
                mark("drained")
        finally:
            beat.stopping.set()
            beat.join(timeout=10)
    drain = StringIO()
    call_command("deliver", "--until-idle", stdout=drain)

    all_ids = list(Credential.objects.values_list("pk", flat=True))
    desired = {state.credential_id: state for state in desired_states(all_ids)}
    mismatches = _scim_mismatches(tenant_url, desired) + _webhook_mismatches(webhook, desired)
    failures = Failure.objects.filter(target_id__in=target_ids)
    dead = failures.filter(state=FailureState.DEAD).count()
    summary = {
        "operations": operations.total,
        "effective": sum(operations.done.values()),
        "by kind": dict(sorted(operations.done.items())),
        "refused as illegal": dict(sorted(operations.refused.items())),
        "ms per operation": {
            k: round(1000 * v / (operations.done[k] + operations.refused[k]))
            for k, v in sorted(operations.seconds.items())
        },
        "credentials": len(desired),
        "change-log rows": Change.objects.count(),
        "worker kills (SIGKILL)": kills,
        "worker starts": WORKERS + kills + 1,
        "states delivered out of order (scim / webhook)": (
            f"{len(_regressions(scim))} / {len(_regressions(webhook))}"
        ),
        "broker restarts": broker.restarts,
        "beat wake-ups sent / lost": f"{beat.sent} / {beat.lost}",
        "scim requests / injected failures / timeouts": (
            f"{len(scim.requests)} / {len(scim.faulted)} / {scim.hangs}"
        ),
        "webhook requests / injected failures / timeouts": (
            f"{len(webhook.requests)} / {len(webhook.faulted)} / {webhook.hangs}"
        ),
        "retries (states re-sent) scim / webhook": f"{_resent(scim)} / {_resent(webhook)}",
        "drained by the worker": drained_by_worker,
        "deliver --until-idle": " ".join(drain.getvalue().split()) or "nothing left",
        "failure rows left (dead)": f"{failures.count()} ({dead})",
        "final mismatches": len(mismatches),
        "timeline": ", ".join(timeline),
        "seconds (operations / total)": (
            f"{operations_seconds:.0f} / {time.monotonic() - started:.0f}"
        ),
    }
    with capsys.disabled():
        print("\nfault injection:")
        for name, value in summary.items():
            print(f"  {name}: {value}")

    assert sum(operations.done.values()) >= 2000
    assert kills >= 3 and broker.restarts >= 2
    assert len(scim.faulted) > 0 and len(webhook.faulted) > 0
    assert mismatches == [], mismatches[:20]
    assert _regressions(scim) == [] and _regressions(webhook) == []
    assert not failures.exists(), list(failures.values("credential_id", "state", "last_error")[:5])
    assert _drained(target_ids)
