"""Writes on determinations: draft, rules, document, submit, approve, apply.

Two distinct compliance officers sign a determination: the author submits it (the first
signature) and a colleague approves it; the author can never approve (invariant 5).
Applying it puts it in force, supersedes the previous one and runs the bulk actions its
rules imply, all in one transaction.
"""

from __future__ import annotations

import datetime as dt
import hashlib
import uuid
from collections.abc import Callable, Mapping
from typing import IO, Any

from django.conf import settings
from django.core.exceptions import ValidationError
from django.core.files.base import ContentFile
from django.db import transaction
from django.utils import timezone

from foundation.audit.services import audit_record
from foundation.audit.tasks import checkpoint_on_commit
from foundation.countries import normalise_country, unknown_country_message
from foundation.transitions import locked_transition, stamped
from portal.accounts.models import User
from portal.compliance.impact import ImpactReport, judge
from portal.compliance.models import (
    Determination,
    DeterminationError,
    DeterminationRule,
    DeterminationState,
    InvalidDeterminationError,
    check_determination_transition,
)
from portal.compliance.selectors import determination_in_force, draft_rules
from portal.eligibility.rule import RULE_FIELDS, RuleKind
from portal.partners.documents import read_limited, sniff_content_type
from portal.partners.errors import DocumentRejectedError
from portal.partners.models import clean_rule_sectors
from provisioning.bulk.models import BulkKind, BulkScope, CredentialReason, EmptyPlan
from provisioning.bulk.plan import determination_reference
from provisioning.bulk.services import bulk_execute, bulk_plan
from provisioning.catalog.models import CoveredModel
from provisioning.grants.models import GrantSuspension, SuspensionKind


class SameOfficerError(DeterminationError):
    pass


class IncompleteDetermination(DeterminationError):
    pass


def _clean_rule(model: CoveredModel, data: dict[str, Any]) -> dict[str, Any]:
    kind = data.get("kind") or ""
    if kind not in RuleKind.values:
        raise InvalidDeterminationError(
            f"Choose open, trusted partners only or blocked for {model.name}.",
            field=f"rules.{model.slug}.kind",
        )
    try:
        sectors = clean_rule_sectors(data.get("allowed_sectors") or ())
    except ValueError as exc:
        raise InvalidDeterminationError(
            f"{model.name}: {exc}", field=f"rules.{model.slug}.allowed_sectors"
        ) from None

    def countries(values: Any, name: str, label: str) -> list[str]:
        codes: set[str] = set()
        for value in values or ():
            if not str(value).strip():
                continue
            try:
                codes.add(normalise_country(str(value)))
            except ValidationError:
                # Fail closed: a code that names no country would never match anyone.
                raise InvalidDeterminationError(
                    f"{label} for {model.name}: {unknown_country_message(str(value))}",
                    field=f"rules.{model.slug}.{name}",
                ) from None
        return sorted(codes)

    partners_only = kind == RuleKind.PARTNERS_ONLY
    return {
        "kind": kind,
        # Sectors and person rules belong to a partners-only rule; open and blocked ignore them.
        "allowed_sectors": sectors if partners_only else [],
        "us_persons_only": bool(data.get("us_persons_only")) and partners_only,
        "denied_citizenships": countries(
            data.get("denied_citizenships"), "denied_citizenships", "Denied citizenships"
        )
        if partners_only
        else [],
        "denied_residence": countries(
            data.get("denied_residence"), "denied_residence", "Denied residence"
        )
        if partners_only
        else [],
    }


def _editable(determination: Determination) -> Determination:
    determination = Determination.objects.select_for_update().get(pk=determination.pk)
    if determination.state != DeterminationState.DRAFT:
        raise DeterminationError("Only a draft can be edited; send it back to draft first.")
    return determination


