"""The model-level emergency stop: every grant suspended, one block per target."""

from __future__ import annotations

import threading
import time

import pytest
from django.db import connection, connections, transaction

from foundation.audit.models import AuditEvent
from foundation.audit.services import audit_record
from portal.accounts.roles import Role
from provisioning.bulk.models import (
    BulkAction,
    BulkActionError,
    BulkActionItem,
    BulkKind,
    BulkScope,
    BulkState,
    SamePersonError,
)
from provisioning.bulk.selectors import target_progress
from provisioning.bulk.services import bulk_review, decision_digest
from provisioning.bulk.stop import model_emergency_stop
from provisioning.changelog.writer import ChangeRow, changes_digest
from provisioning.credentials.models import Credential, CredentialState
from provisioning.deliveries.blocks import model_block_send
from provisioning.deliveries.models import Change, ModelBlock, ModelBlockState
from provisioning.deliveries.relay import relay_until_idle
from provisioning.grants.models import Grant, GrantState, GrantSuspension
from tests.conftest import client_for
from tests.factories import StageFactory, staff_user
from tests.provisioning_fakes import FAKE_FACTORY, active_grant, fake_target, issue

pytestmark = [pytest.mark.django_db, pytest.mark.usefixtures("fake_connectors")]


def test_an_emergency_stop_suspends_every_grant_of_the_model_and_blocks_it_at_each_target(
    django_capture_on_commit_callbacks,
):
    stage = StageFactory()
    other = active_grant()
    grants = [active_grant(stage=stage) for _ in range(3)]
    credentials = [issue(g).credential for g in grants]
    bystander = issue(other).credential
    _, fake_a = fake_target("a")
    _, fake_b = fake_target("b")

    stop = model_emergency_stop(
        covered_model=stage.covered_model, actor=None, reason="regulator order 7"
    )

    assert stop.grants_suspended == 3
    assert stop.credentials_suspended == 3
    for grant in grants:
        grant.refresh_from_db()
        assert grant.state == GrantState.SUSPENDED
    for credential in credentials:
        credential.refresh_from_db()
        assert credential.state == CredentialState.SUSPENDED
    bystander.refresh_from_db()
    assert bystander.state == CredentialState.ACTIVE
    assert AuditEvent.objects.filter(action="model.emergency_stop").count() == 1

    # the model-wide block goes out once per target (the task body, run here in-process)
    for block in ModelBlock.objects.all():
        model_block_send(block_id=block.pk)
    for fake in (fake_a, fake_b):
        assert fake.blocked_models == [(stage.covered_model.slug, stop.event_id)]
    assert set(ModelBlock.objects.values_list("state", flat=True)) == {ModelBlockState.ACKNOWLEDGED}

    # then per-key convergence
    relay_until_idle()
    for fake in (fake_a, fake_b):
        assert not fake.active_ids() & {c.pk for c in credentials}
        assert bystander.pk in fake.active_ids()


def test_a_block_already_acknowledged_is_not_sent_again():
    stage = StageFactory()
    issue(active_grant(stage=stage))
    _, fake = fake_target()
    stop = model_emergency_stop(covered_model=stage.covered_model, actor=None, reason="r")
    [block] = stop.blocks

    model_block_send(block_id=block.pk)
    model_block_send(block_id=block.pk)

    assert len(fake.blocked_models) == 1


