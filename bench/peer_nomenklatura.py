"""The peer in the screening benchmark: OpenSanctions' nomenklatura matcher, LogicV2.

Runs in its own venv (``.venv-bench-peer``, from ``bench/requirements-peer.txt``): its pins
conflict with the project's. ``bench/screening.py`` writes the list entries and the query sets
to a JSON file and reads back, per query, the entities scored at or above yente's default
threshold (0.70) and the time the query took.

Candidates are blocked the way yente's index does it, without Elasticsearch: every name part
of every entry is indexed by its ASCII form and its metaphone key (yente's ``name_parts`` and
``name_phonetic`` fields), identifiers by their value; a query's candidates are the entries
sharing the most (rarity-weighted) keys, the 50 best (yente's candidate pool for 5 results),
each then scored by ``LogicV2.compare`` with the default configuration.

Run: ``python bench/peer_nomenklatura.py IN.json OUT.json`` (inside the peer venv).
"""

from __future__ import annotations

import json
import math
import re
import sys
import time
from collections import defaultdict

from followthemoney import model
from nomenklatura.matching import LogicV2
from nomenklatura.matching.types import ScoringConfig
from normality import ascii_text
from rigour.names import tokenize_name
from rigour.text.phonetics import metaphone

YENTE_THRESHOLD = 0.70
CANDIDATES = 50
_ID = re.compile(r"[^A-Z0-9]")


def _keys(name: str) -> set[str]:
    keys = set()
    for part in tokenize_name(name.lower()):
        ascii_part = (ascii_text(part) or "").lower()
        ascii_part = re.sub(r"[^a-z0-9]", "", ascii_part)
        if len(ascii_part) < 2:
            continue
        keys.add(f"n:{ascii_part}")
        phonetic = metaphone(ascii_part)
        if phonetic and len(phonetic) > 1:
            keys.add(f"p:{phonetic}")
    return keys


def _entity(schema: str, entity_id: str, names: list[str], props: dict[str, list[str]]):  # type: ignore[no-untyped-def]
    entity = model.make_entity(schema)
    entity.id = entity_id
    for name in names:
        entity.add("name", name, quiet=True)
    for prop, values in props.items():
        for value in values:
            entity.add(prop, value, quiet=True)
    return entity


def main() -> int:
    with open(sys.argv[1], encoding="utf-8") as handle:
        data = json.load(handle)
    config = ScoringConfig.defaults()
    entities = []
    postings: dict[str, list[int]] = defaultdict(list)
    for position, entry in enumerate(data["entries"]):
        entities.append(
            _entity(entry["schema"], f"e{entry['id']}", entry["names"], entry.get("props", {}))
        )
        keys: set[str] = set()
        for name in entry["names"]:
            keys |= _keys(name)
        for values in entry.get("props", {}).values():
            keys |= {f"i:{_ID.sub('', v.upper())}" for v in values}
        for key in keys:
            postings[key].append(position)
    total = len(entities)
    # Warm up (reference data, ICU transliterators) outside the timed queries.
    LogicV2.compare(_entity("Person", "warm-up", ["Warm Up"], {}), entities[0], config)
    results = []
    for number, query in enumerate(data["queries"]):
        started = time.perf_counter()
        entity = _entity(query["schema"], f"q{number}", [query["name"]], query.get("props", {}))
        keys = _keys(query["name"])
        keys |= {
            f"i:{_ID.sub('', t.upper())}"
            for t in query["name"].split()
            if any(c.isdigit() for c in t)
        }
        weights: dict[int, float] = defaultdict(float)
        for key in keys:
            found = postings.get(key, ())
            if not found:
                continue
            idf = math.log(1 + total / len(found))
            for position in found:
                weights[position] += idf
        ranked = sorted(weights, key=lambda p: (-weights[p], p))[:CANDIDATES]
        hits = []
        for position in ranked:
            result = LogicV2.compare(entity, entities[position], config)
            if result.score >= YENTE_THRESHOLD:
                hits.append([data["entries"][position]["id"], round(result.score, 4)])
        elapsed = (time.perf_counter() - started) * 1000
        results.append({"hits": hits, "ms": elapsed})
    with open(sys.argv[2], "w", encoding="utf-8") as handle:
        json.dump(results, handle)
    return 0


if __name__ == "__main__":
    sys.exit(main())