def _store_document(determination: Determination, upload: IO[bytes], name: str) -> None:
    # The letter is the form's and the API's ``document`` field, not a partner's ``file``.
    try:
        data = read_limited(upload, settings.DOCUMENT_MAX_BYTES)
    except DocumentRejectedError as exc:
        raise DocumentRejectedError(str(exc), field="document") from exc
    if not data:
        raise DocumentRejectedError("The file is empty.", field="document")
    sniffed = sniff_content_type(data[:16])
    if sniffed is None or sniffed[0] != "application/pdf":
        raise DocumentRejectedError(
            "The determination letter must be a PDF, and this file's content is not one "
            "(whatever its name says).",
            field="document",
        )
    old = determination.document.name if determination.document else ""
    determination.document.save(f"{uuid.uuid4().hex}.pdf", ContentFile(data), save=False)
    determination.document_name = (name or "determination.pdf").replace("/", "_")[-200:]
    determination.document_sha256 = hashlib.sha256(data).hexdigest()
    if old:
        transaction.on_commit(lambda: determination.document.storage.delete(old))


def _rules_snapshot(determination: Determination) -> dict[str, Any]:
    return {
        row.covered_model.slug: {f: getattr(row, f) for f in RULE_FIELDS}
        for row in determination.rules.select_related("covered_model")
    }


# A letter may take effect somewhat before the lab recorded the model, never decades
# before; and it is not signed many years ahead.
BACKDATING = dt.timedelta(days=365)
MAX_AHEAD = dt.timedelta(days=5 * 366)


def _check_effective_date(effective_date: dt.date, model_ids: Any) -> None:
    today = timezone.localdate()
    if effective_date > today + MAX_AHEAD:
        raise InvalidDeterminationError(
            f"The effective date {effective_date.isoformat()} is more than five years ahead; "
            "check the year.",
            field="effective_date",
        )
    models = CoveredModel.objects.filter(pk__in=list(model_ids)) if model_ids else None
    first = (
        (models if models is not None else CoveredModel.objects.all())
        .order_by("created_at")
        .values_list("created_at", flat=True)
        .first()
    )
    earliest = (timezone.localtime(first).date() if first else today) - BACKDATING
    if effective_date < earliest:
        raise InvalidDeterminationError(
            f"The effective date {effective_date.isoformat()} is before the models it rules "
            f"existed (the earliest allowed is {earliest.isoformat()}); check the year.",
            field="effective_date",
        )


def determination_draft(
    *,
    actor: User,
    reference: str,
    legal_basis: str,
    effective_date: dt.date,
    rules: dict[int, dict[str, Any]],
    document: IO[bytes] | None = None,
    document_name: str = "",
) -> Determination:
    reference = (reference or "").strip()
    if not reference or not (legal_basis or "").strip():
        raise DeterminationError("A determination needs its reference and legal basis.")
    if Determination.objects.filter(reference=reference).exists():
        raise DeterminationError(f"A determination with reference {reference} already exists.")
    _check_effective_date(effective_date, rules.keys())
    with transaction.atomic(durable=True):
        determination = Determination(
            reference=reference,
            legal_basis=legal_basis.strip(),
            effective_date=effective_date,
            created_by=actor,
        )
        if document is not None:
            _store_document(determination, document, document_name)
        determination.save(force_insert=True)
        determination.editors.add(actor)
        _write_rules(determination, rules)
        audit_record(
            actor=actor,
            action="determination.drafted",
            obj=determination,
            after={
                "reference": reference,
                "effective_date": effective_date,
                "document_sha256": determination.document_sha256,
                "rules": _rules_snapshot(determination),
            },
        )
    return determination


def _write_rules(determination: Determination, rules: dict[int, dict[str, Any]]) -> None:
    models = CoveredModel.objects.in_bulk(list(rules))
    rows = []
    for model_id, data in rules.items():
        model = models.get(int(model_id))
        if model is None:
            raise InvalidDeterminationError(
                "A rule names a model that does not exist.", field="rules"
            )
        rows.append(
            DeterminationRule(
                determination=determination, covered_model=model, **_clean_rule(model, data)
            )
        )
    determination.rules.all().delete()
    DeterminationRule.objects.bulk_create(rows)


