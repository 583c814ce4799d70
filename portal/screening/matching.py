"""Fuzzy matching of one name against every name of the lists in force, through an index.

The index lives in memory, built once per set of list versions and cached per process
(keyed by the version ids, so a new load builds a new one). Blocking: every token of every
list name is indexed by its phonetic skeleton and by its one- and two-character deletions,
so a screened token finds the list tokens within two edits without looking at the others;
only names sharing enough tokens with the query are scored.

Score (0-1): how much of the screened name is covered by the list name (75 %) and how much
of the list name is covered by the screened name (25 %), each token weighted by its length
and by its similarity (the mean of Jaro-Winkler and normalised edit similarity). A missing
middle name costs a little, a missing surname a lot. A date of birth or citizenship that
agrees raises the score; one that contradicts the entry lowers it.
"""

from __future__ import annotations

import datetime as dt
import threading
from collections.abc import Iterable, Sequence
from dataclasses import dataclass, field
from functools import lru_cache
from typing import Any

from rapidfuzz.distance import JaroWinkler, Levenshtein

from portal.screening import dates
from portal.screening.normalise import forms, skeleton

NAME_WEIGHT_QUERY = 0.75
NAME_WEIGHT_LISTED = 0.25
SINGLE_TOKEN_FACTOR = 0.85
DOB_EXACT_BONUS = 0.05
DOB_YEAR_BONUS = 0.02
DOB_MISMATCH_PENALTY = 0.15
COUNTRY_BONUS = 0.03
COUNTRY_MISMATCH_PENALTY = 0.05


def allowed_edits(length: int) -> int:
    """How many edits a token of ``length`` letters may differ by and still meet another."""
    if length <= 3:
        return 0
    if length <= 5:
        return 1
    return 2


@lru_cache(maxsize=65536)
def _deletions(token: str) -> frozenset[str]:
    """``token`` and every spelling of it with up to ``allowed_edits`` letters left out."""
    keys = {token}
    frontier = {token}
    for _ in range(allowed_edits(len(token))):
        frontier = {word[:i] + word[i + 1 :] for word in frontier for i in range(len(word))}
        keys |= frontier
    return frozenset(keys)


@dataclass(frozen=True)
class EntryRecord:
    pk: int
    source_list: str
    entity_id: str
    entry_type: str
    primary_name: str
    dates_of_birth: tuple[str, ...]
    citizenships: tuple[str, ...]
    content_hash: str


@dataclass(frozen=True)
class NameRecord:
    entry: int  # position in ScreeningIndex.entries
    name: str
    kind: str


@dataclass
class Match:
    entry_pk: int
    source_list: str
    entity_id: str
    entry_type: str
    primary_name: str
    matched_alias: str
    alias_kind: str
    score: float
    name_score: float
    content_hash: str
    reasons: list[str] = field(default_factory=list)

    def as_dict(self) -> dict[str, object]:
        return {
            "name": self.primary_name,
            "matched_alias": self.matched_alias,
            "alias_kind": self.alias_kind,
            "score": round(self.score, 4),
            "name_score": round(self.name_score, 4),
            "source": self.source_list,
            "entity_id": self.entity_id,
            "entry_type": self.entry_type,
            "reasons": self.reasons,
        }


def _scoring_tokens(form: Iterable[str]) -> tuple[str, ...]:
    # Initials carry too little to block or score on.
    return tuple(skeleton(t) for t in form if len(t) > 1)


