"""One function judges (organisation, person, model, stage) against the rule in force."""

from __future__ import annotations

import pytest

from portal.eligibility.engine import Outcome, evaluate
from portal.eligibility.models import Person, ScreeningState, USPersonStatus
from portal.eligibility.rule import Rule, RuleKind
from portal.eligibility.rules import ModelRule, rule_in_force, rules_in_force
from portal.partners.models import Sector, VerificationState
from tests.factories import (
    CompletePersonFactory,
    CoveredModelFactory,
    OrganisationFactory,
    PersonFactory,
    StageFactory,
)

pytestmark = pytest.mark.django_db


@pytest.fixture
def stage():
    return StageFactory(covered_model=CoveredModelFactory(name="Mythos 5"))


@pytest.fixture
def verified_org():
    return OrganisationFactory(
        verification_state=VerificationState.VERIFIED, sector=Sector.ENERGY, trusted=False
    )


def judge(organisation, person, stage, **rule):
    return evaluate(
        organisation=organisation,
        person=person,
        covered_model=stage.covered_model,
        stage=stage,
        rule=Rule(**{"kind": RuleKind.OPEN, **rule}),
    )


def test_a_verified_organisation_and_a_clear_complete_person_pass_an_open_rule(verified_org, stage):
    # given
    person = CompletePersonFactory(organisation=verified_org)

    # when
    result = judge(verified_org, person, stage)

    # then
    assert result.outcome == Outcome.PASS
    assert all(check.outcome == Outcome.PASS for check in result.checks)
    assert result.eligible


def test_every_check_has_a_message_a_person_understands(verified_org, stage):
    person = CompletePersonFactory(organisation=verified_org)

    result = judge(verified_org, person, stage)

    assert {check.code for check in result.checks} >= {
        "organisation_verified",
        "organisation_trusted",
        "sector_allowed",
        "screening",
        "us_person",
        "citizenship",
        "residence",
        "profile_complete",
    }
    assert all(check.message.endswith(".") for check in result.checks)


@pytest.mark.parametrize(
    ("state", "outcome"),
    [
        (VerificationState.UNVERIFIED, Outcome.FAIL),
        (VerificationState.DOMAIN_VERIFIED, Outcome.NEEDS_REVIEW),
        (VerificationState.VERIFIED, Outcome.PASS),
        (VerificationState.REJECTED, Outcome.FAIL),
    ],
)
def test_the_organisation_must_be_verified(stage, state, outcome):
    organisation = OrganisationFactory(verification_state=state)
    person = CompletePersonFactory(organisation=organisation)

    result = judge(organisation, person, stage)

    assert result.check("organisation_verified").outcome == outcome


def test_partners_only_refuses_an_untrusted_organisation_and_admits_a_trusted_one(
    verified_org, stage
):
    person = CompletePersonFactory(organisation=verified_org)

    refused = judge(verified_org, person, stage, kind=RuleKind.PARTNERS_ONLY)
    verified_org.trusted = True
    admitted = judge(verified_org, person, stage, kind=RuleKind.PARTNERS_ONLY)

    assert refused.check("organisation_trusted").outcome == Outcome.FAIL
    assert "trusted partners" in refused.check("organisation_trusted").message
    assert admitted.check("organisation_trusted").outcome == Outcome.PASS


def test_an_open_rule_does_not_ask_for_the_trusted_flag(verified_org, stage):
    person = CompletePersonFactory(organisation=verified_org)

    assert judge(verified_org, person, stage).check("organisation_trusted").outcome == Outcome.PASS


def test_a_blocked_model_fails_everyone(verified_org, stage):
    person = CompletePersonFactory(organisation=verified_org)

    result = judge(verified_org, person, stage, kind=RuleKind.BLOCKED)

    assert result.check("model_available").outcome == Outcome.FAIL
    assert result.outcome == Outcome.FAIL


def test_a_sector_outside_the_allowed_sectors_fails(verified_org, stage):
    person = CompletePersonFactory(organisation=verified_org)

    result = judge(verified_org, person, stage, allowed_sectors=frozenset({Sector.CYBER_DEFENCE}))

    check = result.check("sector_allowed")
    assert check.outcome == Outcome.FAIL
    assert "Cyber defence" in check.message and "Energy" in check.message


@pytest.mark.parametrize(
    ("state", "outcome"),
    [
        (ScreeningState.CLEAR, Outcome.PASS),
        (ScreeningState.FALSE_POSITIVE, Outcome.PASS),
        (ScreeningState.UNSCREENED, Outcome.NEEDS_REVIEW),
        (ScreeningState.POTENTIAL_MATCH, Outcome.NEEDS_REVIEW),
        (ScreeningState.CONFIRMED_MATCH, Outcome.FAIL),
    ],
)
def test_the_screening_state_decides_the_screening_check(verified_org, stage, state, outcome):
    person = CompletePersonFactory(organisation=verified_org, screening_state=state)

    check = judge(verified_org, person, stage).check("screening")

    assert check.outcome == outcome
    # The person is never told that a list entry matched.
    if state in (ScreeningState.POTENTIAL_MATCH, ScreeningState.CONFIRMED_MATCH):
        assert check.message == "This person is under additional review."