def determination_update(
    *,
    determination: Determination,
    actor: User,
    legal_basis: str | None = None,
    effective_date: dt.date | None = None,
    rules: dict[int, dict[str, Any]] | None = None,
    document: IO[bytes] | None = None,
    document_name: str = "",
) -> Determination:
    with transaction.atomic(durable=True):
        determination = _editable(determination)
        before = {"rules": _rules_snapshot(determination), "sha": determination.document_sha256}
        if legal_basis is not None:
            determination.legal_basis = legal_basis.strip()
        if effective_date is not None:
            _check_effective_date(
                effective_date, determination.rules.values_list("covered_model_id", flat=True)
            )
            determination.effective_date = effective_date
        if document is not None:
            _store_document(determination, document, document_name)
        determination.save()
        determination.editors.add(actor)
        if rules is not None:
            _write_rules(determination, rules)
        audit_record(
            actor=actor,
            action="determination.edited",
            obj=determination,
            before=before,
            after={"rules": _rules_snapshot(determination), "sha": determination.document_sha256},
        )
    return determination


def _move(
    determination: Determination,
    *,
    actor: User | None,
    to: str,
    event: str,
    stamp: Mapping[str, Any] | Callable[[Determination], Mapping[str, Any]],
    details: Callable[[Determination], dict[str, Any]],
    guard: Callable[[Determination], None] | None = None,
) -> Determination:
    """A signature or its withdrawal, in its own transaction: checked against the table,
    stamped, and audited with the ``details`` (reason, after) of the moved row."""
    with transaction.atomic(durable=True):
        return locked_transition(
            determination,
            to=to,
            check=check_determination_transition,
            guard=guard,
            stamp=stamp,
            audit=lambda row, _: audit_record(actor=actor, action=event, obj=row, **details(row)),
        )


def determination_submit(*, determination: Determination, actor: User | None) -> Determination:
    """The author's signature: every model needs a rule, and the letter must be attached."""

    def complete(row: Determination) -> None:
        covered = set(CoveredModel.objects.values_list("pk", flat=True))
        ruled = set(row.rules.values_list("covered_model_id", flat=True))
        missing = CoveredModel.objects.filter(pk__in=covered - ruled).values_list("name", flat=True)
        if missing:
            raise IncompleteDetermination(
                f"Set a rule for every covered model; missing: {', '.join(sorted(missing))}."
            )
        if not row.document:
            raise IncompleteDetermination(
                "Attach the determination letter (PDF) before submitting."
            )

    return _move(
        determination,
        actor=actor,
        to=DeterminationState.AWAITING_APPROVAL,
        event="determination.submitted",
        guard=complete,
        stamp=stamped("submitted", actor),
        details=lambda row: {"after": {"rules": _rules_snapshot(row)}},
    )


def determination_send_back(
    *, determination: Determination, actor: User | None, note: str
) -> Determination:
    """The second officer returns it to draft instead of approving."""
    return _move(
        determination,
        actor=actor,
        to=DeterminationState.DRAFT,
        event="determination.sent_back",
        stamp={"submitted_by": None, "submitted_at": None},
        details=lambda row: {"reason": note},
    )


def determination_approve(*, determination: Determination, actor: User | None) -> Determination:
    """The second officer's approval: never the author nor the submitter."""

    def second_officer(row: Determination) -> None:
        if row.signed_or_edited_by(actor):
            raise SameOfficerError(
                "The officer who drafted, edited (rules, legal basis or letter) or submitted a "
                "determination cannot approve it: a second compliance officer must."
            )

    return _move(
        determination,
        actor=actor,
        to=DeterminationState.APPROVED,
        event="determination.approved",
        guard=second_officer,
        stamp=stamped("approved", actor),
        details=lambda row: {"after": {"submitted_by": row.submitted_by_id}},
    )


