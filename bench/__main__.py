"""`make bench`: every benchmark of docs/benchmarks.md in one table (targets, values, ratios).

Each area is a module `bench/<area>.py` with `run() -> list[dict]` rows of
{"area", "target", "measured", "ok"}. Each runs in its own process, so one area's
database set-up cannot leak into another's, and a crash in one still prints the rest.

The table lists the targets of docs/benchmarks.md in its order, each with the checks that
measure it: the measured value, the ratio measured ÷ target (below 1 is good for a "≤" target, above
1 for a "≥" one) and whether it holds. A row may carry "value" and "limit" (numbers in the
same unit) for its ratio; otherwise the ratio is read from the "≤ 5 s" in its target and the
matching number in its measured text.

Run everything: ``python -m bench``; some areas: ``python -m bench web bulk``; ten times the
data: ``python -m bench --scale 10`` (the areas that build data read ``BENCH_SCALE``). With
``BENCH_WRITE=1`` (``make bench BENCH_WRITE=1``) the table, the machine it ran on and the
date also replace the "Latest figures" section of docs/benchmarks.md.
"""

from __future__ import annotations

import datetime as dt
import json
import os
import platform
import re
import subprocess
import sys
import time
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from urllib.parse import urlsplit, urlunsplit

from bench._common import command_line, parse, postgres_url, scale

ROOT = Path(__file__).resolve().parent.parent
AREAS = (
    "provisioning",
    "bulk",
    "connectors",
    "screening",
    "audit",
    "web",
    "evidence",
    "certification",
    "notices",
    "faults",
)
DOC = ROOT / "docs" / "benchmarks.md"
BEGIN, END = "<!-- bench:begin -->", "<!-- bench:end -->"
MARK = "BENCH-ROWS "

# The targets of docs/benchmarks.md, in its order, and how to recognise the rows that measure
# each target.
SECTIONS: tuple[tuple[str, str, tuple[str, ...]], ...] = (
    (
        "bulk suspend of 100,000 credentials",
        "≤ 5 s; ≤ 5x raw UPDATE; independent of targets",
        ("suspend", "raw update", "grow with targets", "plan of"),
    ),
    (
        "change-log retention",
        "a suspend and restore's change log pruned ≥ 16,667 rows/s (1,000,000 ≤ 60 s)",
        ("prune",),
    ),
    ("emergency stop of one model", "every target acknowledged p99 ≤ 2 s", ("emergency stop",)),
    ("propagation", "relay ≥ 80 % of a target's own throughput", ("x server", "propagation")),
    ("introspection", "revoked key inactive at once; p99 ≤ 10 ms", ("introspection", "revoked")),
    (
        "web pages",
        "queue and dashboard p95 ≤ 150 ms at 100,000 rows",
        ("queue", "partner", "scratch data"),
    ),
    ("screening speed", "one name ≤ 5 ms median; 10,000 ≤ 60 s", ("one name", "re-screen", "load")),
    (
        "screening quality",
        "recall ≥ 0.90 per class and ≥ nomenklatura; false hits ≤ 1 %",
        ("recall", "false hits"),
    ),
    ("faults", "0 lost or stale credentials", ("fault", "mismatch")),
    (
        "verification",
        "a 100,000-key evidence bundle verified offline (clearance-verify) ≤ 10 s",
        (),
    ),
    ("certification", "open a campaign ≤ 30 s; the deadline ≤ 60 s (its beat period)", ()),
    (
        "access notices",
        "a 100,000-key stop's notices and emails all out ≤ 60 s; queries not per key",
        (),
    ),
)
# The audit log's targets; their rows come from the audit and evidence areas.
TRANSPARENCY: tuple[tuple[str, str, tuple[str, ...]], ...] = (
    (
        "audit transparency log",
        "tree ≤ 10 % on a 100,000-key suspend; proof ≤ 5 ms; checkpoint ≤ 50 ms",
        ("merkle tree", "inclusion proof", "checkpoint p95"),
    ),
)
# What the sections above target at ``--scale 10`` (docs/benchmarks.md, the "(10x)" targets).
TEN_TIMES: dict[str, tuple[str, str]] = {
    "bulk suspend of 100,000 credentials": (
        "bulk suspend of 1,000,000 credentials (10x)",
        "≤ 10 s; ≤ 3x a raw UPDATE with its commit; independent of targets",
    ),
    "web pages": ("web pages (10x)", "queue and dashboard p95 ≤ 150 ms at 1,000,000 rows"),
}
# Areas whose rows all belong to one section, whatever their words.
AREA_SECTIONS = {
    "faults": "faults",
    "evidence": "verification",
    "certification": "certification",
    "notices": "access notices",
}
OTHER = ("other benchmarks", "targets of their own issues", ())

_UNITS = {"ms": 0.001, "s": 1.0, "%": 0.01, "x": 1.0, "": 1.0}
_LIMIT = re.compile(r"(≤|≥|<=|>=)\s*([\d][\d,]*(?:\.\d+)?)\s*(ms|s|%|x)?(?![a-z])")
_NUMBER = r"([\d][\d,]*(?:\.\d+)?)\s*(ms|s|%|x)?(?![a-z])"


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


