"""The story of DESIGN.md §1, told to the person who approves the restore.

Ops stop mythos-5; a determination blocks both models; a licence allows mythos-5 again
for trusted cyber-defence and critical-infrastructure partners, US persons only. Lifting
the stop is a restore whose plan lists, key by key, who comes back and who is held back
and why; the approver signs exactly that, and execution does exactly that.
"""

from __future__ import annotations

from typing import Any

import pytest
from django.urls import reverse

from portal.accounts.models import User
from portal.partners.models import Organisation
from provisioning.bulk.emergency import stop_lift_plan
from provisioning.bulk.models import BulkAction, BulkPlanKey, BulkState, PlanPart
from provisioning.bulk.services import PlanChanged, bulk_approve, bulk_execute
from provisioning.bulk.stop import model_emergency_stop
from provisioning.catalog.models import CoveredModel
from provisioning.credentials.models import Credential
from tests.api_helpers import api_client_for
from tests.conftest import client_for
from tests.story import (
    BLOCK,
    HELD_BACK,
    LICENCE,
    RESTORED,
    active_keys,
    demo_world,
    in_force,
    licence_drafted,
)

pytestmark = pytest.mark.django_db


@pytest.fixture
def story() -> dict[str, Any]:
    staff = demo_world()
    mythos = CoveredModel.objects.get(slug="mythos-5")
    stop = model_emergency_stop(covered_model=mythos, actor=staff["ops1"], reason="regulator")
    in_force(staff["compliance1"], staff["compliance2"], "BIS-2026-17", BLOCK)
    in_force(staff["compliance1"], staff["compliance2"], "BIS-2026-LIC-3", LICENCE)
    return {"staff": staff, "stop": stop.bulk_action}


def _part(action: BulkAction, part: str) -> dict[tuple[str, str], str]:
    return {
        (row.model, row.person): row.reason
        for row in BulkPlanKey.objects.filter(action=action, part=part)
    }


def test_the_lift_plan_lists_who_comes_back_and_who_is_held_back_and_why(story):
    # given the licence in force and the stop still holding
    assert active_keys() == set()

    # when ops press "Lift this stop"
    restore, _ = stop_lift_plan(stop=story["stop"], actor=story["staff"]["ops1"])

    # then the plan names each key in its part, with the reason it is held back
    assert set(_part(restore, PlanPart.BACK)) == RESTORED
    assert _part(restore, PlanPart.HELD) == HELD_BACK
    assert restore.credential_count == len(RESTORED)
    assert restore.held_count == len(HELD_BACK)
    assert restore.counts["organisation"] == {
        "Northwind Cyber Defense Inc.": 2,
        "Gridline Energy Cooperative": 2,
    }
    assert restore.held_counts["reason"] == {"organisation_not_allowed": 2, "person_rule": 1}
    li_wei = BulkPlanKey.objects.get(action=restore, person="Li Wei")
    assert "limited to US persons" in li_wei.detail and "Li Wei is not one" in li_wei.detail


def test_the_approved_plan_is_exactly_what_execution_restores(story):
    # given the lift planned by one ops user and approved by another
    staff = story["staff"]
    restore, _ = stop_lift_plan(stop=story["stop"], actor=staff["ops1"])
    bulk_approve(action=restore, actor=staff["ops2"])

    # when it runs
    restore = bulk_execute(action=restore, actor=staff["ops1"], run_now=True)

    # then exactly the planned keys came back; the held-back ones are still off
    assert active_keys() == set(_part(restore, PlanPart.BACK)) == RESTORED
    assert not active_keys() & set(HELD_BACK)
    story["stop"].refresh_from_db()
    assert story["stop"].stop_lifted_at is not None


