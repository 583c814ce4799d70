"""Why keys and grants are suspended, in words: the reasons of grants (grants), of single
keys (a bulk action's person rule, certification) and of emergency stops (bulk) read
together: the keys pages and the partner's overview word them alike."""

from __future__ import annotations

from collections.abc import Iterable, Sequence

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
