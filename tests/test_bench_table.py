"""`make bench` runs every area, places each row under its target, and writes the table."""

from __future__ import annotations

import re
from pathlib import Path

import pytest

import bench.__main__ as table

ROOT = Path(__file__).resolve().parent.parent


def test_every_bench_module_and_every_area_the_readme_lists_is_run():
    # An area is a module that names its AREA; helpers (a data-set builder, a peer's runner) don't.
    modules = {
        p.stem
        for p in (ROOT / "bench").glob("*.py")
        if not p.stem.startswith("_") and "\nAREA = " in p.read_text()
    }
    listed = set(re.findall(r"python -m bench\.([a-z]+)", (ROOT / "README.md").read_text()))

    assert modules <= set(table.AREAS)
    assert listed <= set(table.AREAS)


def test_evidence_and_certification_rows_sit_under_their_own_targets():
    evidence = {"area": "evidence", "target": "verify it offline ≤ 10 s", "ok": True}
    deadline = {"area": "certification", "target": "deadline suspends 10 keys ≤ 60 s", "ok": True}

    assert table.section_of(evidence)[0] == "verification"
    assert table.section_of(deadline)[0] == "certification"


def test_a_row_with_a_value_and_a_limit_gets_its_ratio_and_verdict_in_the_table():
    row = {"area": "certification", "target": "open ≤ 30 s", "measured": "3.00 s", "ok": True}

    rendered = table.render([{**row, "value": 3.0, "limit": 30.0}], {})

    line = next(line for line in rendered.splitlines() if "[certification]" in line)
    assert line.split()[-2:] == ["0.10", "yes"]


def test_bench_write_replaces_only_the_latest_figures(tmp_path, monkeypatch):
    doc = tmp_path / "benchmarks.md"
    doc.write_text(f"# Benchmarks\nintro\n{table.BEGIN}\nold table\n{table.END}\nafter\n")
    monkeypatch.setattr(table, "DOC", doc)
    monkeypatch.setattr(table, "ROOT", tmp_path)
    monkeypatch.setattr(table, "machine", lambda: "2 x test CPU")

    table.write_doc("NEW TABLE", ["evidence"])

    text = doc.read_text()
    assert text.startswith("# Benchmarks\nintro\n")
    assert text.endswith(f"{table.END}\nafter\n")
    assert "NEW TABLE" in text
    assert "old table" not in text
    assert "Machine: 2 x test CPU." in text


def test_at_scale_ten_the_bulk_and_web_rows_sit_under_the_ten_times_targets(monkeypatch):
    monkeypatch.setenv("BENCH_SCALE", "10")
    commit = {
        "area": "bulk",
        "target": "emergency suspend of 1,000,000 commit ≤ 10 s, 1 target",
        "measured": "8.00 s",
        "ok": True,
    }
    ratio = {
        "area": "bulk",
        "target": "commit ≤ 3x raw UPDATE with its commit (3.00 s), 1 target",
        "measured": "3.3x",
        "ok": False,
    }
    page = {
        "area": "web",
        "target": "reviewer queue (1,000,000 applications), 2 connections: p95 ≤ 150 ms",
        "measured": "p50 20.0 / p95 75.0 / p99 90.0 ms, 80 req/s",
        "ok": True,
    }

    lines = table.render([commit, ratio, page], {}).splitlines()

    bulk = lines.index(
        "bulk suspend of 1,000,000 credentials (10x): ≤ 10 s; ≤ 3x a raw UPDATE with its "
        "commit; independent of targets"
    )
    web = lines.index("web pages (10x): queue and dashboard p95 ≤ 150 ms at 1,000,000 rows")
    assert lines[bulk + 1].split()[-2:] == ["0.80", "yes"]
    assert lines[bulk + 2].split()[-2:] == ["1.10", "NO"]
    assert lines[web + 1].split()[-2:] == ["0.50", "yes"]


def _load(*, rate: float, p95: float = 100.0, p99: float = 120.0, errors: int = 0):
    from bench.web import Load

    return Load(requests=int(rate * 10), seconds=10.0, p50=50.0, p95=p95, p99=p99, errors=errors)


def test_web_levels_judge_latency_at_the_lowest_and_holding_up_above_it():
    from bench.web import _level_rows

    # given: 2 connections within the target; at 32 the same throughput (Little's law puts
    # its latency at 32 ÷ 200 req/s = 160 ms); at 128 the throughput collapsed
    loads = [
        (2, _load(rate=200, p95=120)),
        (32, _load(rate=190, p95=400)),
        (128, _load(rate=100, p95=1500)),
    ]

    # when
    rows = _level_rows("reviewer queue", loads, statistic="p95", limit=150)

    # then
    assert [row["ok"] for row in rows] == [True, True, False]
    assert rows[0]["target"] == "reviewer queue, 2 connections: p95 ≤ 150 ms"
    assert "Little's law 168 ms" in rows[1]["measured"]
    assert table.ratio_of(rows[1]) == pytest.approx(0.95 / 0.8, rel=0.01)
    assert all(table.section_of(row)[0] == "web pages" for row in rows)


def test_a_web_level_with_errors_fails_whatever_its_throughput():
    from bench.web import _level_rows

    loads = [(2, _load(rate=200)), (32, _load(rate=400, errors=3))]

    rows = _level_rows("introspection, closed loop", loads, statistic="p99", limit=10)

    assert rows[0]["ok"] is False  # p99 120 ms against 10 ms
    assert rows[1]["ok"] is False
    assert "3 errors" in rows[1]["measured"]
    assert all(table.section_of(row)[0] == "introspection" for row in rows)
