"""Bulk suspend / revoke / restore: plan-bound execution, two people, restore semantics, resume."""

from __future__ import annotations

import pytest

from foundation.audit.chain import verify_chain
from foundation.audit.models import AuditEvent
from portal.eligibility.rule import RuleKind
from portal.eligibility.rules import ModelRule
from provisioning.bulk.models import (
    ApprovalRequired,
    BulkAction,
    BulkActionError,
    BulkChunk,
    BulkKind,
    BulkScope,
    BulkState,
    EmptyPlan,
    SamePersonError,
)
from provisioning.bulk.services import (
    PlanChanged,
    bulk_approve,
    bulk_execute,
    bulk_plan,
    bulk_replan,
    bulk_review,
    bulk_run,
    decision_digest,
)
from provisioning.changelog.writer import ChangeRow, changes_digest
from provisioning.credentials.models import Credential, CredentialState
from provisioning.deliveries.models import Change
from provisioning.grants.models import Grant, GrantState, SuspensionKind
from provisioning.grants.services import grant_suspend
from tests.factories import CompletePersonFactory, OrganisationFactory, staff_user
from tests.provisioning_fakes import active_grant, issue

pytestmark = pytest.mark.django_db


def _state(obj):
    obj.refresh_from_db()
    return obj.state


def _org():
    return OrganisationFactory(verification_state="verified")


@pytest.fixture
def grants(stage):
    # Verified organisations and complete, cleared people: eligible under an open rule.
    made = []
    for _ in range(3):
        grant = active_grant(organisation=_org(), stage=stage)
        issue(grant, CompletePersonFactory(organisation=grant.organisation))
        made.append(grant)
    return made


def _suspend_plan(actor, stage, **kwargs):
    return bulk_plan(
        kind=BulkKind.SUSPEND,
        filters={"covered_model": stage.covered_model_id},
        reason="incident 42",
        actor=actor,
        **kwargs,
    )


def test_a_plan_stores_the_exact_set_with_counts_a_sample_and_a_hash(ops_user, stage, grants):
    # when
    action = _suspend_plan(ops_user, stage)

    # then
    assert action.state == BulkState.PLANNED
    assert (action.grant_count, action.credential_count) == (3, 3)
    assert len(action.plan_hash) == 64
    assert sorted(action.items.values_list("grant_id", flat=True)) == sorted(g.pk for g in grants)
    assert sum(action.counts["organisation"].values()) == 3
    assert action.counts["model"] == {stage.covered_model.slug: 3}
    assert len(action.sample) == 3
    assert all(_state(g) == GrantState.ACTIVE for g in grants)


def test_a_filter_that_matches_nothing_is_refused_and_nothing_is_stored(ops_user, stage):
    with pytest.raises(EmptyPlan):
        _suspend_plan(ops_user, stage)

    assert not BulkAction.objects.exists()


def test_a_reason_is_required(ops_user, stage, grants):
    with pytest.raises(BulkActionError, match="reason"):
        bulk_plan(kind="suspend", filters={}, reason="  ", actor=ops_user)


def test_execution_refuses_when_a_grant_was_added_after_planning_and_replan_works(
    ops_user, stage, grants
):
    # given a plan, then one more grant on the same model
    action = _suspend_plan(ops_user, stage, emergency=True)
    late = active_grant(organisation=_org(), stage=stage)

    # when
    with pytest.raises(PlanChanged) as refused:
        bulk_execute(action=action, actor=ops_user, run_now=True)

    # then nothing changed and the difference names the new grant
    assert refused.value.difference.added == [late.pk]
    assert refused.value.difference.removed == []
    assert _state(action) == BulkState.PLANNED
    assert all(_state(g) == GrantState.ACTIVE for g in [*grants, late])

    # when re-planned, the new plan runs
    fresh = bulk_replan(action=action, actor=ops_user)
    bulk_execute(action=fresh, actor=ops_user, run_now=True)
    assert _state(action) == BulkState.STALE
    assert _state(fresh) == BulkState.DONE
    assert all(_state(g) == GrantState.SUSPENDED for g in [*grants, late])