def test_an_emergency_stop_is_recorded_as_a_done_emergency_bulk_action_awaiting_review(ops_user):
    # given three grants of the model, one of another model, two targets
    stage = StageFactory()
    grants = [active_grant(stage=stage) for _ in range(3)]
    for grant in grants:
        issue(grant)
    issue(active_grant())
    fake_target("a")
    fake_target("b")

    # when
    stop = model_emergency_stop(covered_model=stage.covered_model, actor=ops_user, reason="order 7")

    # then one bulk action records it, done, as any emergency suspension is
    action = BulkAction.objects.get()
    assert action == stop.bulk_action
    assert (action.kind, action.scope, action.state) == (
        BulkKind.SUSPEND,
        BulkScope.GRANT,
        BulkState.DONE,
    )
    assert action.emergency and action.review_required and action.reviewed_at is None
    assert action.reference == f"emergency-stop:{stop.event_id}"
    assert action.stop_event == stop.event_id
    assert action.filters == {"covered_model": stage.covered_model.pk}
    assert action.planned_by == action.executed_by == ops_user
    assert action.committed_at is not None
    assert (action.grant_count, action.credential_count, action.credentials_changed) == (3, 3, 3)
    assert action.counts["target"] == {"a": 3, "b": 3}
    assert action.progress_percent == 100
    assert sorted(BulkActionItem.objects.values_list("grant_id", flat=True)) == sorted(
        g.pk for g in grants
    )
    # and its audit trail opens with the grants' suspension, recorded against the action
    # (the chain lock is taken after the row locks), then the keys' suspension by its one
    # chunk, and closes with the executed event and its digest
    order = ["grant.suspended", "model.emergency_stop", "grant.suspended"]
    events = list(
        AuditEvent.objects.filter(
            action__in=[*order, "bulk_action.started", "bulk_action.executed"]
        ).order_by("id")
    )
    assert [e.action for e in events] == [*order, "bulk_action.executed"]
    assert (events[0].object_type, events[0].object_id) == ("bulk.bulkaction", str(action.pk))
    assert (events[0].after["grants_suspended"], events[0].after["changes"]) == (3, 0)
    stopped, keys, executed = events[1], events[2], events[3]
    assert stopped.after["bulk_action"] == action.pk
    assert stopped.after["credentials_to_suspend"] == 3
    assert (keys.after["grants_suspended"], keys.after["changes"]) == (0, 3)
    rows = Change.objects.filter(credential__grant__in=grants, cause="grant.suspended:ops")
    rows = rows.order_by("id")
    assert keys.digest == changes_digest(
        [ChangeRow(c.pk, c.credential_id, c.version, c.active, c.revoked, c.cause) for c in rows]
    )
    assert action.chunk_digests == [keys.digest]
    assert executed.digest == decision_digest([keys.digest])
    assert executed.after["plan_hash"] == action.plan_hash


def test_the_stop_shows_in_the_bulk_list_and_its_progress_per_target(ops_user):
    stage = StageFactory()
    credentials = [issue(active_grant(stage=stage)).credential for _ in range(2)]
    fake_target("directory")
    stop = model_emergency_stop(covered_model=stage.covered_model, actor=ops_user, reason="r")

    relay_until_idle()

    listing = client_for(ops_user).get("/bulk/")
    assert f"/bulk/{stop.bulk_action.pk}/" in listing.content.decode()
    detail = client_for(ops_user).get(f"/bulk/{stop.bulk_action.pk}/").content.decode()
    assert "Model-wide block per target" in detail
    assert "owed by a second person" in detail
    assert "Record review" not in detail  # not for the one who pressed it
    [progress] = target_progress(stop.bulk_action)
    assert (progress.total, progress.acknowledged, progress.percent) == (2, 2, 100)
    assert not Credential.objects.filter(
        pk__in=[c.pk for c in credentials], state=CredentialState.ACTIVE
    ).exists()


def test_a_colleague_reviews_the_stop_afterwards_never_the_one_who_pressed_it(ops_user):
    stage = StageFactory()
    issue(active_grant(stage=stage))
    stop = model_emergency_stop(covered_model=stage.covered_model, actor=ops_user, reason="r")
    colleague = staff_user("ops", username="ops-two")

    with pytest.raises(SamePersonError):
        bulk_review(action=stop.bulk_action, actor=ops_user, note="fine")
    reviewed = bulk_review(action=stop.bulk_action, actor=colleague, note="Checked the order.")

    assert reviewed.reviewed_by == colleague
    assert AuditEvent.objects.filter(action="bulk_action.reviewed").count() == 1