class ScreeningIndex:
    """Every name of a set of list versions, indexed for blocking; immutable once built."""

    def __init__(self, entries: Sequence[EntryRecord], names: Sequence[NameRecord]) -> None:
        self.entries = list(entries)
        self.names = list(names)
        self.form_name: list[int] = []
        self.form_lengths: list[tuple[int, ...]] = []
        self.form_tokens: list[tuple[int, ...]] = []
        # One-token forms by their token: they need one hit, not two, to be candidates.
        self.single_forms: dict[int, list[int]] = {}
        self.vocab: dict[str, int] = {}
        self.vocab_tokens: list[str] = []
        self.postings: list[list[int]] = []
        self.keys: dict[str, list[int]] = {}
        # How many name forms the last search aligned: the blocking index's work, observable.
        self.last_scored = 0
        for name_idx, record in enumerate(self.names):
            for form in forms(record.name):
                tokens = _scoring_tokens(form)
                if not tokens:
                    continue
                form_id = len(self.form_name)
                self.form_name.append(name_idx)
                self.form_lengths.append(tuple(len(t) for t in tokens))
                vocab_ids = tuple(self._vocab_id(token) for token in tokens)
                self.form_tokens.append(vocab_ids)
                for vocab_id in set(vocab_ids):
                    self.postings[vocab_id].append(form_id)
                if len(vocab_ids) == 1:
                    self.single_forms.setdefault(vocab_ids[0], []).append(form_id)

    def _vocab_id(self, token: str) -> int:
        vocab_id = self.vocab.get(token)
        if vocab_id is None:
            vocab_id = len(self.vocab_tokens)
            self.vocab[token] = vocab_id
            self.vocab_tokens.append(token)
            self.postings.append([])
            for key in _deletions(token):
                self.keys.setdefault(key, []).append(vocab_id)
        return vocab_id

    def _similar_tokens(self, token: str) -> dict[int, float]:
        """List tokens within the allowed edits of ``token``, with their similarity."""
        found: set[int] = set()
        for key in _deletions(token):
            found.update(self.keys.get(key, ()))
        similar = {}
        for vocab_id in found:
            other = self.vocab_tokens[vocab_id]
            # The longer spelling sets the allowance: a typo that the skeleton turned into two
            # letters (x → ks) must not push a short token out of reach.
            limit = allowed_edits(max(len(token), len(other)))
            if Levenshtein.distance(token, other, score_cutoff=limit) <= limit:
                # Jaro-Winkler alone forgives two edits in a short token too readily; the
                # edit-distance half keeps near-miss namesakes (Haqqani/Haswani) below the line.
                similar[vocab_id] = 0.5 * (
                    JaroWinkler.similarity(token, other)
                    + Levenshtein.normalized_similarity(token, other)
                )
        return similar

    def search(
        self,
        name: str,
        *,
        date_of_birth: dt.date | None = None,
        countries: Iterable[str] = (),
        threshold: float = 0.0,
        limit: int | None = None,
    ) -> list[Match]:
        """List entries that may be ``name``, best first, each scored at or above ``threshold``."""
        query_forms = [t for t in (_scoring_tokens(f) for f in forms(name)) if t]
        self.last_scored = 0
        token_cache: dict[str, dict[int, float]] = {}
        best: dict[int, tuple[float, int, list[str]]] = {}  # entry → (score, name, reasons)
        country_set = {c.upper() for c in countries if c}
        bonus = (DOB_EXACT_BONUS if date_of_birth else 0.0) + (COUNTRY_BONUS if country_set else 0)
        # No form covering less of the query than this can reach the threshold.
        min_coverage = max(0.0, (threshold - bonus - NAME_WEIGHT_LISTED) / NAME_WEIGHT_QUERY)
        for query in query_forms:
            self._score_form(
                query, token_cache, best, min_coverage=min_coverage, floor=threshold - bonus
            )
        results = []
        for entry_idx, (name_score, name_idx, reasons) in best.items():
            entry = self.entries[entry_idx]
            score = name_score
            reasons = list(reasons)
            score += _dob_adjustment(date_of_birth, entry, reasons)
            score += _country_adjustment(country_set, entry, reasons)
            score = max(0.0, min(1.0, score))
            if score < threshold:
                continue
            record = self.names[name_idx]
            results.append(
                Match(
                    entry_pk=entry.pk,
                    source_list=entry.source_list,
                    entity_id=entry.entity_id,
                    entry_type=entry.entry_type,
                    primary_name=entry.primary_name,
                    matched_alias=record.name,
                    alias_kind=record.kind,
                    score=score,
                    name_score=name_score,
                    content_hash=entry.content_hash,
                    reasons=reasons,
                )
            )
        results.sort(key=lambda m: (-m.score, m.source_list, m.entity_id))
        return results[:limit] if limit else results

    def _score_form(
        self,
        query: tuple[str, ...],
        token_cache: dict[str, dict[int, float]],
        best: dict[int, tuple[float, int, list[str]]],
        *,
        min_coverage: float,
        floor: float,
    ) -> None:
        similar = []
        for token in query:
            found = token_cache.get(token)
            if found is None:
                found = token_cache[token] = self._similar_tokens(token)
            similar.append(found)
        postings = self.postings
        containing = [set().union(*(postings[v] for v in found)) for found in similar]
        query_lengths = [len(t) for t in query]
        query_total = sum(query_lengths)
        order = sorted(range(len(query)), key=lambda i: len(containing[i]))
        # Prefix filter, two ways, the cheaper wins. A form must meet two query tokens (one if
        # either side has a single token), so it meets one of the len(query) - 1 rarest; and it
        # must cover ``min_coverage`` of the query, so it meets one of the rarest tokens whose
        # complement cannot reach that coverage alone. Common tokens ("mohammed") are then only
        # looked up for the candidates, never walked.
        by_count = order[: max(1, len(query) - 1)]
        by_coverage: list[int] = []
        remaining = query_total
        for i in order:
            if remaining < min_coverage * query_total:
                break
            by_coverage.append(i)
            remaining -= query_lengths[i]
        candidates: set[int] = set()
        if sum(len(containing[i]) for i in by_coverage) <= sum(
            len(containing[i]) for i in by_count
        ):
            for i in by_coverage:
                candidates |= containing[i]
        else:
            for i in by_count:
                candidates |= containing[i]
            for i in order[len(by_count) :]:
                for vocab_id in similar[i]:
                    candidates.update(self.single_forms.get(vocab_id, ()))
        for form_id in candidates:
            listed_lengths = self.form_lengths[form_id]
            needed = min(2, len(query), len(listed_lengths))
            met = [i for i in range(len(query)) if form_id in containing[i]]
            if len(met) < needed or sum(query_lengths[i] for i in met) < min_coverage * (
                query_total
            ):
                continue
            if len(query) == 1 and len(listed_lengths) > 1:
                # One screened token against a longer name: bounded well below a full match.
                ceiling = SINGLE_TOKEN_FACTOR * (
                    NAME_WEIGHT_QUERY
                    + NAME_WEIGHT_LISTED * max(listed_lengths) / sum(listed_lengths)
                )
                if ceiling < floor:
                    continue
            self.last_scored += 1
            form_hits = [
                (similar[q_pos][vocab_id], q_pos, c_pos)
                for c_pos, vocab_id in enumerate(self.form_tokens[form_id])
                for q_pos in met
                if vocab_id in similar[q_pos]
            ]
            # Greedy one-to-one alignment, strongest pairs first.
            form_hits.sort(reverse=True)
            used_q: set[int] = set()
            used_c: set[int] = set()
            covered_q = covered_c = 0.0
            for sim, q_pos, c_pos in form_hits:
                if q_pos in used_q or c_pos in used_c:
                    continue
                used_q.add(q_pos)
                used_c.add(c_pos)
                covered_q += sim * query_lengths[q_pos]
                covered_c += sim * listed_lengths[c_pos]
            if len(used_q) < needed:
                continue
            score = NAME_WEIGHT_QUERY * covered_q / query_total + NAME_WEIGHT_LISTED * (
                covered_c / sum(listed_lengths)
            )
            if len(query) == 1 and len(listed_lengths) > 1:
                score *= SINGLE_TOKEN_FACTOR
            name_idx = self.form_name[form_id]
            entry_idx = self.names[name_idx].entry
            current = best.get(entry_idx)
            if current is None or score > current[0]:
                record = self.names[name_idx]
                best[entry_idx] = (
                    score,
                    name_idx,
                    [
                        f"name {score:.2f} against the {record.kind} name {record.name!r} "
                        f"({len(used_q)} of {len(query)} screened tokens matched)"
                    ],
                )