def test_a_plan_whose_held_back_part_changed_is_refused_with_the_difference(story):
    # given an approved lift plan
    staff = story["staff"]
    restore, _ = stop_lift_plan(stop=story["stop"], actor=staff["ops1"])
    bulk_approve(action=restore, actor=staff["ops2"])
    # and meanwhile screening holds Nadia Reyes (a key coming back would stay off), and
    # Albion becomes a trusted partner (its people are held back by the person rule instead)
    mythos_keys = Credential.objects.filter(grant__covered_model__slug="mythos-5")
    nadia = set(mythos_keys.filter(person__legal_name="Nadia Reyes").values_list("pk", flat=True))
    Credential.objects.filter(pk__in=nadia).update(held=True)
    Organisation.objects.filter(slug="albion-secure").update(trusted=True)

    # when it runs, then it refuses, naming the keys that moved, and nothing changed
    with pytest.raises(PlanChanged) as refused:
        bulk_execute(action=restore, actor=staff["ops1"], run_now=True)
    albion = set(
        mythos_keys.filter(grant__organisation__slug="albion-secure").values_list("pk", flat=True)
    )
    difference = refused.value.difference.extra
    assert set(difference["back_removed"]) == set(difference["held_added"]) == nadia
    assert set(difference["held_reason_changed"]) == albion
    assert difference["back_added"] == difference["held_removed"] == []
    assert active_keys() == set()
    restore.refresh_from_db()
    assert restore.state == BulkState.APPROVED


def test_the_page_and_the_api_show_both_parts(story):
    # given the lift planned
    staff = story["staff"]
    restore, _ = stop_lift_plan(stop=story["stop"], actor=staff["ops1"])

    # when the approver reads the page
    page = client_for(staff["ops2"]).get(reverse("bulk:approve", args=[restore.pk]))

    # then both parts are there, key by key
    assert page.status_code == 200
    text = page.content.decode()
    for _, person in RESTORED | set(HELD_BACK):
        assert person in text
    assert "Keys held back" in text and "Organisation not allowed" in text

    # and the API lists each part with its reasons
    api = api_client_for(staff["ops2"])
    held = api.get(f"/api/v1/bulk-actions/{restore.pk}/keys/?part=held")
    assert held.status_code == 200
    assert {(r["model"], r["person"]): r["reason"] for r in held.json()["results"]} == HELD_BACK
    back = api.get(f"/api/v1/bulk-actions/{restore.pk}/keys/?part=back")
    assert {(r["model"], r["person"]) for r in back.json()["results"]} == RESTORED
    body = api.get(f"/api/v1/bulk-actions/{restore.pk}/").json()
    assert body["held_count"] == len(HELD_BACK)
    assert body["filters"]["covered_model"] == "mythos-5"


def test_the_stop_page_offers_the_lift_and_pressing_the_stop_again_returns_it(story):
    # given the stop in force
    staff = story["staff"]
    stop = story["stop"]
    mythos = CoveredModel.objects.get(slug="mythos-5")

    # when ops press the stop again, then the stop in force comes back unchanged
    again = model_emergency_stop(covered_model=mythos, actor=staff["ops2"], reason="again")
    assert not again.created and again.bulk_action.pk == stop.pk
    assert BulkAction.objects.filter(stop_event__gt="").count() == 1

    # when ops press "Lift this stop" on its page
    client = client_for(staff["ops1"])
    assert "Lift this stop" in client.get(reverse("bulk:detail", args=[stop.pk])).content.decode()
    response = client.post(reverse("bulk:lift_stop", args=[stop.pk]))

    # then the restore plan is created and shown
    restore = BulkAction.objects.get(kind="restore", reference=stop.reference)
    assert response.status_code == 302
    assert response["Location"] == reverse("bulk:detail", args=[restore.pk])


def test_the_covered_models_endpoint_shows_stages_the_rule_in_force_and_the_stop(story):
    api = api_client_for(User.objects.get(username="nadia.reyes"))

    response = api.get("/api/v1/covered-models/")

    assert response.status_code == 200
    models = {m["slug"]: m for m in response.json()}
    mythos = models["mythos-5"]
    assert [s["name"] for s in mythos["stages"]] == ["evaluation", "limited", "full"]
    assert mythos["rule"]["kind"] == "partners_only"
    assert mythos["rule"]["us_persons_only"] is True
    assert "dams" in mythos["rule"]["allowed_sectors"]
    assert mythos["rule"]["set_by"] == "determination BIS-2026-LIC-3"
    assert mythos["emergency_stop"] == story["stop"].pk
    assert models["fable"]["rule"]["kind"] == "blocked"
    assert models["fable"]["emergency_stop"] is None