def test_a_stop_without_a_reason_changes_nothing():
    stage = StageFactory()
    credential = issue(active_grant(stage=stage)).credential

    with pytest.raises(BulkActionError):
        model_emergency_stop(covered_model=stage.covered_model, actor=None, reason="  ")

    credential.refresh_from_db()
    assert credential.state == CredentialState.ACTIVE
    assert not BulkAction.objects.exists()
    assert not ModelBlock.objects.exists()


def test_stopping_a_model_without_grants_still_blocks_it_and_its_bundle_verifies(ops_user):
    import io

    from portal.compliance.evidence import bulk_action_evidence
    from portal.compliance.evidence_verify import verify_bundle_file

    stage = StageFactory()
    fake_target("directory")

    stop = model_emergency_stop(covered_model=stage.covered_model, actor=ops_user, reason="r")
    bundle = bulk_action_evidence(action=stop.bulk_action, actor=ops_user)

    assert stop.bulk_action.state == BulkState.DONE
    assert (stop.bulk_action.grant_count, stop.bulk_action.credentials_changed) == (0, 0)
    assert len(stop.blocks) == 1
    assert verify_bundle_file(io.BytesIO(bundle.file.read())).ok


def _waiting_on_a_lock(pid: int, timeout: float = 10.0) -> bool:
    """Whether the backend ``pid`` is (within ``timeout``) waiting for a lock."""
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        with connections["default"].cursor() as cursor:
            cursor.execute("SELECT wait_event_type FROM pg_stat_activity WHERE pid = %s", [pid])
            row = cursor.fetchone()
        if row and row[0] == "Lock":
            return True
        time.sleep(0.02)
    return False


