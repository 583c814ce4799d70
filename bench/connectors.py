"""Connector benchmarks (docs/benchmarks.md): propagation throughput and emergency-stop latency.

* Throughput: a direct client's user upserts against a local scim2-server (one request per
  user, the fastest a client can go without Bulk) against the SCIM connector pushing the same
  number of credential states to the same server (conditional write, group membership).
  The ratio must be ≥ 0.8: the connector must not be the bottleneck.
* Emergency stop: block_model on four targets at once (two SCIM servers whose model groups hold
  every key, two webhook receivers), from the call until every target acknowledged; p99 ≤ 2 s.

Run: ``python -m bench.connectors [N]`` (no database needed).
"""

from __future__ import annotations

import functools
import os
import statistics
import time
from concurrent.futures import ThreadPoolExecutor
from contextlib import ExitStack

import httpx

from bench._common import command_line, parse
from provisioning.connectors.base import TargetConfig
from provisioning.connectors.scim import ENTERPRISE_SCHEMA, USER_SCHEMA, ScimConnector
from provisioning.connectors.webhooks import WebhookConnector
from tests.connector_states import credential_state
from tests.servers import SCIM_TOKEN, RecordingServer, new_tenant_url, run_scim_server

AREA = "connectors"
STOP_REPETITIONS = int(os.environ.get("BENCH_STOP_RUNS", "20"))
STOP_KEYS_PER_TARGET = 1_000


# The tests' builder, under the bench's own organisation.
state = functools.partial(credential_state, organisation="bench")


ROUND = 100  # keys per alternation, so both sides see the same machine load


def _user_body(cid: int, active: bool, version: int) -> dict:
    return {
        "schemas": [USER_SCHEMA, ENTERPRISE_SCHEMA],
        "externalId": str(cid),
        "userName": f"clearance-credential-{cid}",
        "active": active,
        ENTERPRISE_SCHEMA: {"employeeNumber": str(version)},
    }


def throughput_rows(root: str, n: int) -> list[dict]:
    """Direct client and connector take turns, ROUND keys each, on two fresh tenants.

    The direct client does the least a client can: one POST per new user, one PUT per
    suspension, no reads, no groups. The connector does its whole job in relay batches.
    """
    direct_url, pushed_url = new_tenant_url(root), new_tenant_url(root)
    headers = {"Authorization": f"Bearer {SCIM_TOKEN}", "Content-Type": "application/scim+json"}
    client = httpx.Client(headers=headers, trust_env=False, timeout=60)
    connector = ScimConnector(
        TargetConfig(kind="scim", name="bench", url=pushed_url, token=SCIM_TOKEN)
    )
    ids: dict[int, str] = {}
    spent = {"direct grant": 0.0, "pushed grant": 0.0, "direct suspend": 0.0, "pushed suspend": 0.0}
    try:
        for phase, version, active in (("grant", 1, True), ("suspend", 2, False)):
            for first in range(1, n + 1, ROUND):
                keys = range(first, min(first + ROUND, n + 1))
                started = time.perf_counter()
                for cid in keys:
                    if active:
                        response = client.post(
                            f"{direct_url}/Users", json=_user_body(cid, active, version)
                        )
                        response.raise_for_status()
                        ids[cid] = response.json()["id"]
                    else:
                        client.put(
                            f"{direct_url}/Users/{ids[cid]}", json=_user_body(cid, active, version)
                        ).raise_for_status()
                spent[f"direct {phase}"] += time.perf_counter() - started
                started = time.perf_counter()
                outcomes = connector.push([state(cid, version, active=active) for cid in keys])
                spent[f"pushed {phase}"] += time.perf_counter() - started
                assert all(o.ok for o in outcomes), [o for o in outcomes if not o.ok][:3]
    finally:
        client.close()
        connector.close()
    rows = []
    for phase in ("grant", "suspend"):
        direct, pushed = n / spent[f"direct {phase}"], n / spent[f"pushed {phase}"]
        rows.append(
            {
                "area": AREA,
                "target": f"SCIM {phase} ≥ 0.8 x server ({n} keys)",
                "measured": f"{pushed / direct:.2f} x ({pushed:.0f} vs {direct:.0f} keys/s)",
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
    arguments = parse(command_line(__doc__, size="keys to deliver (BENCH_CONNECTOR_KEYS, 1,000)"))
    for row in run(arguments.size):
        print(f"{row['target']:<52} {row['measured']:<44} {'ok' if row['ok'] else 'NOT OK'}")
