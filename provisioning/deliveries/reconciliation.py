"""Reconciliation: read what a target actually holds, repair drift, keep a report.

Only credentials the relay considers delivered at the target are compared (its cursor has
passed their latest change and no failure is open): anything newer is the relay's to push.
"""

from __future__ import annotations

import logging

from django.db import transaction
from django.db.models import Exists, OuterRef
from django.utils import timezone

from foundation.audit.services import audit_record
from provisioning.connectors.base import ConnectorError
from provisioning.connectors.reconcile import diff_states, repair
from provisioning.connectors.registry import supports_reconciliation
from provisioning.credentials.models import Credential
from provisioning.deliveries.models import Change, DriftReport, Failure, Target
from provisioning.deliveries.relay import (
    build_connector,
    desired_states,
    past_cursor,
    release_lease,
    take_lease,
)

logger = logging.getLogger(__name__)


def target_reconcile(*, target_id: int) -> DriftReport | None:
    """One reconciliation pass at one target; None when it cannot be reconciled now."""
    target = Target.objects.get(pk=target_id)
    if not target.enabled or not supports_reconciliation(target.kind):
        return None
    token = take_lease(target_id)
    if token is None:
        return None  # the relay is at work; the next pass will look
    try:
        target.refresh_from_db()
        connector = build_connector(target.to_config())
        try:
            try:
                actual = connector.read_state()
            except ConnectorError as exc:
                return DriftReport.objects.create(
                    target=target, created_at=timezone.now(), error=str(exc)[:2000]
                )
            if actual is None:
                return None
            pending = Change.objects.filter(
                past_cursor(target.cursor_xid, target.cursor_id), credential=OuterRef("pk")
            )
            failing = Failure.objects.filter(target=target, credential=OuterRef("pk"))
            settled = Credential.objects.filter(
                ~Exists(pending), ~Exists(failing), changes__isnull=False
            ).distinct()
            model_ids = frozenset(target.covered_models.values_list("pk", flat=True))
            ids = list(settled.values_list("pk", flat=True))
            desired = {s.credential_id: s for s in desired_states(ids, model_ids=model_ids or None)}
            # Identities the relay has not settled yet are not drift either.
            unsettled = set(actual) - set(desired)
            in_flight = set(
                Credential.objects.filter(pk__in=unsettled).values_list("pk", flat=True)
            )
            actual = {cid: state for cid, state in actual.items() if cid not in in_flight}
            report = diff_states(desired, actual)
            outcomes = repair(connector, report, desired) if report.repairable else []
        except ConnectorError as exc:
            return DriftReport.objects.create(
                target=target, created_at=timezone.now(), error=str(exc)[:2000]
            )
        finally:
            connector.close()
        repaired = sum(1 for o in outcomes if o.ok)
        drifted = len(report.repairable) + len(report.unknown)
        with transaction.atomic(durable=True):
            drift = DriftReport.objects.create(
                target=target,
                created_at=timezone.now(),
                checked=report.checked,
                drifted=drifted,
                repaired=repaired,
                details=report.as_dict(),
            )
            if drifted:
                logger.warning("Drift at target %s: %s", target.name, report.counts())
                audit_record(
                    actor=None,
                    action="delivery.drift",
                    obj=target,
                    after={**report.counts(), "repaired": repaired, "report_id": drift.pk},
                )
        return drift
    finally:
        release_lease(target_id, token)
