"""Connector benchmarks (DESIGN.md §7): propagation throughput and emergency-stop latency.

* Throughput: a direct client's user upserts against a local scim2-server (one request per
  user, the fastest a client can go without Bulk) against the SCIM connector pushing the same
  number of credential states to the same server (lookup, versioned write, group membership).
  The ratio must be ≥ 0.8: the connector must not be the bottleneck.
* Emergency stop: block_model on four targets at once (two SCIM servers whose model groups hold
  every key, two webhook receivers), from the call until every target acknowledged; p99 ≤ 2 s.

Run: ``python -m bench.connectors [N]`` (no database needed).
"""

from __future__ import annotations

import os
import statistics
import sys
import time
from concurrent.futures import ThreadPoolExecutor
from contextlib import ExitStack

import httpx

from provisioning.connectors.base import CredentialState, TargetConfig
from provisioning.connectors.scim import ENTERPRISE_SCHEMA, USER_SCHEMA, ScimConnector
from provisioning.connectors.webhooks import WebhookConnector
from tests.servers import SCIM_TOKEN, RecordingServer, new_tenant_url, run_scim_server

AREA = "connectors"
STOP_REPETITIONS = 20
STOP_KEYS_PER_TARGET = 1_000


def state(cid: int, version: int = 1, *, active: bool = True, stage: str = "limited"):
    return CredentialState(
        credential_id=cid,
        version=version,
        active=active,
        revoked=False,
        user_name=f"person{cid}@bench.example",
        display_name=f"Person {cid}",
        organisation="bench",
        model="mythos-5",
        stage=stage,
        key_prefix=f"clr_{cid:08d}",
    )


def direct_upserts(url: str, n: int) -> tuple[float, float]:
    """Users/s of a plain client: N creates, then N replaces (the suspension), one request each."""
    headers = {"Authorization": f"Bearer {SCIM_TOKEN}", "Content-Type": "application/scim+json"}
    ids: list[str] = []
    with httpx.Client(headers=headers, trust_env=False, timeout=30) as client:

        def body(cid: int, active: bool, version: int) -> dict:
            return {
                "schemas": [USER_SCHEMA, ENTERPRISE_SCHEMA],
                "externalId": str(cid),
                "userName": f"person{cid}@bench.example#{cid}",
                "active": active,
                ENTERPRISE_SCHEMA: {"employeeNumber": str(version)},
            }

        started = time.perf_counter()
        for cid in range(1, n + 1):
            response = client.post(f"{url}/Users", json=body(cid, True, 1))
            response.raise_for_status()
            ids.append(response.json()["id"])
        create = n / (time.perf_counter() - started)
        started = time.perf_counter()
        for cid, user_id in enumerate(ids, start=1):
            client.put(f"{url}/Users/{user_id}", json=body(cid, False, 2)).raise_for_status()
        update = n / (time.perf_counter() - started)
    return create, update


def connector_pushes(url: str, n: int, batch: int = 500) -> tuple[float, float]:
    """Credentials/s of the connector: N grants pushed, then N suspensions, in relay batches."""
    connector = ScimConnector(TargetConfig(kind="scim", name="bench", url=url, token=SCIM_TOKEN))
    try:
        rates = []
        for version, active in ((1, True), (2, False)):
            states = [state(cid, version, active=active) for cid in range(1, n + 1)]
            started = time.perf_counter()
            for start in range(0, n, batch):
                outcomes = connector.push(states[start : start + batch])
                assert all(o.ok for o in outcomes), [o for o in outcomes if not o.ok][:3]
            rates.append(n / (time.perf_counter() - started))
        return rates[0], rates[1]
    finally:
        connector.close()


def throughput_rows(root: str, n: int) -> list[dict]:
    direct_create, direct_update = direct_upserts(new_tenant_url(root), n)
    pushed_create, pushed_update = connector_pushes(new_tenant_url(root), n)
    rows = []
    for label, direct, pushed in (
        ("grant", direct_create, pushed_create),
        ("suspend", direct_update, pushed_update),
    ):
        rows.append(
            {
                "area": AREA,
                "target": f"SCIM {label} ≥ 0.8 x server ({n} keys)",
                "measured": f"{pushed / direct:.2f} x ({pushed:.0f} vs {direct:.0f}/s)",
                "ok": pushed / direct >= 0.8,
            }
        )
    return rows


