"""The one transition helper: lock, check the table, run the extra check, stamp, save the
named fields, audit; nothing is written when any step refuses."""

from __future__ import annotations

from typing import Any

import pytest
from django.db import transaction

from foundation.transitions import locked_transition, revoke_once, stamped
from portal.compliance.models import (
    Determination,
    DeterminationState,
    IllegalDeterminationTransition,
    check_determination_transition,
)


def _send_back(determination: Determination, audited: list[Any], **extra: Any) -> Determination:
    with transaction.atomic():
        return locked_transition(
            determination,
            to=DeterminationState.DRAFT,
            check=check_determination_transition,
            stamp={"submitted_by": None, "submitted_at": None},
            audit=lambda row, before: audited.append(row),
            **extra,
        )


@pytest.mark.django_db
def test_moves_stamps_saves_and_audits_the_fresh_row(edited_determination: Any) -> None:
    stale = Determination.objects.get(pk=edited_determination.pk)
    Determination.objects.filter(pk=stale.pk).update(legal_basis="Changed meanwhile")
    audited: list[Any] = []

    row = _send_back(stale, audited)

    stored = Determination.objects.get(pk=stale.pk)
    assert (stored.state, stored.submitted_by, stored.submitted_at) == ("draft", None, None)
    assert stored.legal_basis == "Changed meanwhile"  # only the named fields were saved
    assert audited == [row]
    assert row.legal_basis == "Changed meanwhile"  # the row was read again under the lock


@pytest.mark.django_db
def test_a_move_the_table_forbids_writes_nothing(edited_determination: Any) -> None:
    audited: list[Any] = []
    with pytest.raises(IllegalDeterminationTransition), transaction.atomic():
        locked_transition(
            edited_determination,
            to=DeterminationState.IN_FORCE,
            check=check_determination_transition,
            audit=lambda row, before: audited.append(row),
        )
    assert Determination.objects.get(pk=edited_determination.pk).state == "awaiting_approval"
    assert audited == []


@pytest.mark.django_db
def test_a_guard_refusal_writes_nothing(edited_determination: Any) -> None:
    audited: list[Any] = []

    def refuse(row: Determination) -> None:
        raise IllegalDeterminationTransition(f"{row.reference} stays where it is.")

    with pytest.raises(IllegalDeterminationTransition, match="DET-EDITED stays"):
        _send_back(edited_determination, audited, guard=refuse)
    stored = Determination.objects.get(pk=edited_determination.pk)
    assert stored.state == "awaiting_approval" and stored.submitted_at is not None
    assert audited == []


@pytest.mark.django_db
def test_stamps_may_be_read_from_the_locked_row(edited_determination: Any) -> None:
    with transaction.atomic():
        row = locked_transition(
            edited_determination,
            to=DeterminationState.DRAFT,
            check=check_determination_transition,
            stamp=lambda locked: {"submitted_by": None, "submitted_at": None},
            audit=lambda locked, before: None,
        )
    assert row.state == "draft" and row.submitted_at is None


def test_outside_a_transaction_it_refuses_before_reading() -> None:
    with pytest.raises(RuntimeError, match="inside the service's transaction"):
        locked_transition(
            Determination(pk=1),
            to=DeterminationState.DRAFT,
            check=check_determination_transition,
            audit=lambda row, before: None,
        )


@pytest.mark.django_db
def test_the_audit_hears_the_value_before_the_move(edited_determination: Any) -> None:
    heard: list[tuple[str, str]] = []
    with transaction.atomic():
        locked_transition(
            edited_determination,
            to=DeterminationState.DRAFT,
            check=check_determination_transition,
            audit=lambda row, before: heard.append((before, row.state)),
        )
    assert heard == [("awaiting_approval", "draft")]


@pytest.mark.django_db
def test_the_follow_on_writes_run_after_the_save_and_before_the_audit(
    edited_determination: Any,
) -> None:
    steps: list[str] = []

    def follow_on(row: Determination) -> None:
        stored = Determination.objects.get(pk=row.pk).state
        steps.append(f"then saw {stored}")

    with transaction.atomic():
        locked_transition(
            edited_determination,
            to=DeterminationState.DRAFT,
            check=check_determination_transition,
            then=follow_on,
            audit=lambda row, before: steps.append("audit"),
        )
    assert steps == ["then saw draft", "audit"]


@pytest.mark.django_db
def test_an_idempotent_move_to_the_current_value_writes_nothing(
    edited_determination: Any,
) -> None:
    audited: list[Any] = []
    with transaction.atomic():
        row = locked_transition(
            edited_determination,
            to=DeterminationState.AWAITING_APPROVAL,
            check=check_determination_transition,
            idempotent=True,
            stamp={"submitted_at": None},
            audit=lambda row, before: audited.append(row),
        )
    stored = Determination.objects.get(pk=edited_determination.pk)
    assert row.state == "awaiting_approval" and stored.submitted_at is not None
    assert audited == []


@pytest.mark.django_db
def test_without_a_table_any_value_may_replace_another(edited_determination: Any) -> None:
    with transaction.atomic():
        row = locked_transition(
            edited_determination,
            to="Replaced basis",
            field="legal_basis",
            check=None,
            audit=lambda row, before: None,
        )
    stored = Determination.objects.get(pk=edited_determination.pk)
    assert row.legal_basis == stored.legal_basis == "Replaced basis"
    assert stored.state == "awaiting_approval"


@pytest.mark.django_db
def test_stamped_names_who_took_the_step_and_when(
    edited_determination: Any, compliance_officer: Any
) -> None:
    with transaction.atomic():
        row = locked_transition(
            edited_determination,
            to=DeterminationState.APPROVED,
            check=check_determination_transition,
            stamp=stamped("approved", compliance_officer),
            audit=lambda row, before: None,
        )
    stored = Determination.objects.get(pk=row.pk)
    assert stored.approved_by == compliance_officer and stored.approved_at is not None


class _Refused(Exception):
    pass


def _stamp_once(determination: Determination, audited: list[Any], **extra: Any) -> Determination:
    # revoke_once on a time field that is empty until the step is taken.
    with transaction.atomic():
        return revoke_once(
            determination,
            field="approved_at",
            refusal=_Refused("already"),
            audit=audited.append,
            **extra,
        )


@pytest.mark.django_db
def test_revoke_once_stamps_audits_and_then_refuses(edited_determination: Any) -> None:
    assert edited_determination.approved_at is None
    audited: list[Any] = []

    row = _stamp_once(edited_determination, audited)

    stored = Determination.objects.get(pk=edited_determination.pk)
    assert stored.approved_at is not None and row.approved_at == stored.approved_at
    assert audited == [row]
    with pytest.raises(_Refused):
        _stamp_once(edited_determination, audited)
    assert audited == [row]
    assert Determination.objects.get(pk=row.pk).approved_at == stored.approved_at


@pytest.mark.django_db
def test_revoke_once_refuses_a_row_that_no_longer_meets_still(edited_determination: Any) -> None:
    audited: list[Any] = []

    with pytest.raises(_Refused):
        _stamp_once(edited_determination, audited, still={"state": DeterminationState.APPROVED})

    assert audited == []
    assert Determination.objects.get(pk=edited_determination.pk).approved_at is None


def test_revoke_once_outside_a_transaction_refuses_before_writing() -> None:
    with pytest.raises(RuntimeError, match="inside the service's transaction"):
        revoke_once(Determination(pk=1), refusal=_Refused(), audit=lambda row: None)