def _dob_adjustment(dob: dt.date | None, entry: EntryRecord, reasons: list[str]) -> float:
    if dob is None:
        return 0.0
    verdict = dates.compare(dob, list(entry.dates_of_birth))
    listed = ", ".join(entry.dates_of_birth)
    if verdict == "exact":
        reasons.append(f"date of birth {dob.isoformat()} matches the listed {listed}")
        return DOB_EXACT_BONUS
    if verdict == "year":
        reasons.append(f"year of birth {dob.year} agrees with the listed {listed}")
        return DOB_YEAR_BONUS
    if verdict == "mismatch":
        reasons.append(f"date of birth {dob.isoformat()} differs from the listed {listed}")
        return -DOB_MISMATCH_PENALTY
    return 0.0


def _country_adjustment(countries: set[str], entry: EntryRecord, reasons: list[str]) -> float:
    if not countries or not entry.citizenships:
        return 0.0
    listed = ", ".join(entry.citizenships)
    shared = countries & set(entry.citizenships)
    if shared:
        reasons.append(f"citizenship {', '.join(sorted(shared))} is among the listed {listed}")
        return COUNTRY_BONUS
    reasons.append(f"citizenship {', '.join(sorted(countries))} differs from the listed {listed}")
    return -COUNTRY_MISMATCH_PENALTY


# One index per process, for the set of versions in force; a new load changes the key. The
# key holds each version's file hash and load time too: ids alone can come back after a
# rolled-back load.
_cache: dict[tuple[tuple[int, str, str], ...], ScreeningIndex] = {}
_cache_lock = threading.Lock()


def index_for(versions: Sequence[Any]) -> ScreeningIndex:
    """The index of ``versions`` (ListVersion rows), built on first use in this process."""
    key = tuple(sorted((v.pk, v.sha256, v.loaded_at.isoformat()) for v in versions))
    index = _cache.get(key)
    if index is not None:
        return index
    with _cache_lock:
        index = _cache.get(key)
        if index is None:
            from portal.screening.selectors import index_records

            index = ScreeningIndex(*index_records([pk for pk, _, _ in key]))
            _cache.clear()
            _cache[key] = index
    return index


def clear_index_cache() -> None:
    with _cache_lock:
        _cache.clear()