def test_an_emergency_suspend_runs_at_once_and_awaits_a_review_by_someone_else(
    ops_user, compliance_officer, stage, grants
):
    # given
    action = _suspend_plan(ops_user, stage, emergency=True)

    # when one ops user runs it
    action = bulk_execute(action=action, actor=ops_user, run_now=True)

    # then it is done, every key suspended, and a review is owed
    assert action.state == BulkState.DONE
    assert action.review_required and action.reviewed_at is None
    assert not Credential.objects.filter(state=CredentialState.ACTIVE).exists()
    with pytest.raises(SamePersonError):
        bulk_review(action=action, actor=ops_user, note="looked fine")
    reviewed = bulk_review(action=action, actor=compliance_officer, note="order 7 confirmed")
    assert reviewed.reviewed_by == compliance_officer


def test_a_large_non_emergency_action_needs_a_second_person(ops_user, stage, grants, settings):
    # given a threshold below the plan's size
    settings.BULK_APPROVAL_THRESHOLD = 2
    action = _suspend_plan(ops_user, stage)

    # when / then
    with pytest.raises(ApprovalRequired):
        bulk_execute(action=action, actor=ops_user, run_now=True)
    with pytest.raises(SamePersonError):
        bulk_approve(action=action, actor=ops_user)

    colleague = staff_user("ops", username="ops-two")
    bulk_approve(action=action, actor=colleague)
    done = bulk_execute(action=action, actor=ops_user, run_now=True)
    assert done.state == BulkState.DONE


def test_a_small_non_emergency_action_runs_without_a_second_person(ops_user, stage, grants):
    action = _suspend_plan(ops_user, stage)

    assert bulk_execute(action=action, actor=ops_user, run_now=True).state == BulkState.DONE


def test_a_restore_always_needs_a_second_approval_and_is_never_an_emergency(
    ops_user, stage, grants
):
    suspend = bulk_execute(action=_suspend_plan(ops_user, stage), actor=ops_user, run_now=True)
    with pytest.raises(BulkActionError):
        bulk_plan(
            kind="restore",
            filters={},
            reason="over",
            actor=ops_user,
            reference=suspend.reference,
            emergency=True,
        )
    restore = bulk_plan(
        kind="restore", filters={}, reason="over", actor=ops_user, reference=suspend.reference
    )

    with pytest.raises(ApprovalRequired):
        bulk_execute(action=restore, actor=ops_user, run_now=True)


def _restore(planner, approver, reference, **filters):
    action = bulk_plan(
        kind="restore", filters=filters, reason="incident over", actor=planner, reference=reference
    )
    bulk_approve(action=action, actor=approver)
    return bulk_execute(action=action, actor=planner, run_now=True)


def test_a_restore_removes_only_its_own_reason(ops_user, compliance_officer, stage, grants):
    # given all three suspended by the bulk action, and one also by screening ops
    suspend = bulk_execute(action=_suspend_plan(ops_user, stage), actor=ops_user, run_now=True)
    other = grants[0]
    grant_suspend(
        grants=[other.pk], reason=SuspensionKind.COMPLIANCE, reference="hit-9", actor=None
    )

    # when
    _restore(ops_user, compliance_officer, suspend.reference)

    # then the one with another reason stays suspended, its keys too
    assert _state(other) == GrantState.SUSPENDED
    assert list(other.suspensions.values_list("reference", flat=True)) == ["hit-9"]
    assert _state(grants[1]) == _state(grants[2]) == GrantState.ACTIVE
    assert Credential.objects.get(grant=other).state == CredentialState.SUSPENDED
    assert Credential.objects.get(grant=grants[1]).state == CredentialState.ACTIVE