def test_a_stop_waits_for_a_key_change_in_flight_instead_of_deadlocking(transactional_db, settings):
    """Row locks first, the audit chain's lock last, in the stop as in every writer.

    A key change (rotation, collection) holds its credential and grant and then records its
    audit event. A stop pressed at that moment must queue behind the grant, not take the
    chain lock first: that order deadlocked, and PostgreSQL aborted one of the two.
    """
    if connection.vendor != "postgresql":
        pytest.skip("SQLite has a single writer: there is no lock order to test.")
    if settings.DATABASE_TRANSACTION_POOLING:
        pytest.skip("Behind a transaction pooler a backend pid names no client: nothing to watch.")
    settings.DELIVERY_CONNECTOR_FACTORY = FAKE_FACTORY
    ops_user = staff_user(Role.OPS, username="stopper")
    grant = active_grant()
    credential = issue(grant).credential
    in_flight = threading.Event()
    stop_connected = threading.Event()
    stop_pid: list[int] = []
    outcomes: dict[str, str] = {}

    def key_change() -> None:
        try:
            # The stop's backend must be known before it can be watched queueing.
            stop_connected.wait(10)
            with transaction.atomic():
                Credential.objects.select_for_update().select_related("grant").get(pk=credential.pk)
                Grant.objects.select_for_update().get(pk=grant.pk)
                in_flight.set()
                # the stop is now queued behind this transaction's row locks
                assert stop_pid and _waiting_on_a_lock(stop_pid[0])
                audit_record(actor=None, action="credential.rotated", obj=credential)
            outcomes["key change"] = "committed"
        except Exception as error:  # the outcome is the assertion
            outcomes["key change"] = repr(error)
        finally:
            connection.close()

    def stop() -> None:
        try:
            with connection.cursor() as cursor:
                cursor.execute("SELECT pg_backend_pid()")
                stop_pid.append(cursor.fetchone()[0])
            stop_connected.set()
            in_flight.wait(10)
            model_emergency_stop(
                covered_model=grant.covered_model, actor=ops_user, reason="Order 7"
            )
            outcomes["stop"] = "committed"
        except Exception as error:  # the outcome is the assertion
            outcomes["stop"] = repr(error)
        finally:
            connection.close()

    threads = [threading.Thread(target=stop), threading.Thread(target=key_change)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(60)

    assert outcomes == {"key change": "committed", "stop": "committed"}
    assert Grant.objects.get(pk=grant.pk).state == GrantState.SUSPENDED
    assert Credential.objects.get(pk=credential.pk).state == CredentialState.SUSPENDED


def test_parallel_stops_of_one_model_make_one_stop_and_return_it_to_all(transactional_db, settings):
    """Twenty presses at once: one stop, one suspension reason per grant, and every caller
    gets that stop back (the model's row lock queues them; a partial unique constraint
    backs it up)."""
    if connection.vendor != "postgresql":
        pytest.skip("SQLite has a single writer: there is no race to test.")
    settings.DELIVERY_CONNECTOR_FACTORY = FAKE_FACTORY
    ops_user = staff_user(Role.OPS, username="presser")
    grant = active_grant()
    issue(grant)
    start = threading.Barrier(20)
    results: list[object] = []

    def press() -> None:
        try:
            start.wait(10)
            stop = model_emergency_stop(
                covered_model=grant.covered_model, actor=ops_user, reason="pressed"
            )
            results.append((stop.bulk_action.pk, stop.created))
        except Exception as error:  # the outcome is the assertion
            results.append(repr(error))
        finally:
            connection.close()

    threads = [threading.Thread(target=press) for _ in range(20)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(60)

    assert len(results) == 20 and all(isinstance(r, tuple) for r in results), results
    assert len({pk for pk, _ in results}) == 1
    assert sum(created for _, created in results) == 1
    assert BulkAction.objects.filter(stop_event__gt="").count() == 1
    assert GrantSuspension.objects.filter(grant=grant).count() == 1


def test_pressing_the_stop_again_returns_the_stop_in_force_until_it_is_lifted(ops_user, settings):
    from provisioning.bulk.emergency import stop_lift_plan
    from provisioning.bulk.services import bulk_approve, bulk_execute

    settings.DELIVERY_CONNECTOR_FACTORY = FAKE_FACTORY
    settings.BULK_RESTORE_GATE = ""
    grant = active_grant()
    issue(grant)
    first = model_emergency_stop(covered_model=grant.covered_model, actor=ops_user, reason="a")

    again = model_emergency_stop(covered_model=grant.covered_model, actor=ops_user, reason="b")

    assert not again.created and again.bulk_action.pk == first.bulk_action.pk
    assert GrantSuspension.objects.filter(grant=grant).count() == 1
    # once lifted, the model can be stopped again
    restore, created = stop_lift_plan(stop=first.bulk_action, actor=ops_user)
    assert created
    bulk_approve(action=restore, actor=staff_user(Role.OPS, username="ops-two"))
    bulk_execute(action=restore, actor=ops_user, run_now=True)
    third = model_emergency_stop(covered_model=grant.covered_model, actor=ops_user, reason="c")
    assert third.created and third.bulk_action.pk != first.bulk_action.pk


def test_the_stop_record_counts_keys_by_organisation(ops_user, settings):
    settings.DELIVERY_CONNECTOR_FACTORY = FAKE_FACTORY
    grant = active_grant()
    issue(grant)
    issue(grant)

    stop = model_emergency_stop(covered_model=grant.covered_model, actor=ops_user, reason="a")

    action = BulkAction.objects.get(pk=stop.bulk_action.pk)
    assert action.counts["organisation"] == {grant.organisation.legal_name: 2}
    assert len(action.sample) == 2


def test_the_stop_counts_by_organisation_what_its_change_log_rows_say(ops_user, settings):
    """The count per organisation is the stop's plan, read once its grants are locked: it
    equals the count of the stop's change-log rows per organisation, and a key that was
    already suspended is in neither."""
    settings.DELIVERY_CONNECTOR_FACTORY = FAKE_FACTORY
    stage = StageFactory(seats=5)
    grants = [active_grant(stage=stage) for _ in range(3)]
    keys = [issue(g).credential for g in grants for _ in range(grants.index(g) + 1)]
    Credential.objects.filter(pk=keys[-1].pk).update(state=CredentialState.SUSPENDED)

    stop = model_emergency_stop(covered_model=stage.covered_model, actor=ops_user, reason="a")

    action = BulkAction.objects.get(pk=stop.bulk_action.pk)
    rows = Change.objects.filter(cause="grant.suspended:ops", credential__grant__in=grants)
    expected = {g.organisation.legal_name: rows.filter(credential__grant=g).count() for g in grants}
    assert expected == {
        grants[0].organisation.legal_name: 1,
        grants[1].organisation.legal_name: 2,
        grants[2].organisation.legal_name: 2,
    }
    assert action.counts["organisation"] == expected
    assert action.credential_count == action.credentials_changed == 5


def test_the_stop_page_says_what_the_stop_will_cut_and_the_stop_cuts_exactly_that(ops_user):
    # given three grants of the model in two organisations, four keys, one key already
    # suspended, a grant of another model, and two targets
    from django.urls import reverse

    from provisioning.bulk.stop import stop_preview
    from tests.factories import OrganisationFactory

    stage = StageFactory()
    north, south = OrganisationFactory(), OrganisationFactory()
    grants = [
        active_grant(stage=stage, organisation=north),
        active_grant(stage=stage, organisation=north),
        active_grant(stage=stage, organisation=south),
    ]
    keys = [issue(g).credential for g in grants] + [issue(grants[0]).credential]
    Credential.objects.filter(pk=keys[-1].pk).update(state=CredentialState.SUSPENDED)
    issue(active_grant())
    fake_target("a")
    fake_target("b")

    # when ops open the stop page, before pressing anything
    page = client_for(ops_user).get(reverse("bulk:emergency_stop"))

    # then it says per model how many grants, keys and organisations a stop would cut
    assert page.status_code == 200
    row = page.content.decode().split(f'data-model="{stage.covered_model.slug}"')[1]
    row = row.split("</tr>")[0]
    assert "<td>3</td><td>3</td><td>2</td><td>2</td>" in row
    preview = stop_preview(stage.covered_model)
    assert (preview.grants, preview.keys, preview.organisations, preview.targets) == (3, 3, 2, 2)

    # when the stop is pressed, then it cuts exactly what was shown
    stop = model_emergency_stop(covered_model=stage.covered_model, actor=ops_user, reason="order")
    action = BulkAction.objects.get(pk=stop.bulk_action.pk)
    assert stop.grants_suspended == preview.grants
    assert stop.credentials_suspended == preview.keys
    assert len(action.counts["organisation"]) == preview.organisations
    assert len(stop.blocks) == preview.targets
    # and once stopped, the page says so, and a second press would cut nothing
    after = stop_preview(stage.covered_model)
    assert (after.grants, after.keys, after.organisations) == (0, 0, 0)
    assert after.stopped == action


def test_the_api_previews_the_stop_with_the_same_counts_as_the_page(ops_user):
    from tests.api_helpers import api_client_for
    from tests.factories import OrganisationFactory

    stage = StageFactory()
    organisation = OrganisationFactory()
    for _ in range(2):
        issue(active_grant(stage=stage, organisation=organisation))
    fake_target("a")

    response = api_client_for(ops_user).get("/api/v1/emergency-stops/")

    assert response.status_code == 200
    [row] = [r for r in response.json() if r["covered_model"] == stage.covered_model.slug]
    assert row == {
        "covered_model": stage.covered_model.slug,
        "grants": 2,
        "keys": 2,
        "organisations": 1,
        "targets": 1,
        "stop_in_force": None,
    }