def determination_impact(*, determination: Determination) -> ImpactReport:
    """The impact preview: what applying ``determination`` would do now."""
    return judge(rules=draft_rules(determination), new_reference=determination.reference)


def _previous_references(own: str) -> set[str]:
    grant_refs = GrantSuspension.objects.filter(
        kind=SuspensionKind.REGULATORY, reference__startswith="determination:"
    ).values_list("reference", flat=True)
    credential_refs = CredentialReason.objects.filter(
        kind=SuspensionKind.REGULATORY, reference__startswith="determination:"
    ).values_list("reference", flat=True)
    return (set(grant_refs) | set(credential_refs)) - {own}


def _run(actor: User | None, determination: Determination, **plan: Any) -> dict[str, Any] | None:
    try:
        action = bulk_plan(
            actor=actor,
            reason=f"Determination {determination.reference}",
            suspension_kind=SuspensionKind.REGULATORY,
            determination=determination.reference,
            **plan,
        )
    except EmptyPlan:
        return None
    action = bulk_execute(action=action, actor=actor, run_now=True)
    return {
        "bulk_action": action.pk,
        "kind": action.kind,
        "scope": action.scope,
        "reference": action.reference,
        "items": action.items_done,
        "credentials_changed": action.credentials_changed,
    }


def determination_apply(*, determination: Determination, actor: User | None) -> Determination:
    """Put it in force and carry it out: suspend what it no longer allows, restore what it
    allows again (removing only earlier determinations' reasons), in one transaction."""
    with transaction.atomic(durable=True):
        determination = Determination.objects.select_for_update().get(pk=determination.pk)
        check_determination_transition(determination.state, DeterminationState.IN_FORCE)
        now = timezone.now()
        previous = (
            Determination.objects.select_for_update()
            .filter(state=DeterminationState.IN_FORCE)
            .first()
        )
        if previous is not None:
            previous.state = DeterminationState.SUPERSEDED
            previous.superseded_at = now
            previous.superseded_by = determination
            previous.save(update_fields=["state", "superseded_at", "superseded_by"])
            audit_record(
                actor=actor,
                action="determination.superseded",
                obj=previous,
                after={"superseded_by": determination.reference},
            )
        determination.state = DeterminationState.IN_FORCE
        determination.applied_by = actor
        determination.applied_at = now
        determination.save(update_fields=["state", "applied_by", "applied_at"])
        report = determination_impact(determination=determination)
        own = determination_reference(determination.reference)
        actions = []
        # Whole grants first, then the single keys the determination no longer allows.
        for scope, explicit in (
            (BulkScope.GRANT, report.grant_suspend),
            (BulkScope.CREDENTIAL, report.credential_suspend),
        ):
            if explicit:
                actions.append(
                    _run(
                        actor,
                        determination,
                        kind=BulkKind.SUSPEND,
                        filters={},
                        reference=own,
                        explicit=explicit,
                        scope=scope,
                    )
                )
        for reference in sorted(_previous_references(own)):
            for scope in (BulkScope.GRANT, BulkScope.CREDENTIAL):
                actions.append(
                    _run(
                        actor,
                        determination,
                        kind=BulkKind.RESTORE,
                        filters={},
                        reference=reference,
                        scope=scope,
                    )
                )
        determination.outcome = {
            "previous": previous.reference if previous else None,
            "impact": dict(report.totals),
            "bulk_actions": [a for a in actions if a],
        }
        determination.save(update_fields=["outcome"])
        audit_record(
            actor=actor,
            action="determination.applied",
            obj=determination,
            after=determination.outcome,
        )
        checkpoint_on_commit()
    return determination


__all__ = [
    "determination_apply",
    "determination_approve",
    "determination_draft",
    "determination_impact",
    "determination_in_force",
    "determination_send_back",
    "determination_submit",
    "determination_update",
]
