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

Names are compared as ``NameForm``s (``normalise.name_forms``): each reading of the name (pinyin
and Wade-Giles for Han, Revised Romanization and McCune-Reischauer for Hangul, ``anyascii`` for
the rest) with legal forms taken out and compared as classes, vessel prefixes dropped, and
numbers kept apart. Readings of scripts written without vowels (Arabic, Hebrew, Devanagari ...)
meet list tokens by consonant skeleton. Identifiers (IMO numbers, aircraft registrations,
passport and national id numbers, in the query or in the entry's remarks) match exactly and
score 1.0; a number that differs lowers the score. Only an exact normalised name or an
identifier scores 1.0; ties are broken by exact-form equality, then entity id as a number.
Every match carries its evidence: the aligned tokens, how each matched, the reading used.
"""

from __future__ import annotations

import datetime as dt
import re
import threading
from collections.abc import Iterable, Sequence
from dataclasses import dataclass, field
from functools import lru_cache
from typing import Any

from rapidfuzz.distance import OSA, JaroWinkler

from portal.screening import dates
from portal.screening.normalise import (
    NameForm,
    consonant_key,
    korean_key,
    long_vowels_agree,
    loose_key,
    name_forms,
    skeleton,
)
from portal.screening.records import EntryRecord, NameRecord
from portal.screening.transliteration import KOREAN_SCHEMES, SYLLABIC_SCHEMES

NAME_WEIGHT_QUERY = 0.75
NAME_WEIGHT_LISTED = 0.25
SINGLE_TOKEN_FACTOR = 0.85
DOB_EXACT_BONUS = 0.05
DOB_YEAR_BONUS = 0.02
DOB_MISMATCH_PENALTY = 0.15
COUNTRY_BONUS = 0.03
COUNTRY_MISMATCH_PENALTY = 0.05
LEGAL_FORM_MISMATCH_PENALTY = 0.05
NUMBER_MISMATCH_PENALTY = 0.2
NUMBER_MISSING_PENALTY = 0.05
NOT_EXACT_CEILING = 0.99
LEGAL_FORM_WEIGHT = 6
SHORT_TOKEN = 5
SHORT_SUBSTITUTION_SIMILARITY = 0.6
# Readings of scripts without an h (Greek): the list's spelling with its h dropped.
LOOSE_SCHEMES = frozenset({"anyascii (foreign name)"})
LOOSE_SIMILARITY = 0.97
# Every syllable of a Han or Hangul name counts: one the list has and the query lacks.
UNMATCHED_SYLLABLE_PENALTY = 0.1
FEMININE_SURNAME_SIMILARITY = 0.75
SURNAME_MISSING_PENALTY = 0.1
_MASCULINE_ENDINGS = ("ov", "ev", "in", "yn", "sky", "ski", "iy")
# Consonant-skeleton matches of vowelless readings, by the skeleton's length.
CONSONANT_SIMILARITY = {1: 0.8, 2: 0.9, 3: 0.95}
CONSONANT_SIMILARITY_LONG = 0.97
# One consonant more or less (a doubled letter written once, a dropped glottal stop).
CONSONANT_NEAR_SIMILARITY = 0.88
_ID_IN_TEXT = re.compile(r"\b(?:IMO\s*)?([A-Z0-9][A-Z0-9/-]{2,}[A-Z0-9])\b", re.IGNORECASE)
_DIGIT = re.compile(r"\d")


def identifiers_in(text: str, *, registrations: bool = False, whole: bool = False) -> set[str]:
    """Identifier-like strings of ``text``, upper case without separators: numbers of five
    characters or more that hold a digit (IMO, passport, national id, MSN), and, when
    ``registrations``, hyphenated aircraft registrations (EP-GOM)."""
    found = set()
    for match in _ID_IN_TEXT.finditer(text):
        raw = match.group(1)
        compact = re.sub(r"[^A-Za-z0-9]", "", raw).upper()
        numbered = len(compact) >= 5 and _DIGIT.search(compact)
        if numbered or (registrations and "-" in raw and 4 <= len(compact) <= 8):
            found.add(compact)
    if whole:
        # A query that is one registration written with a space (EK 30064) or run together.
        joined = re.sub(r"[^A-Za-z0-9]", "", text).upper()
        if 4 <= len(joined) <= 10 and _DIGIT.search(joined):
            found.add(joined)
    return found


def allowed_edits(length: int) -> int:
    """How many edits a token of ``length`` letters may differ by and still meet another."""
    # Two edits only in a long name: Morozov and Mironov are two names, not one typo apart.
    if length <= 3:
        return 0
    if length <= 7:
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
    evidence: dict[str, Any] = field(default_factory=dict)
    exact: bool = False

    def evidence_lines(self) -> list[str]:
        """The evidence in words, as kept with the match and shown to the officer."""
        lines = []
        if self.evidence.get("reading"):
            lines.append(f"reading used: {self.evidence['reading']}")
        for pair in self.evidence.get("aligned", []):
            lines.append(
                f"aligned {pair['screened']!r} → {pair['listed']!r}: {pair['how']} "
                f"({pair['similarity']:.2f})"
            )
        return lines

    def as_dict(self) -> dict[str, object]:
        return {
            "evidence": self.evidence,
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


@dataclass(frozen=True)
class _QueryToken:
    written: str  # the folded token of the reading, as shown to the officer
    key: str  # its phonetic skeleton (or consonant skeleton when vowelless)


def _scoring_tokens(form: NameForm) -> tuple[_QueryToken, ...]:
    # Initials carry too little to block or score on.
    if form.vowelless:
        return tuple(_QueryToken(t, consonant_key(t)) for t in form.tokens if consonant_key(t))
    if form.scheme in SYLLABIC_SCHEMES:
        # A one-letter syllable (Su-a) is part of the name, not an initial.
        return tuple(_QueryToken(t, skeleton(t)) for t in form.tokens)
    return tuple(_QueryToken(t, skeleton(t)) for t in form.tokens if len(t) > 1)


@dataclass
class _Best:
    score: float
    name_idx: int
    form_id: int
    query: NameForm
    aligned: list[dict[str, Any]]
    adjustments: list[str]
    exact: bool


class ScreeningIndex:
    """Every name of a set of list versions, indexed for blocking; immutable once built."""

    def __init__(self, entries: Sequence[EntryRecord], names: Sequence[NameRecord]) -> None:
        self.entries = list(entries)
        self.names = list(names)
        self.form_name: list[int] = []
        self.form_lengths: list[tuple[int, ...]] = []
        self.form_tokens: list[tuple[int, ...]] = []
        self.form_info: list[NameForm] = []
        # The skeletons of an individual's family name (the part before the comma), per form.
        self.form_surnames: list[frozenset[str] | None] = []
        # One-token forms by their token: they need one hit, not two, to be candidates.
        self.single_forms: dict[int, list[int]] = {}
        self.vocab: dict[str, int] = {}
        self.vocab_tokens: list[str] = []
        self.vocab_written: list[str] = []
        self.postings: list[list[int]] = []
        self.keys: dict[str, list[int]] = {}
        self.consonants: dict[str, list[int]] = {}
        self.consonant_deletions: dict[str, list[int]] = {}
        self.korean: dict[str, list[int]] = {}
        self.loose: dict[str, list[int]] = {}
        self._spellings: set[str] = set()
        # Identifier (upper case, no separators) → entry positions.
        self.identifiers: dict[str, list[int]] = {}
        self.entry_identifiers: list[frozenset[str]] = []
        # How many name forms the last search aligned: the blocking index's work, observable.
        self.last_scored = 0
        for position, entry in enumerate(self.entries):
            ids = identifiers_in(entry.remarks)
            if entry.entry_type in {"aircraft", "vessel"}:
                ids |= identifiers_in(entry.primary_name, registrations=True)
            self.entry_identifiers.append(frozenset(ids))
            for identifier in ids:
                self.identifiers.setdefault(identifier, []).append(position)
        for name_idx, record in enumerate(self.names):
            entry = self.entries[record.entry]
            if entry.entry_type in {"aircraft", "vessel"}:
                for identifier in identifiers_in(record.name, registrations=True):
                    if record.entry not in self.identifiers.get(identifier, []):
                        self.identifiers.setdefault(identifier, []).append(record.entry)
            surname = _surname_keys(record.name) if entry.entry_type == "individual" else None
            for form in name_forms(record.name):
                written = [t for t in form.tokens if len(t) > 1]
                if not written:
                    continue
                form_id = len(self.form_name)
                self.form_surnames.append(surname)
                self.form_name.append(name_idx)
                self.form_info.append(form)
                tokens = [skeleton(t) for t in written]
                self.form_lengths.append(tuple(len(t) for t in tokens))
                vocab_ids = tuple(
                    self._vocab_id(token, raw) for token, raw in zip(tokens, written, strict=True)
                )
                self.form_tokens.append(vocab_ids)
                for vocab_id in set(vocab_ids):
                    self.postings[vocab_id].append(form_id)
                if len(vocab_ids) == 1:
                    self.single_forms.setdefault(vocab_ids[0], []).append(form_id)

    def _vocab_id(self, token: str, written: str) -> int:
        vocab_id = self.vocab.get(token)
        if vocab_id is None:
            vocab_id = len(self.vocab_tokens)
            self.vocab[token] = vocab_id
            self.vocab_tokens.append(token)
            self.vocab_written.append(written)
            self.postings.append([])
            for key in _deletions(token):
                self.keys.setdefault(key, []).append(vocab_id)
        if written not in self._spellings:
            # Every spelling of a skeleton gets its own keys: khouri and houri share the
            # skeleton huri, not their consonants.
            self._spellings.add(written)
            self.korean.setdefault(korean_key(written), []).append(vocab_id)
            self.loose.setdefault(loose_key(written), []).append(vocab_id)
            consonants = consonant_key(written)
            if consonants:
                self.consonants.setdefault(consonants, []).append(vocab_id)
                if len(consonants) >= 4:
                    for i in range(_first_consonant(consonants), len(consonants)):
                        shorter = consonants[:i] + consonants[i + 1 :]
                        self.consonant_deletions.setdefault(shorter, []).append(vocab_id)
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
            longest = max(len(token), len(other))
            limit = allowed_edits(longest)
            # Optimal string alignment: two letters swapped is one typo, not two.
            distance = OSA.distance(token, other, score_cutoff=limit)
            if distance <= limit:
                # Jaro-Winkler alone forgives two edits in a short token too readily; the
                # edit-distance half keeps near-miss namesakes (Haqqani/Haswani) below the line.
                similarity = 0.5 * (JaroWinkler.similarity(token, other) + 1 - distance / longest)
                shortest = min(len(token), len(other))
                short = longest <= SHORT_TOKEN or shortest < SHORT_TOKEN
                if (
                    distance
                    and (short or (distance > 1 and shortest <= SHORT_TOKEN))
                    and not (distance == 1 and sorted(token) == sorted(other))
                ):
                    # A different letter in a short name is usually another name (Karim,
                    # Kasim; Omar, Omairi): it supports a match, it cannot make one. A swap of
                    # two letters stays a typo.
                    similarity = min(similarity, SHORT_SUBSTITUTION_SIMILARITY)
                if _gendered_pair(token, other):
                    # Lebedeva is Lebedev's wife or daughter, not a spelling of him.
                    similarity = min(similarity, FEMININE_SURNAME_SIMILARITY)
                similar[vocab_id] = similarity
        return similar

    def _similar_consonants(self, key: str) -> dict[int, float]:
        """List tokens with the same consonant skeleton as a vowelless reading's token."""
        similar: dict[int, float] = {}
        if len(key) >= 4:
            # One consonant more in the list's spelling, or one more in the query's.
            for vocab_id in self.consonant_deletions.get(key, ()):
                similar[vocab_id] = CONSONANT_NEAR_SIMILARITY
            for i in range(_first_consonant(key), len(key)):
                for vocab_id in self.consonants.get(key[:i] + key[i + 1 :], ()):
                    similar[vocab_id] = CONSONANT_NEAR_SIMILARITY
        similarity = CONSONANT_SIMILARITY.get(len(key), CONSONANT_SIMILARITY_LONG)
        similar.update(dict.fromkeys(self.consonants.get(key, ()), similarity))
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
        query_forms = [f for f in name_forms(name) if _scoring_tokens(f)]
        self.last_scored = 0
        token_cache: dict[tuple[str, bool], dict[int, float]] = {}
        best: dict[int, _Best] = {}
        country_set = {c.upper() for c in countries if c}
        bonus = (DOB_EXACT_BONUS if date_of_birth else 0.0) + (COUNTRY_BONUS if country_set else 0)
        # No form covering less of the query than this can reach the threshold.
        min_coverage = max(0.0, (threshold - bonus - NAME_WEIGHT_LISTED) / NAME_WEIGHT_QUERY)
        for query in query_forms:
            self._score_form(
                query, token_cache, best, min_coverage=min_coverage, floor=threshold - bonus
            )
        query_ids = identifiers_in(name[:1000], registrations=True, whole=True)
        # Only a number written as one differs for sure: a hyphenated word (Al-Dari) may be no
        # registration, and a name with a number (RUNG RA 1) is no identifier.
        query_numbers = {
            i for i in identifiers_in(name[:1000], registrations=True) if _DIGIT.search(i)
        }
        id_hits: dict[int, list[str]] = {}
        for identifier in sorted(query_ids):
            for entry_idx in self.identifiers.get(identifier, ()):
                id_hits.setdefault(entry_idx, []).append(identifier)
        results = []
        for entry_idx in set(best) | set(id_hits):
            entry = self.entries[entry_idx]
            found = best.get(entry_idx)
            reasons: list[str] = []
            evidence: dict[str, Any] = {}
            if found is not None:
                record = self.names[found.name_idx]
                name_score = found.score
                reasons.append(
                    f"name {found.score:.2f} against the {record.kind} name {record.name!r} "
                    f"({len(found.aligned)} of {len(_scoring_tokens(found.query))} "
                    "screened tokens matched)"
                )
                reasons += found.adjustments
                evidence = {
                    "reading": found.query.scheme,
                    "aligned": found.aligned,
                    "legal_forms": {
                        "screened": sorted(found.query.legal_forms),
                        "listed": sorted(self.form_info[found.form_id].legal_forms),
                    },
                }
                exact = found.exact
            else:
                record = next(n for n in self.names if n.entry == entry_idx)
                name_score = 0.0
                exact = False
            score = name_score
            if entry_idx in id_hits:
                ids = id_hits[entry_idx]
                reasons.insert(0, f"identifier {', '.join(ids)} is listed for this entry")
                evidence.setdefault("aligned", [])
                evidence["identifiers"] = ids
                evidence["aligned"] = [
                    *({"screened": i, "listed": i, "how": "identifier", "similarity": 1.0}
                      for i in ids),
                    *evidence["aligned"],
                ]  # fmt: skip
                score = 1.0
                exact = True
            elif query_numbers and self.entry_identifiers[entry_idx] and found is not None:
                listed_ids = ", ".join(sorted(self.entry_identifiers[entry_idx])[:5])
                reasons.append(
                    f"identifier {', '.join(sorted(query_numbers))} differs from the listed "
                    f"{listed_ids}"
                )
                score -= NUMBER_MISMATCH_PENALTY
            score += _dob_adjustment(date_of_birth, entry, reasons)
            score += _country_adjustment(country_set, entry, reasons)
            score = max(0.0, min(1.0 if exact else NOT_EXACT_CEILING, score))
            if score < threshold:
                continue
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
                    evidence=evidence,
                    exact=exact,
                )
            )
        results.sort(key=rank_key)
        return results[:limit] if limit else results

    def _score_form(
        self,
        query_form: NameForm,
        token_cache: dict[tuple[str, bool], dict[int, float]],
        best: dict[int, _Best],
        *,
        min_coverage: float,
        floor: float,
    ) -> None:
        query_tokens = _scoring_tokens(query_form)
        query = tuple(t.key for t in query_tokens)
        vowelless = query_form.vowelless
        syllabic = query_form.scheme in SYLLABIC_SCHEMES
        similar: list[dict[int, float]] = []
        for token in query:
            found = token_cache.get((token, vowelless))
            if found is None:
                found = token_cache[(token, vowelless)] = (
                    self._similar_consonants(token) if vowelless else self._similar_tokens(token)
                )
            if query_form.long_vowels:
                written = query_tokens[len(similar)].written
                found = {
                    v: sim
                    for v, sim in found.items()
                    if sim == CONSONANT_NEAR_SIMILARITY
                    or long_vowels_agree(written, self.vocab_tokens[v])
                }
            if syllabic:
                found = {v: sim for v, sim in found.items() if sim >= 1.0}
            if query_form.scheme in LOOSE_SCHEMES:
                written = query_tokens[len(similar)].written
                loose = dict.fromkeys(self.loose.get(loose_key(written), ()), LOOSE_SIMILARITY)
                # The better of the two: a short name's typo cap must not undercut its
                # Greek spelling (Αμαντ is Ahmad, not a typo of it).
                found = {**loose, **{v: max(sim, loose.get(v, 0.0)) for v, sim in found.items()}}
            if query_form.scheme in KOREAN_SCHEMES:
                written = query_tokens[len(similar)].written
                found = {**found, **dict.fromkeys(self.korean.get(korean_key(written), ()), 1.0)}
            similar.append(found)
        postings = self.postings
        containing = [set().union(*(postings[v] for v in found)) for found in similar]
        # A vowelless token's weight is the length of what it stands for, not of its consonants.
        query_lengths = [max(len(t), 2 * len(t) - 1) if vowelless else len(t) for t in query]
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
            form_vocab = self.form_tokens[form_id]
            form_hits = [
                (similar[q_pos][vocab_id], q_pos, c_pos)
                for c_pos, vocab_id in enumerate(form_vocab)
                for q_pos in met
                if vocab_id in similar[q_pos]
            ]
            # Greedy one-to-one alignment, strongest pairs first, ties in reading order.
            form_hits.sort(key=lambda hit: (-hit[0], hit[1], hit[2]))
            used_q: set[int] = set()
            used_c: set[int] = set()
            covered_q = covered_c = 0.0
            pairs: list[tuple[float, int, int]] = []
            for sim, q_pos, c_pos in form_hits:
                if q_pos in used_q or c_pos in used_c:
                    continue
                used_q.add(q_pos)
                used_c.add(c_pos)
                pairs.append((sim, q_pos, c_pos))
                covered_q += sim * query_lengths[q_pos]
                covered_c += sim * listed_lengths[c_pos]
            if len(used_q) < needed:
                continue
            listed_form = self.form_info[form_id]
            listed_total = sum(listed_lengths)
            if listed_form.legal_forms and not query_form.legal_forms:
                # An organisation's legal form the screened name lacks still counts as unmet.
                listed_total += LEGAL_FORM_WEIGHT
            score = NAME_WEIGHT_QUERY * covered_q / query_total + NAME_WEIGHT_LISTED * (
                covered_c / listed_total
            )
            if len(query) == 1 and len(listed_lengths) > 1:
                score *= SINGLE_TOKEN_FACTOR
            adjustments: list[str] = []
            surname = self.form_surnames[form_id]
            if surname and not any(self.vocab_tokens[form_vocab[c]] in surname for c in used_c):
                # Given names shared, family name not: usually a namesake, not the person.
                score -= SURNAME_MISSING_PENALTY
                adjustments.append("the listed family name is not in the screened name")
            if syllabic and len(used_c) < len(listed_lengths):
                missing = len(listed_lengths) - len(used_c)
                score -= UNMATCHED_SYLLABLE_PENALTY * missing
                adjustments.append(f"{missing} listed syllable(s) not in the screened name")
            score -= _form_adjustment(query_form, listed_form, adjustments)
            name_idx = self.form_name[form_id]
            entry_idx = self.names[name_idx].entry
            exact = (
                sorted(query_form.tokens) == sorted(listed_form.tokens)
                and query_form.numbers == listed_form.numbers
                and not (
                    query_form.legal_forms
                    and listed_form.legal_forms
                    and query_form.legal_forms != listed_form.legal_forms
                )
            )
            current = best.get(entry_idx)
            if current is not None and (score, exact) <= (current.score, current.exact):
                continue
            aligned = [
                {
                    "screened": query_tokens[q_pos].written,
                    "listed": self.vocab_written[form_vocab[c_pos]],
                    "how": _how(query_form, query_tokens[q_pos].written,
                                self.vocab_written[form_vocab[c_pos]], sim),
                    "similarity": round(sim, 3),
                }
                for sim, q_pos, c_pos in sorted(pairs, key=lambda p: p[1])
            ]  # fmt: skip
            for written, cls in zip(
                listed_form.written_forms, sorted(listed_form.legal_forms), strict=False
            ):
                if cls in query_form.legal_forms:
                    aligned.append(
                        {"screened": cls, "listed": written, "how": "legal form", "similarity": 1.0}
                    )
            best[entry_idx] = _Best(
                score, name_idx, form_id, query_form, aligned, adjustments, exact
            )


