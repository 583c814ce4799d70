"""`make bench`: every benchmark of DESIGN.md §7 in one table (targets, measured values, ratios).

Each area is a module `bench/<area>.py` with `run() -> list[dict]` rows of
{"area", "target", "measured", "ok"}. Each runs in its own process, so one area's
database set-up cannot leak into another's, and a crash in one still prints the rest.
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
AREAS = ("provisioning", "bulk", "connectors", "screening", "audit", "web")
MARK = "BENCH-ROWS "


def run_area(area: str) -> tuple[list[dict], float]:
    if not (ROOT / "bench" / f"{area}.py").exists():
        return [{"area": area, "target": "-", "measured": "not built yet", "ok": None}], 0.0
    code = f"import json, bench.{area} as m; print({MARK!r} + json.dumps(m.run(), default=str))"
    started = time.monotonic()
    result = subprocess.run(
        [sys.executable, "-c", code], cwd=ROOT, capture_output=True, text=True, check=False
    )
    elapsed = time.monotonic() - started
    for line in reversed(result.stdout.splitlines()):
        if line.startswith(MARK):
            return json.loads(line[len(MARK) :]), elapsed
    tail = (result.stderr or result.stdout).strip().splitlines()[-1:] or ["no output"]
    return [{"area": area, "target": "-", "measured": f"failed: {tail[0][:80]}", "ok": False}], (
        elapsed
    )


def main() -> int:
    areas = sys.argv[1:] or list(AREAS)
    rows: list[dict] = []
    for area in areas:
        print(f"running {area} ...", file=sys.stderr, flush=True)
        area_rows, elapsed = run_area(area)
        print(f"  {area}: {elapsed:.1f} s", file=sys.stderr, flush=True)
        rows.extend(area_rows)
    print(
        f"\nClearance benchmarks on {os.cpu_count()} CPU(s), database: "
        f"{os.environ.get('DATABASE_URL', 'sqlite (default)')}\n"
    )
    widths = (24, 44, 34, 6)
    header = ("area", "target", "measured", "ok")
    print("  ".join(h.ljust(w) for h, w in zip(header, widths, strict=True)))
    print("  ".join("-" * w for w in widths))
    for row in rows:
        ok = {True: "yes", False: "NO", None: "-"}[row.get("ok")]
        cells = (
            str(row.get("area", "")),
            str(row.get("target", "")),
            str(row.get("measured", "")),
            ok,
        )
        print("  ".join(c.ljust(w) for c, w in zip(cells, widths, strict=True)))
    return 0 if all(row.get("ok") is not False for row in rows) else 1


if __name__ == "__main__":
    sys.exit(main())
