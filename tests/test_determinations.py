"""Determinations: drafting, two officers, the impact preview, applying and superseding."""

from __future__ import annotations

import datetime as dt
import io

import pytest

from foundation.audit.chain import verify_chain
from foundation.audit.models import AuditEvent
from portal.compliance.models import DeterminationError, DeterminationState
from portal.compliance.services import (
    SameOfficerError,
    determination_apply,
    determination_approve,
    determination_draft,
    determination_impact,
    determination_submit,
)
from portal.eligibility.rule import RuleKind
from portal.eligibility.rules import rule_in_force
from portal.partners.errors import DocumentRejectedError
from provisioning.credentials.models import Credential, CredentialState
from provisioning.grants.models import GrantState
from tests.determination_helpers import partners_on_two_models

pytestmark = pytest.mark.django_db

PDF = b"%PDF-1.4\n% determination letter\n"


@pytest.fixture
def world():
    """Two models; a trusted cyber-defence partner and an untrusted energy company."""
    mythos, fable, keys = partners_on_two_models(dual=True)
    return {"models": {"mythos": mythos, "fable": fable}, "keys": keys}


def _rules(world, mythos: dict, fable: dict | None = None):
    return {
        world["models"]["mythos"].pk: mythos,
        world["models"]["fable"].pk: fable or {"kind": RuleKind.BLOCKED},
    }


def _in_force(author, approver, world, reference, mythos, fable=None):
    determination = determination_draft(
        actor=author,
        reference=reference,
        legal_basis="Export order",
        effective_date=dt.date(2026, 11, 27),
        rules=_rules(world, mythos, fable),
        document=io.BytesIO(PDF),
        document_name="letter.pdf",
    )
    determination_submit(determination=determination, actor=author)
    determination_approve(determination=determination, actor=approver)
    return determination_apply(determination=determination, actor=author)


def _order(actor, reference, rules, **fields):
    """A draft of an order effective on 27 November 2026."""
    return determination_draft(
        actor=actor,
        reference=reference,
        legal_basis="Order",
        effective_date=dt.date(2026, 11, 27),
        rules=rules,
        **fields,
    )


def _active_keys(world):
    active = set(
        Credential.objects.filter(state=CredentialState.ACTIVE).values_list("pk", flat=True)
    )
    return {key for key, credential in world["keys"].items() if credential.pk in active}


BLOCK = {"kind": RuleKind.BLOCKED}
PARTNERS = {
    "kind": RuleKind.PARTNERS_ONLY,
    "allowed_sectors": ["cyber_defence", "energy", "water"],
    "us_persons_only": True,
    "denied_citizenships": ["IR"],
}


def test_the_author_cannot_approve_and_a_second_officer_can(
    compliance_officer, second_officer, world
):
    determination = _order(
        compliance_officer, "BIS-1", _rules(world, BLOCK), document=io.BytesIO(PDF)
    )
    determination_submit(determination=determination, actor=compliance_officer)

    with pytest.raises(SameOfficerError):
        determination_approve(determination=determination, actor=compliance_officer)
    approved = determination_approve(determination=determination, actor=second_officer)

    assert approved.state == DeterminationState.APPROVED
    assert approved.approved_by == second_officer


def test_a_determination_without_a_rule_for_every_model_is_refused(compliance_officer, world):
    determination = _order(
        compliance_officer, "BIS-2", {world["models"]["mythos"].pk: BLOCK}, document=io.BytesIO(PDF)
    )

    with pytest.raises(DeterminationError, match="missing"):
        determination_submit(determination=determination, actor=compliance_officer)
    determination.refresh_from_db()
    assert determination.state == DeterminationState.DRAFT


def test_the_letter_must_really_be_a_pdf(compliance_officer, world):
    with pytest.raises(DocumentRejectedError):
        _order(
            compliance_officer,
            "BIS-3",
            _rules(world, BLOCK),
            document=io.BytesIO(b"\x89PNG\r\n\x1a\nnot a pdf"),
            document_name="letter.pdf",
        )


def test_the_impact_preview_counts_what_would_be_suspended_without_changing_anything(
    compliance_officer, world
):
    # given a draft that blocks both models
    determination = _order(compliance_officer, "BIS-4", _rules(world, BLOCK))

    # when
    report = determination_impact(determination=determination)

    # then every key would be suspended, and nothing changed yet
    assert report.totals["suspend"] == 8
    assert report.by_model["mythos-5"]["suspend"] == 4
    assert report.by_organisation["Plain Energy"]["suspend"] == 2
    assert report.by_country["FR"]["suspend"] == 2
    assert len(_active_keys(world)) == 8


def test_the_scenario_block_all_then_allow_mythos_for_trusted_us_persons(
    compliance_officer, second_officer, world
):
    # when a first determination blocks both models
    first = _in_force(compliance_officer, second_officer, world, "BIS-10", BLOCK)

    # then all customer access is suspended and the rule in force is the determination's
    assert _active_keys(world) == set()
    assert rule_in_force(world["models"]["mythos"]).kind == RuleKind.BLOCKED

    # given its preview, when a second one allows mythos-5 for trusted partners, US persons only
    second_draft = determination_draft(
        actor=second_officer,
        reference="BIS-11",
        legal_basis="Licence",
        effective_date=dt.date(2026, 12, 1),
        rules=_rules(world, PARTNERS),
    )
    preview = determination_impact(determination=second_draft)
    assert preview.totals["restore"] == 1
    second_draft.delete()
    second = _in_force(second_officer, compliance_officer, world, "BIS-12", PARTNERS)

    # then exactly the trusted US person's mythos key comes back: the dual national (IR)
    # and the foreigner stay out, the untrusted partner too, and fable stays blocked
    assert _active_keys(world) == {("mythos-5", "us")}
    first.refresh_from_db()
    assert first.state == DeterminationState.SUPERSEDED
    assert first.superseded_by == second
    assert second.state == DeterminationState.IN_FORCE
    assert verify_chain().ok
    assert AuditEvent.objects.filter(action="determination.applied").count() == 2


def test_a_later_determination_restores_people_an_earlier_one_held_back(
    compliance_officer, second_officer, world
):
    # given the partners-only determination in force (the foreigner's key held back)
    _in_force(compliance_officer, second_officer, world, "BIS-20", PARTNERS)
    assert ("mythos-5", "foreign") not in _active_keys(world)

    # when a third opens mythos-5 to every trusted partner without person rules
    _in_force(
        second_officer,
        compliance_officer,
        world,
        "BIS-21",
        {"kind": RuleKind.PARTNERS_ONLY, "allowed_sectors": ["cyber_defence"]},
    )

    # then the trusted partner's people are back on mythos-5; fable stays blocked
    assert _active_keys(world) == {
        ("mythos-5", "us"),
        ("mythos-5", "dual"),
        ("mythos-5", "foreign"),
    }
    grant = world["keys"][("fable", "us")].grant
    grant.refresh_from_db()
    assert grant.state == GrantState.SUSPENDED