def test_a_model_that_stays_blocked_never_restores(ops_user, compliance_officer, stage, grants):
    # given suspended, then the model is blocked by its rule
    suspend = bulk_execute(action=_suspend_plan(ops_user, stage), actor=ops_user, run_now=True)
    ModelRule.objects.create(covered_model=stage.covered_model, kind=RuleKind.BLOCKED)

    # when / then: nothing is left to restore, and the refusal says why
    with pytest.raises(EmptyPlan, match="Nothing can be restored: the determination in force"):
        _restore(ops_user, compliance_officer, suspend.reference)
    assert all(_state(g) == GrantState.SUSPENDED for g in grants)


def test_people_no_longer_eligible_stay_suspended_on_restore(
    ops_user, compliance_officer, stage, grants
):
    # given
    grant = grants[0]
    foreigner = CompletePersonFactory(
        organisation=grant.organisation,
        citizenships=["FR"],
        residence_country="FR",
        us_person_status="none",
    )
    issue(grant, foreigner)
    suspend = bulk_execute(action=_suspend_plan(ops_user, stage), actor=ops_user, run_now=True)
    ModelRule.objects.create(
        covered_model=stage.covered_model, kind=RuleKind.PARTNERS_ONLY, us_persons_only=True
    )
    type(grant.organisation).objects.update(trusted=True, verification_state="verified")

    # when
    _restore(ops_user, compliance_officer, suspend.reference)

    # then the grant is back, the non-US person's key is not
    assert _state(grant) == GrantState.ACTIVE
    assert Credential.objects.get(person=foreigner).state == CredentialState.SUSPENDED
    assert Credential.objects.exclude(person=foreigner).filter(grant=grant).get().state == "active"


def test_a_citizenship_filter_acts_on_the_keys_of_dual_nationals_too(ops_user, stage, grants):
    # given a dual national (US + CN) and a plain US citizen on the same grant
    grant = grants[0]
    dual = CompletePersonFactory(organisation=grant.organisation, citizenships=["US", "CN"])
    issue(grant, dual)

    # when
    action = bulk_plan(
        kind="suspend", filters={"citizenship": "cn"}, reason="order", actor=ops_user
    )
    bulk_execute(action=action, actor=ops_user, run_now=True)

    # then only the dual national's key is suspended; the grant stays active
    assert action.scope == BulkScope.CREDENTIAL
    assert Credential.objects.get(person=dual).state == CredentialState.SUSPENDED
    assert Credential.objects.filter(state=CredentialState.ACTIVE).count() == 3
    assert _state(grant) == GrantState.ACTIVE


def test_an_interrupted_action_resumes_where_it_stopped_without_double_work(
    ops_user, stage, grants, settings
):
    # given chunks of one grant each
    settings.BULK_CHUNK_SIZE = settings.BULK_EMERGENCY_CHUNK_SIZE = 1
    action = _suspend_plan(ops_user, stage, emergency=True)
    assert action.chunk_count == 3
    bulk_execute(action=action, actor=ops_user, run_now=False)

    # when chunk 1 runs and the worker "crashes"
    bulk_run(action_id=action.pk, max_chunks=1)
    action.refresh_from_db()
    assert (action.state, action.chunk_cursor, action.items_done) == ("running", 1, 1)
    changes_after_first = Change.objects.count()

    # and the redelivered task runs again (twice, as a redelivery may)
    bulk_run(action_id=action.pk)
    bulk_run(action_id=action.pk)

    # then every grant is done once: one change per key, one executed event
    action.refresh_from_db()
    assert action.state == BulkState.DONE
    assert action.items_done == 3
    assert Change.objects.filter(cause__startswith="grant.suspended").count() == 3
    assert changes_after_first < Change.objects.count()
    assert AuditEvent.objects.filter(action="bulk_action.executed").count() == 1