def _number(text: str) -> float:
    return float(text.replace(",", ""))


def ratio_of(row: dict) -> float | None:
    """measured ÷ target, in the target's unit; None when the row names no comparable number."""
    if isinstance(row.get("value"), int | float) and row.get("limit"):
        return float(row["value"]) / float(row["limit"])
    target, measured = str(row.get("target", "")), str(row.get("measured", ""))
    limit = _LIMIT.search(target)
    if limit is None or measured.startswith(("failed", "skipped")):
        return None
    _, amount, unit = limit.groups()
    unit = unit or ""
    wanted = _number(amount) * _UNITS[unit]
    # The statistic the target names (p95, p99, median), else the first number of the text.
    statistic = re.search(r"\b(p\d\d|median)\b", target)
    found = None
    if statistic:
        found = re.search(rf"\b{statistic.group(1)}\s+" + _NUMBER, measured)
    found = found or re.search(_NUMBER, measured)
    if found is None or wanted == 0:
        return None
    value, measured_unit = found.groups()
    measured_unit = measured_unit or unit
    if (measured_unit in ("ms", "s")) != (unit in ("ms", "s")):
        return None  # not the same kind of quantity
    if unit == "%" and measured_unit != "%":
        return _number(value) / wanted  # a fraction against a percentage
    return _number(value) * _UNITS[measured_unit] / wanted


def section_of(row: dict) -> tuple[str, str, tuple[str, ...]]:
    text = f"{row.get('area', '')} {row.get('target', '')}".lower()
    if str(row.get("area", "")).startswith(("audit", "evidence")):
        for section in TRANSPARENCY:
            if any(keyword in text for keyword in section[2]):
                return section
    if row.get("area") in AREA_SECTIONS:
        return next(s for s in SECTIONS if s[0] == AREA_SECTIONS[str(row["area"])])
    if str(row.get("area", "")).startswith("audit"):
        return OTHER  # the audit explorer's own targets (its issue), not the design's
    # The bulk section's words ("suspend") also appear in other targets' checks: it comes last.
    for section in (*SECTIONS[1:], SECTIONS[0]):
        if not section[2]:
            continue
        if any(keyword in text for keyword in section[2]):
            return section
    return OTHER


def heading(section: tuple[str, str, tuple[str, ...]]) -> str:
    """A section's title and target, as the run's scale sets them."""
    if section is OTHER:
        return section[0]
    name, target = section[0], section[1]
    if scale() >= 10 and name in TEN_TIMES:
        name, target = TEN_TIMES[name]
    return f"{name}: {target}"


def render(rows: list[dict], timings: dict[str, float]) -> str:
    widths = (64, 60, 6, 3)
    lines = [
        f"Clearance benchmarks (docs/benchmarks.md) on {os.cpu_count()} CPU(s); load average "
        + ", ".join(f"{value:.1f}" for value in os.getloadavg())
        + f"; database: {_redacted(os.environ.get('DATABASE_URL', 'sqlite (default)'))}",
        "ratio = measured ÷ target: below 1 is good for ≤ targets, above 1 for ≥ targets.",
        "",
        "  ".join(
            h.ljust(w) for h, w in zip(("check", "measured", "ratio", "ok"), widths, strict=True)
        ),
    ]
    for section in (*SECTIONS, *TRANSPARENCY, OTHER):
        members = [row for row in rows if section_of(row) == section]
        if not members and section is OTHER:
            continue
        lines.append("  ".join("-" * w for w in widths))
        lines.append(heading(section))
        if not members:
            members = [{"area": "-", "target": "-", "measured": "no benchmark ran", "ok": None}]
        for row in members:
            measured = str(row.get("measured", ""))
            if _is_context(row):
                lines.append(
                    _fit(f"  [{row.get('area', '')}] {row.get('target', '')}: {measured}", 132)
                )
                continue
            ratio = ratio_of(row)
            cells = (
                _fit(f"  [{row.get('area', '')}] {row.get('target', '')}", widths[0]),
                measured[: widths[1]],
                f"{ratio:.2f}" if ratio is not None else "-",
                {True: "yes", False: "NO", None: "-"}[row.get("ok")],
            )
            lines.append("  ".join(c.ljust(w) for c, w in zip(cells, widths, strict=True)))
            for rest in _overflow(measured, widths[1]):
                lines.append(" " * (widths[0] + 2) + rest)
    total = sum(timings.values())
    if timings:
        lines += [
            "",
            "time per area: "
            + ", ".join(f"{area} {seconds:.0f} s" for area, seconds in timings.items())
            + f"; total {total / 60:.1f} min",
        ]
    return "\n".join(lines)