def _first_consonant(key: str) -> int:
    """Where a consonant skeleton's letters begin: its written initial vowel (``a``) is no
    consonant a near match may leave out (Ephraim, afrm, is not Firm; Esther is not Zaitar)."""
    return 1 if key.startswith("a") else 0


def _surname_keys(name: str) -> frozenset[str] | None:
    """Skeletons of the family name of a ``LAST, First`` name; None when it is not one."""
    last, comma, first = name.partition(",")
    if not comma or not first.strip() or "," in first:
        return None
    keys = {skeleton(t) for f in name_forms(last) for t in f.tokens if len(t) > 1}
    return frozenset(keys) or None


def _gendered_pair(a: str, b: str) -> bool:
    short, long = sorted((a, b), key=len)
    return long == short + "a" and short.endswith(_MASCULINE_ENDINGS)


def rank_key(match: Match) -> tuple[float, bool, int, str, str]:
    """Best first: score, then an exact form or identifier, then entity id as a number."""
    numeric = int(match.entity_id) if match.entity_id.isdigit() else 10**18
    return (-round(match.score, 6), not match.exact, numeric, match.entity_id, match.source_list)


def _how(form: NameForm, screened: str, listed: str, similarity: float) -> str:
    if form.vowelless:
        return f"transliterated ({form.scheme}), phonetic by consonants"
    if form.scheme != "latin":
        kind = "exact" if similarity >= 1.0 else "typo"
        return f"transliterated ({form.scheme}), {kind}"
    if screened == listed:
        return "exact"
    if similarity >= 1.0:
        return "phonetic"
    return "typo"


def _form_adjustment(query: NameForm, listed: NameForm, reasons: list[str]) -> float:
    """Legal forms compared as classes; numbers of the name compared exactly."""
    penalty = 0.0
    if query.legal_forms and listed.legal_forms:
        compatible = (
            query.legal_forms & listed.legal_forms
            or "company" in query.legal_forms | listed.legal_forms
        )
        if not compatible:
            reasons.append(
                f"legal form {', '.join(sorted(query.legal_forms))} differs from the listed "
                f"{', '.join(sorted(listed.legal_forms))}"
            )
            penalty += LEGAL_FORM_MISMATCH_PENALTY
    if query.numbers != listed.numbers:
        if query.numbers and listed.numbers:
            reasons.append(
                f"number {', '.join(sorted(query.numbers))} differs from the listed "
                f"{', '.join(sorted(listed.numbers))}"
            )
            penalty += NUMBER_MISMATCH_PENALTY
        elif listed.numbers:
            reasons.append(f"the listed name has the number {', '.join(sorted(listed.numbers))}")
            penalty += NUMBER_MISSING_PENALTY
    return penalty


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
