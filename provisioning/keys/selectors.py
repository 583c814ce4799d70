"""Why keys and grants are suspended, in words: the reasons of grants (grants), of single
keys (a bulk action's person rule, certification) and of emergency stops (bulk) read
together: the keys pages and the partner's overview word them alike."""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from typing import Any

from django.db.models import QuerySet

from provisioning.bulk.models import CredentialReason
from provisioning.bulk.selectors import stop_references_named
from provisioning.credentials.models import Credential, CredentialState
from provisioning.grants.models import GrantState, GrantSuspension
from provisioning.grants.reasons import REASON_WORDS, reason_words


def grant_reason_words(grant_ids: Iterable[int]) -> dict[int, set[str]]:
    """Why each of these grants is suspended, in words, a stop under a determination named
    as that determination: the keys pages and the partner's overview word it alike. One
    query, and one more when a stop is among the reasons."""
    rows = list(
        GrantSuspension.objects.filter(grant_id__in=grant_ids).values_list(
            "grant_id", "kind", "reference"
        )
    )
    named = stop_references_named(row[2] for row in rows)
    words: dict[int, set[str]] = {}
    for grant_id, kind, reference in rows:
        words.setdefault(grant_id, set()).add(reason_words(kind, named.get(reference, reference)))
    return words


def suspension_reasons(credentials: Sequence[Credential]) -> dict[int, list[str]]:
    """Why each suspended key is suspended, in words: its grant's reasons, its own (a person
    rule, certification) and a screening hold. Two queries for a whole page of keys."""
    suspended = [c for c in credentials if c.state == CredentialState.SUSPENDED]
    grant_ids = {c.grant_id for c in suspended if c.grant.state == GrantState.SUSPENDED}
    by_grant = grant_reason_words(grant_ids)
    own: dict[int, set[str]] = {}
    for credential_id, kind, reference in CredentialReason.objects.filter(
        credential_id__in=[c.pk for c in suspended]
    ).values_list("credential_id", "kind", "reference"):
        own.setdefault(credential_id, set()).add(reason_words(kind, reference))
    reasons: dict[int, list[str]] = {}
    for credential in suspended:
        found = by_grant.get(credential.grant_id, set()) | own.get(credential.pk, set())
        if credential.held:
            found.add(REASON_WORDS["compliance"])
        reasons[credential.pk] = sorted(found) or ["Suspended"]
    return reasons


@dataclass(frozen=True)
class KeyRow:
    """One row of the keys page with its display values read once: the template only
    prints them (50 rows of nested lookups and choice labels were most of its rendering)."""

    pk: int
    prefix: str
    person: str
    organisation: str
    model: str
    stage: str
    state: str
    state_label: str
    version: int
    yours: bool  # the signed-in user is the key's holder: they may collect a new key
    reasons: list[str]
    sync: list[tuple[Any, str]]  # (target, words) per delivery target


def key_page_credentials() -> QuerySet[Credential]:
    """Keys with what ``key_page_rows`` and ``suspension_reasons`` read of them and nothing
    more: a whole row of each of six tables took more CPU to read than the page's HTML."""
    return Credential.objects.select_related(
        "person", "grant__organisation", "grant__covered_model", "grant__stage"
    ).only(
        "key_prefix",
        "state",
        "version",
        "held",
        "created_at",
        "grant_id",
        "person_id",
        "person__legal_name",
        "person__user_id",
        "grant__state",
        "grant__organisation__legal_name",
        "grant__covered_model__name",
        "grant__stage__name",
    )


def key_page_rows(
    credentials: Sequence[Credential],
    *,
    user_id: int | None,
    sync: dict[int, list[tuple[Any, str]]],
) -> list[KeyRow]:
    """The display rows of a page of keys (``key_page_credentials``); ``sync`` is each key's
    words per target."""
    reasons = suspension_reasons(credentials)
    return [
        KeyRow(
            pk=c.pk,
            prefix=c.key_prefix,
            person=c.person.legal_name,
            organisation=c.grant.organisation.legal_name,
            model=c.grant.covered_model.name,
            stage=c.grant.stage.get_name_display(),
            state=c.state,
            state_label=c.get_state_display(),
            version=c.version,
            yours=c.person.user_id is not None and c.person.user_id == user_id,
            reasons=reasons.get(c.pk, []),
            sync=sync.get(c.pk, []),
        )
        for c in credentials
    ]
