"""python manage.py feed_usage: a sample of usage so the demo shows every kind of alert."""

from __future__ import annotations

import io
import json

import pytest
from django.core.management import CommandError, call_command
from django.utils import timezone

from portal.eligibility.models import ModelRule
from portal.usage.models import AlertKind, UsageAlert, UsageEvent
from provisioning.credentials.services import credential_revoke
from tests.factories import CompletePersonFactory, StageFactory
from tests.provisioning_fakes import active_grant, issue

pytestmark = pytest.mark.django_db


def _run(*args: str) -> str:
    out = io.StringIO()
    call_command("feed_usage", *args, stdout=out)
    return out.getvalue()


def test_the_sample_raises_an_alert_of_every_kind_when_the_data_allows_it():
    stage = StageFactory(monthly_quota=500)
    grant = active_grant(stage=stage)
    ModelRule.objects.create(covered_model=stage.covered_model, denied_residence=["RU"])
    issue(grant, CompletePersonFactory(organisation=grant.organisation))
    gone = issue(grant, CompletePersonFactory(organisation=grant.organisation)).credential
    credential_revoke(actor=None, credential=gone, reason="left")

    output = _run("--sample")

    kinds = set(UsageAlert.objects.values_list("kind", flat=True))
    assert kinds == {AlertKind.DENIED_COUNTRY, AlertKind.INACTIVE_KEY, AlertKind.OVER_QUOTA}
    assert "rejected 1" in output
    assert "event " in output  # the malformed sample event's reasons are shown


def test_the_sample_says_what_it_cannot_show_and_changes_no_access():
    grant = active_grant()
    key = issue(grant, CompletePersonFactory(organisation=grant.organisation)).credential

    output = _run("--sample")

    assert "No rule in force denies a country" in output
    assert "Every key is active" in output
    key.refresh_from_db()
    assert key.state == "active"
    assert UsageAlert.objects.filter(kind=AlertKind.OVER_QUOTA).count() == 1


def test_it_feeds_a_json_file(tmp_path):
    grant = active_grant()
    key = issue(grant).credential
    path = tmp_path / "events.json"
    path.write_text(
        json.dumps(
            [
                {
                    "key_prefix": key.key_prefix,
                    "model": grant.covered_model.slug,
                    "time": timezone.now().isoformat(),
                    "source_country": "DE",
                    "requests": 4,
                }
            ]
        )
    )

    output = _run(str(path))

    assert "Accepted 1 event(s), rejected 0" in output
    assert UsageEvent.objects.get().source_country == "DE"


def test_it_needs_either_a_sample_or_a_file():
    with pytest.raises(CommandError, match="either --sample or a JSON file"):
        _run()
