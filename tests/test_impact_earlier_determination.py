"""The impact preview answers "what if we lift" for keys an earlier determination holds.

A block is in force; the licence is drafted. Its preview says, per organisation, model and
reason, what the restore that applying it creates would bring back and hold back, and
applying it does exactly that (a preview is a promise).
"""

from __future__ import annotations

import datetime as dt

import pytest
from django.urls import reverse

from portal.compliance.lift import earlier_determination_previews
from portal.compliance.services import (
    determination_apply,
    determination_approve,
    determination_draft,
    determination_submit,
)
from provisioning.catalog.models import CoveredModel
from tests.api_helpers import api_client_for
from tests.conftest import client_for
from tests.story import (
    BLOCK,
    HELD_BACK,
    RESTORED,
    active_keys,
    demo_world,
    in_force,
    licence_drafted,
)

pytestmark = pytest.mark.django_db


@pytest.fixture
def licence_draft():
    staff = demo_world()
    in_force(staff["compliance1"], staff["compliance2"], "BIS-2026-17", BLOCK)
    return staff, licence_drafted(staff["compliance1"], "BIS-2026-LIC-3")


def test_the_preview_lists_what_the_earlier_determinations_restore_would_do(licence_draft):
    # given the block in force and the licence drafted
    staff, draft = licence_draft
    assert active_keys() == set()

    # when the licence's impact is previewed
    [lift] = earlier_determination_previews(determination=draft)

    # then it names the earlier reason and splits its keys, key by key
    assert lift.reference == "determination:BIS-2026-17"
    assert lift.determination is not None and lift.determination.reference == "BIS-2026-17"
    assert {(k.model, k.person) for k in lift.back} == RESTORED
    mythos_held = {(k.model, k.person): k.reason for k in lift.held if k.model == "mythos-5"}
    assert mythos_held == HELD_BACK
    fable_held = {k.reason for k in lift.held if k.model == "fable"}
    assert fable_held == {"model_blocked"}
    assert {m: (b, h) for m, b, h in lift.by_model()}["mythos-5"] == (
        len(RESTORED),
        len(HELD_BACK),
    )

    # and the page and the API say so
    page = client_for(staff["compliance2"]).get(reverse("compliance:impact", args=[draft.pk]))
    api = api_client_for(staff["compliance2"]).get(f"/api/v1/determinations/{draft.pk}/impact/")
    assert page.status_code == 200
    assert api.status_code == 200
    text = page.content.decode()
    assert "Keys held by" in text and "determination:BIS-2026-17" in text
    assert reverse("compliance:detail", args=[lift.determination.pk]) in text
    [body] = api.json()["earlier_determinations"]
    assert body["reference"] == "determination:BIS-2026-17"
    assert body["determination"] == lift.determination.pk
    assert body["back"] == len(RESTORED)
    assert body["back_by_model"] == {"mythos-5": len(RESTORED)}
    assert body["held_by_reason"]["person_rule"] == 1
    assert body["held_by_reason"]["organisation_not_allowed"] == 2

    # when the licence is applied, then exactly the previewed keys come back
    determination_submit(determination=draft, actor=staff["compliance1"])
    determination_approve(determination=draft, actor=staff["compliance2"])
    determination_apply(determination=draft, actor=staff["compliance1"])
    assert active_keys() == {(k.model, k.person) for k in lift.back}


def test_no_earlier_determination_no_preview():
    staff = demo_world()["compliance1"]
    models = dict(CoveredModel.objects.values_list("slug", "pk"))
    draft = determination_draft(
        actor=staff,
        reference="BIS-1",
        legal_basis="Block",
        effective_date=dt.date(2026, 11, 28),
        rules={models["fable"]: BLOCK},
    )
    assert earlier_determination_previews(determination=draft) == []