def test_stopping_a_stopped_model_through_the_api_returns_the_stop_in_force(story):
    api = api_client_for(story["staff"]["ops2"])
    body = {"covered_model": "mythos-5", "reason": "pressed twice"}

    response = api.post("/api/v1/emergency-stops/", body, content_type="application/json")

    assert response.status_code == 200
    assert response.json()["created"] is False
    assert response.json()["bulk_action"]["id"] == story["stop"].pk
    assert BulkAction.objects.filter(stop_event__gt="").count() == 1


def test_the_licence_impact_preview_says_what_lifting_the_stop_would_bring_back(story):
    # given the stop, the block in force, and the licence drafted but not yet applied
    staff = story["staff"]
    draft = licence_drafted(
        staff["compliance1"], "BIS-2026-LIC-4", {**LICENCE, "denied_residence": ["KP"]}
    )

    # when compliance previews its impact, on the page and through the API
    page = client_for(staff["compliance2"]).get(reverse("compliance:impact", args=[draft.pk]))
    api = api_client_for(staff["compliance2"]).get(f"/api/v1/determinations/{draft.pk}/impact/")

    # then it says what lifting the stop would bring back, and what it holds back and why
    assert page.status_code == 200 and api.status_code == 200
    [lift] = api.json()["lift_previews"]
    assert set(lift) == {
        "stop",
        "covered_model",
        "back",
        "held",
        "back_by_organisation",
        "held_by_organisation",
        "held_by_reason",
    }
    assert lift["stop"] == story["stop"].pk
    assert lift["back"] == len(RESTORED) and lift["held"] == len(HELD_BACK)
    assert lift["held_by_reason"] == {"organisation_not_allowed": 2, "person_rule": 1}
    assert lift["back_by_organisation"] == {
        "Gridline Energy Cooperative": 2,
        "Northwind Cyber Defense Inc.": 2,
    }
    text = page.content.decode()
    assert "If the emergency stop of mythos-5 is lifted" in text
    assert "Li Wei" in text
    # and a restriction that catches nobody is named
    assert any("denied residence countries (KP)" in n for n in api.json()["affects_nobody"]), (
        api.json()["affects_nobody"]
    )
    assert "affects nobody" in text


def test_the_lift_bundle_lists_every_held_back_key_and_verifies(story):
    # given the lift planned, approved and run
    import io
    import json
    import zipfile

    from portal.compliance.evidence import bulk_action_evidence
    from portal.compliance.evidence_verify import verify_bundle_file

    staff = story["staff"]
    restore, _ = stop_lift_plan(stop=story["stop"], actor=staff["ops1"])
    bulk_approve(action=restore, actor=staff["ops2"])
    restore = bulk_execute(action=restore, actor=staff["ops1"], run_now=True)

    # when its evidence bundle is built
    bundle = bulk_action_evidence(action=restore, actor=staff["ops1"])
    data = bundle.file.read()
    bundle.file.close()

    # then it holds the held-back keys, key by key, with person, organisation and reason
    with zipfile.ZipFile(io.BytesIO(data)) as zf:
        rows = json.loads(zf.read("data/held_back.json"))
        csv_text = zf.read("data/held_back.csv").decode()
    assert {(r["model"], r["person"]): r["reason"] for r in rows} == HELD_BACK
    keys = BulkPlanKey.objects.filter(action=restore, part=PlanPart.HELD)
    assert sorted(r["credential"] for r in rows) == sorted(k.credential_id for k in keys)
    assert {r["organisation"] for r in rows} == {k.organisation for k in keys} and all(
        r["action"] == restore.pk for r in rows
    )
    assert csv_text.splitlines()[0] == (
        "action,credential,grant,person,organisation,model,reason,detail"
    )
    # and the bundle verifies offline, counting them
    report = verify_bundle_file(io.BytesIO(data))
    assert report.ok, report.problem
    assert report.rows["held_back"] == len(HELD_BACK)