@pytest.mark.parametrize(
    ("status", "outcome"),
    [
        (USPersonStatus.CITIZEN, Outcome.PASS),
        (USPersonStatus.PERMANENT_RESIDENT, Outcome.PASS),
        (USPersonStatus.PROTECTED_INDIVIDUAL, Outcome.PASS),
        (USPersonStatus.NONE, Outcome.FAIL),
    ],
)
def test_us_persons_only_admits_every_kind_of_us_person(verified_org, stage, status, outcome):
    person = CompletePersonFactory(organisation=verified_org, us_person_status=status)

    check = judge(verified_org, person, stage, us_persons_only=True).check("us_person")

    assert check.outcome == outcome


def test_a_dual_national_is_judged_on_every_citizenship(verified_org, stage):
    # given a US citizen who is also an Iranian citizen
    person = CompletePersonFactory(organisation=verified_org, citizenships=["US", "IR"])

    # when Iranian citizenship is denied
    result = judge(verified_org, person, stage, denied_citizenships=frozenset({"IR"}))

    # then the US citizenship does not save them
    check = result.check("citizenship")
    assert check.outcome == Outcome.FAIL
    assert "Iran" in check.message


def test_citizenships_not_denied_pass(verified_org, stage):
    person = CompletePersonFactory(organisation=verified_org, citizenships=["GB", "IE"])

    check = judge(verified_org, person, stage, denied_citizenships=frozenset({"CN"})).check(
        "citizenship"
    )

    assert check.outcome == Outcome.PASS


def test_a_denied_residence_fails(verified_org, stage):
    person = CompletePersonFactory(organisation=verified_org, residence_country="CN")

    check = judge(verified_org, person, stage, denied_residence=frozenset({"CN"})).check(
        "residence"
    )

    assert check.outcome == Outcome.FAIL
    assert "China" in check.message


def test_an_incomplete_profile_fails_and_says_what_is_missing(verified_org, stage):
    person = PersonFactory(organisation=verified_org, date_of_birth=None)

    check = judge(verified_org, person, stage).check("profile_complete")

    assert check.outcome == Outcome.FAIL
    assert "date of birth" in check.message
    assert "attestation" in check.message


def test_a_person_of_another_organisation_fails(verified_org, stage):
    person = CompletePersonFactory(organisation=OrganisationFactory())

    assert judge(verified_org, person, stage).check("person_membership").outcome == Outcome.FAIL


def test_a_stage_of_another_model_fails(verified_org, stage):
    person = CompletePersonFactory(organisation=verified_org)
    other_stage = StageFactory()

    result = evaluate(
        organisation=verified_org,
        person=person,
        covered_model=stage.covered_model,
        stage=other_stage,
        rule=Rule(kind=RuleKind.OPEN),
    )

    assert result.check("stage").outcome == Outcome.FAIL


def test_a_model_without_a_rule_is_open_and_a_stored_rule_is_in_force(stage):
    assert rule_in_force(stage.covered_model).kind == RuleKind.OPEN

    ModelRule.objects.create(
        covered_model=stage.covered_model,
        kind=RuleKind.PARTNERS_ONLY,
        allowed_sectors=[Sector.ENERGY],
        denied_citizenships=["ir"],
    )

    rule = rule_in_force(stage.covered_model)
    assert rule.kind == RuleKind.PARTNERS_ONLY
    assert rule.allowed_sectors == frozenset({"energy"})
    assert rule.denied_citizenships == frozenset({"IR"})


def test_evaluate_reads_the_rule_in_force_when_none_is_given(verified_org, stage):
    ModelRule.objects.create(covered_model=stage.covered_model, kind=RuleKind.BLOCKED)
    person = CompletePersonFactory(organisation=verified_org)

    result = evaluate(
        organisation=verified_org, person=person, covered_model=stage.covered_model, stage=stage
    )

    assert result.outcome == Outcome.FAIL
    assert result.rule.kind == RuleKind.BLOCKED


def test_judging_many_people_makes_no_query_per_person(
    verified_org, stage, django_assert_num_queries
):
    # given 50 people fetched once, and the rule fetched once
    CompletePersonFactory.create_batch(50, organisation=verified_org)
    people = list(Person.objects.filter(organisation=verified_org))
    rule = rules_in_force([stage.covered_model])[stage.covered_model.pk]

    # when / then
    with django_assert_num_queries(0):
        results = [
            evaluate(
                organisation=verified_org,
                person=person,
                covered_model=stage.covered_model,
                stage=stage,
                rule=rule,
            )
            for person in people
        ]
    assert len(results) == 50


def test_setting_a_default_rule_validates_codes_and_is_audited(compliance_officer, stage):
    from foundation.audit.models import AuditEvent
    from portal.eligibility.services import EligibilityError, model_rule_set

    with pytest.raises(EligibilityError, match="QQ is not an ISO 3166-1"):
        model_rule_set(
            actor=compliance_officer,
            covered_model=stage.covered_model,
            kind=RuleKind.PARTNERS_ONLY,
            denied_citizenships=["QQ"],
        )
    assert not ModelRule.objects.exists()

    model_rule_set(
        actor=compliance_officer,
        covered_model=stage.covered_model,
        kind=RuleKind.PARTNERS_ONLY,
        allowed_sectors=[Sector.ENERGY],
        denied_citizenships=["ir", "kp"],
    )

    assert rule_in_force(stage.covered_model).denied_citizenships == frozenset({"IR", "KP"})
    assert AuditEvent.objects.filter(action="model_rule.set").count() == 1