def test_one_audit_event_per_decision_covers_the_change_log_rows(ops_user, stage, grants):
    # given / when
    action = bulk_execute(action=_suspend_plan(ops_user, stage), actor=ops_user, run_now=True)

    # then its digest is recomputable from the change-log rows it wrote
    rows = [
        ChangeRow(c.pk, c.credential_id, c.version, c.active, c.revoked, c.cause)
        for c in Change.objects.filter(
            pk__range=(action.first_change_id, action.last_change_id)
        ).order_by("pk")
    ]
    event = AuditEvent.objects.get(action="bulk_action.executed", object_id=str(action.pk))
    assert event.digest == decision_digest([changes_digest(rows)])
    assert verify_chain().ok


def test_revoke_is_final_for_the_grants_and_keys(ops_user, stage, grants):
    action = bulk_plan(
        kind="revoke",
        filters={"organisation": grants[0].organisation_id},
        reason="contract ended",
        actor=ops_user,
    )
    bulk_execute(action=action, actor=ops_user, run_now=True)

    assert _state(grants[0]) == GrantState.REVOKED
    assert Credential.objects.get(grant=grants[0]).state == CredentialState.REVOKED
    assert Grant.objects.filter(state=GrantState.ACTIVE).count() == 2


def test_chunks_are_cut_by_keys_so_progress_moves_and_a_grant_is_never_split(
    ops_user, stage, grants, settings
):
    # given one grant with three keys and two with one key each, at two keys per chunk
    settings.BULK_CHUNK_SIZE = 2
    for _ in range(2):
        issue(grants[0], CompletePersonFactory(organisation=grants[0].organisation))

    # when
    action = _suspend_plan(ops_user, stage)

    # then the big grant is a chunk of its own and the two small ones share one
    chunks = dict(action.items.values_list("grant_id", "chunk"))
    assert action.chunk_count == 2
    assert chunks[grants[1].pk] == chunks[grants[2].pk] != chunks[grants[0].pk]


def test_an_emergency_commits_in_bigger_chunks_than_a_planned_action(
    ops_user, stage, grants, settings
):
    # given one key per chunk for planned actions, a hundred for emergencies
    settings.BULK_CHUNK_SIZE, settings.BULK_EMERGENCY_CHUNK_SIZE = 1, 100

    planned = _suspend_plan(ops_user, stage)
    emergency = _suspend_plan(ops_user, stage, emergency=True)

    assert planned.chunk_count == len(grants) > 1
    assert emergency.chunk_count == 1
    assert emergency.plan_hash == planned.plan_hash  # the same set, however it is cut


def test_actions_planned_before_chunk_rows_get_theirs_with_the_chunks_below_the_cursor_done(
    ops_user, stage, grants, settings
):
    from importlib import import_module

    from django.apps import apps

    open_chunks = import_module("provisioning.bulk.migrations.0004_bulk_chunks").open_chunks
    count_done = import_module("provisioning.bulk.migrations.0005_chunk_progress").count_done_chunks
    # given a failed action from before, run one chunk at a time up to its cursor, and a
    # done one: neither has chunk rows
    settings.BULK_CHUNK_SIZE = settings.BULK_EMERGENCY_CHUNK_SIZE = 1
    failed = _suspend_plan(ops_user, stage, emergency=True)
    done = _suspend_plan(ops_user, stage, emergency=True)
    BulkAction.objects.filter(pk=failed.pk).update(
        state=BulkState.FAILED, chunk_cursor=1, items_done=1, chunk_digests=["d0"]
    )
    BulkAction.objects.filter(pk=done.pk).update(state=BulkState.DONE, chunk_cursor=3)
    BulkChunk.objects.all().delete()

    # when the migrations open their chunks and count those done
    open_chunks(apps, None)
    count_done(apps, None)

    # then the failed one resumes after its cursor, its progress counted once, and the done
    # one has nothing to run
    assert list(
        failed.chunks.order_by("number").values_list("number", "done", "tallied", "digest")
    ) == [(0, True, True, "d0"), (1, False, False, ""), (2, False, False, "")]
    assert not done.chunks.exists()