def machine() -> str:
    """One line naming the machine: CPU model and count, memory, OS, Python, PostgreSQL."""
    cpu = platform.processor() or platform.machine()
    memory = ""
    try:
        for line in Path("/proc/cpuinfo").read_text().splitlines():
            if line.startswith("model name"):
                cpu = line.split(":", 1)[1].strip()
                break
        for line in Path("/proc/meminfo").read_text().splitlines():
            if line.startswith("MemTotal"):
                memory = f", {int(line.split()[1]) / 1024 / 1024:.0f} GiB RAM"
                break
    except OSError:
        pass
    postgres = ""
    url = postgres_url()
    if url:
        try:
            import psycopg

            with psycopg.connect(url, connect_timeout=3) as connection:
                version = connection.execute("SHOW server_version").fetchone()
            postgres = f", PostgreSQL {version[0] if version else '?'}"
        except Exception:  # the figures matter more than the label
            postgres = ", PostgreSQL (version unknown)"
    return (
        f"{os.cpu_count()} x {cpu}{memory}; {platform.system()} {platform.release()}; "
        f"Python {platform.python_version()}{postgres}"
    )


def write_doc(table: str, areas: list[str]) -> None:
    """Replace the text between the markers of docs/benchmarks.md with this run's table."""
    text = DOC.read_text(encoding="utf-8")
    if BEGIN not in text or END not in text:
        raise SystemExit(f"{DOC} has no {BEGIN} ... {END} markers to write the table between")
    commit = subprocess.run(
        ["git", "rev-parse", "--short", "HEAD"], cwd=ROOT, capture_output=True, text=True
    ).stdout.strip()
    when = dt.datetime.now(dt.UTC).strftime("%Y-%m-%d %H:%M UTC")
    block = "\n".join(
        [
            BEGIN,
            f"Run {when} on commit `{commit or 'unknown'}` with `make bench` "
            f"(areas: {', '.join(areas)}).",
            "",
            f"Machine: {machine()}.",
            "",
            "```",
            table,
            "```",
            END,
        ]
    )
    head, rest = text.split(BEGIN, 1)
    DOC.write_text(head + block + rest.split(END, 1)[1], encoding="utf-8")
    print(f"wrote the table to {DOC.relative_to(ROOT)}", file=sys.stderr)


def _is_context(row: dict) -> bool:
    """What the checks ran on (data loaded, an index built): shown, not judged."""
    return bool(row.get("context")) or str(row.get("target", "")).endswith("(info)")


def _fit(text: str, width: int) -> str:
    return text if len(text) <= width else text[: width - 1] + "…"


def _overflow(text: str, width: int) -> list[str]:
    """Measured text is evidence: wrap it rather than cut it."""
    return [text[i : i + width] for i in range(width, len(text), width)]


def _redacted(url: str) -> str:
    return re.sub(r"//([^:@/]+):[^@/]+@", r"//\1:***@", url)


@contextmanager
def migrated_template(timings: dict[str, float]) -> Iterator[None]:
    """One migrated database the areas' scratch databases are copied from (PostgreSQL only)."""
    url = postgres_url()
    if not url:
        yield
        return
    import psycopg

    parts = urlsplit(url)
    name = f"clearance_bench_template_{os.getpid()}"
    started = time.monotonic()
    with psycopg.connect(urlunsplit(parts._replace(path="/postgres")), autocommit=True) as admin:
        admin.execute(f'CREATE DATABASE "{name}"')
        try:
            subprocess.run(
                [sys.executable, "manage.py", "migrate", "--no-input", "-v", "0"],
                cwd=ROOT,
                env={**os.environ, "DATABASE_URL": urlunsplit(parts._replace(path=f"/{name}"))},
                check=True,
            )
            timings["migrate (template)"] = time.monotonic() - started
            os.environ["BENCH_TEMPLATE_DATABASE"] = name
            yield
        finally:
            os.environ.pop("BENCH_TEMPLATE_DATABASE", None)
            admin.execute(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')


def main() -> int:
    parser = command_line(__doc__)
    parser.add_argument("areas", nargs="*", metavar="AREA", help=f"any of {', '.join(AREAS)}")
    # --scale K reaches every area through BENCH_SCALE.
    areas = parse(parser).areas or list(AREAS)
    if unknown := [area for area in areas if area not in AREAS]:
        parser.error(f"no such area: {', '.join(unknown)} (choose from {', '.join(AREAS)})")
    rows: list[dict] = []
    timings: dict[str, float] = {}
    with migrated_template(timings):
        for area in areas:
            print(f"running {area} ...", file=sys.stderr, flush=True)
            area_rows, elapsed = run_area(area)
            print(f"  {area}: {elapsed:.1f} s", file=sys.stderr, flush=True)
            rows.extend(area_rows)
            timings[area] = elapsed
    table = render(rows, timings)
    print("\n" + table)
    if os.environ.get("BENCH_WRITE", "") not in ("", "0"):
        write_doc(table, areas)
    return 0 if all(row.get("ok") is not False for row in rows) else 1


if __name__ == "__main__":
    sys.exit(main())
