"""A sample of usage events drawn from the data in the database, for the demo.

It reports ordinary use for a few active keys, then one event for each alert rule when
the data allows it: use from a country that a rule in force denies, use of a key that is
not active, and use beyond a grant's monthly quota. What cannot be shown is said, with
what to do so that it can (the sample never changes anyone's access to make a point).
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

from django.utils import timezone

from portal.eligibility.rules import rules_in_force
from portal.usage.validation import MAX_REQUESTS_PER_EVENT
from provisioning.catalog.models import CoveredModel
from provisioning.credentials.models import Credential, CredentialState
from provisioning.grants.models import GrantState


@dataclass
class Sample:
    events: list[dict[str, Any]] = field(default_factory=list)
    notes: list[str] = field(default_factory=list)


def _event(credential: Credential, country: str, requests: int) -> dict[str, Any]:
    return {
        "key_prefix": credential.key_prefix,
        "model": credential.grant.covered_model.slug,
        "time": timezone.now().isoformat(),
        "source_country": country,
        "requests": requests,
    }


def _keys() -> Any:
    return Credential.objects.select_related("person", "grant__covered_model").order_by("pk")


def sample_events(*, ordinary: int = 5) -> Sample:
    sample = Sample()
    active = list(
        _keys().filter(state=CredentialState.ACTIVE, grant__state=GrantState.ACTIVE)[:200]
    )
    for credential in active[:ordinary]:
        sample.events.append(_event(credential, credential.person.residence_country or "US", 25))

    model_ids = {c.grant.covered_model_id for c in active}
    rules = rules_in_force(CoveredModel.objects.filter(pk__in=model_ids))
    denied = next(
        (
            (credential, sorted(rules[credential.grant.covered_model_id].denied_residence)[0])
            for credential in active
            if rules[credential.grant.covered_model_id].denied_residence
        ),
        None,
    )
    if denied:
        sample.events.append(_event(denied[0], denied[1], 3))
    else:
        sample.notes.append(
            "No rule in force denies a country of residence for a model with an active key, "
            "so no event shows use from a denied country. Put a determination in force that "
            "denies one (or set a model's default rule) and run the sample again."
        )

    inactive = _keys().exclude(state=CredentialState.ACTIVE).order_by("-updated_at", "-pk").first()
    if inactive:
        sample.events.append(_event(inactive, inactive.person.residence_country or "US", 1))
    else:
        sample.notes.append(
            "Every key is active, so no event shows use of an inactive key. Suspend or revoke "
            "a key (for example with a bulk action or the emergency stop) and run the sample "
            "again."
        )

    if active:
        heavy = active[-1]
        remaining = heavy.grant.monthly_quota + 1
        while remaining > 0:
            chunk = min(remaining, MAX_REQUESTS_PER_EVENT)
            sample.events.append(_event(heavy, heavy.person.residence_country or "US", chunk))
            remaining -= chunk
    else:
        sample.notes.append("No active key exists, so no event shows use beyond a quota.")

    # And one event a gateway got wrong, to show that a batch keeps its good events.
    sample.events.append(
        {
            "key_prefix": "clr_not-a-prefix",
            "model": "",
            "time": "now",
            "source_country": "ZZ",
            "requests": 0,
        }
    )
    return sample