def populate(connector: ScimConnector) -> None:
    half = STOP_KEYS_PER_TARGET // 2
    states = [state(cid) for cid in range(1, half + 1)] + [
        state(cid, stage="full") for cid in range(half + 1, STOP_KEYS_PER_TARGET + 1)
    ]
    for start in range(0, len(states), 500):
        assert all(o.ok for o in connector.push(states[start : start + 500]))


def refill(connector: ScimConnector) -> None:
    """Put every key back in its group, as before the stop, with one PATCH per group."""
    by_group: dict[str, list[str]] = {}
    for user in connector._known.values():
        stage = "limited" if user.credential_id <= STOP_KEYS_PER_TARGET // 2 else "full"
        by_group.setdefault(f"clearance:mythos-5:{stage}", []).append(user.id)
    for name, user_ids in by_group.items():
        connector._patch_members(connector._group_id(name), user_ids, []).raise_for_status()


def stop_latency_rows(roots: list[str]) -> list[dict]:
    with ExitStack() as stack:
        receivers = [RecordingServer().start() for _ in range(2)]
        for receiver in receivers:
            stack.callback(receiver.stop)
        secret = "whsec_" + "YmVuY2htYXJrLXNpZ25pbmcta2V5LTAx"
        scim = [
            ScimConnector(
                TargetConfig(
                    kind="scim", name=f"scim{i}", url=new_tenant_url(root), token=SCIM_TOKEN
                )
            )
            for i, root in enumerate(roots)
        ]
        hooks = [
            WebhookConnector(
                TargetConfig(kind="webhook", name=f"hook{i}", url=r.url, secrets=(secret,))
            )
            for i, r in enumerate(receivers)
        ]
        targets = [*scim, *hooks]
        for connector in targets:
            stack.callback(connector.close)
        pool = stack.enter_context(ThreadPoolExecutor(max_workers=len(targets)))
        parallel: list[float] = []
        sequential: list[float] = []
        for connector in scim:
            populate(connector)
        for repetition in range(STOP_REPETITIONS):
            for connector in scim:
                refill(connector)
            event = f"bench-stop-{repetition}"
            started = time.perf_counter()
            for future in [pool.submit(c.block_model, "mythos-5", event_id=event) for c in targets]:
                future.result()
            parallel.append(time.perf_counter() - started)
            if repetition == 0:
                assert all(not s.groups for c in scim for s in c.read_state().values())

            for connector in scim:
                refill(connector)
            started = time.perf_counter()
            for connector in targets:
                connector.block_model("mythos-5", event_id=event)
            sequential.append(time.perf_counter() - started)
    rows = []
    for label, samples in (("in parallel", parallel), ("one after another", sequential)):
        p99 = statistics.quantiles(samples, n=100, method="inclusive")[98]
        rows.append(
            {
                "area": AREA,
                "target": f"emergency stop, 4 targets {label}, p99 ≤ 2 s",
                "measured": f"p99 {p99 * 1000:.0f} ms, median "
                f"{statistics.median(samples) * 1000:.0f} ms "
                f"({STOP_KEYS_PER_TARGET} keys/SCIM target, {STOP_REPETITIONS} runs)",
                "ok": p99 <= 2.0,
            }
        )
    return rows


def run(n: int | None = None) -> list[dict]:
    n = n or int(os.environ.get("BENCH_CONNECTOR_KEYS", "1000"))
    with run_scim_server() as first, run_scim_server() as second:
        return throughput_rows(first, n) + stop_latency_rows([first, second])


if __name__ == "__main__":
    for row in run(int(sys.argv[1]) if len(sys.argv) > 1 else None):
        print(f"{row['target']:<52} {row['measured']:<44} {'ok' if row['ok'] else 'NOT OK'}")
