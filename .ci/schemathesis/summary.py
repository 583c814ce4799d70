"""Summarise one Schemathesis run from its NDJSON report: operations, requests, and failures
per check. Exit 1 on a server error or a response-schema violation (the gate); other checks'
findings are listed, not fatal. Usage: summary.py NAME REPORT.ndjson OUTPUT.txt"""

from __future__ import annotations

import json
import sys
from collections import Counter, defaultdict

GATE = ("not_a_server_error", "response_schema_conformance")


def main(name: str, report: str, output: str) -> int:
    operations: set[str] = set()
    requests = 0
    failed: dict[str, set[str]] = defaultdict(set)
    failures = Counter[str]()
    total_operations = 0
    with open(report, encoding="utf-8") as events:
        for line in events:
            event = json.loads(line)
            if "LoadingFinished" in event:
                stats = event["LoadingFinished"]["statistic"]["operations"]
                total_operations = stats["selected"]
            finished = event.get("ScenarioFinished")
            if not finished:
                continue
            recorder = finished["recorder"]
            requests += len(recorder.get("interactions", {}))
            for checks in recorder.get("checks", {}).values():
                for check in checks:
                    if check.get("status") == "failure":
                        failures[check["name"]] += 1
                        failed[check["name"]].add(recorder.get("label", "?"))
            if recorder.get("interactions"):
                operations.add(recorder.get("label", "?"))
    sys.stdout.write(
        f"{name}: {total_operations} operations in the schema, {len(operations)} called "
        f"(with method variants), {requests} requests\n"
    )
    for check, count in sorted(failures.items()):
        marker = "FAIL" if check in GATE else "note"
        labels = sorted(failed[check])
        shown = ", ".join(labels[:6]) + (f" and {len(labels) - 6} more" if len(labels) > 6 else "")
        sys.stdout.write(
            f"  {marker} {check}: {count} failing checks in {len(labels)} operations: {shown}\n"
        )
    gate = [check for check in GATE if failures[check]]
    if gate:
        with open(output, encoding="utf-8") as text:
            sys.stdout.write(text.read()[-6000:])
        return 1
    return 0


if __name__ == "__main__":
    sys.exit(main(*sys.argv[1:4]))
