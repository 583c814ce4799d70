"""What the compliance tests read: usage alerts, and an organisation's holdings as the access
report (page and API) shows them."""

from __future__ import annotations

import io
from typing import Any

from django.utils import timezone

from portal.accounts.models import User
from portal.applications.models import Application
from portal.applications.states import ApplicationState
from portal.compliance.evidence import bulk_action_evidence
from portal.compliance.evidence_verify import BundleReport, verify_bundle_file
from portal.partners.models import Organisation
from portal.reviews.models import Approval, ApprovalPosition, Review
from portal.usage.models import AlertKind, AlertState, UsageAlert
from provisioning.bulk.models import BulkAction
from provisioning.catalog.models import Stage
from provisioning.credentials.models import Credential
from provisioning.credentials.services import credential_revoke
from provisioning.grants.models import Grant, SuspensionKind
from provisioning.grants.services import grant_suspend
from tests.factories import ApplicationFactory, CompletePersonFactory, StageFactory
from tests.provisioning_fakes import active_grant, issue


def over_quota_alert(
    credential: Credential, n: int = 0, *, state: str = AlertState.OPEN
) -> UsageAlert:
    """An over-quota alert on ``credential`` (not saved); ``n`` keeps its dedup key unique."""
    grant = credential.grant
    now = timezone.now()
    return UsageAlert(
        kind=AlertKind.OVER_QUOTA,
        dedup_key=f"over_quota:{grant.pk}:{n}",
        state=state,
        organisation=grant.organisation,
        covered_model=grant.covered_model,
        grant=grant,
        credential=credential,
        person=credential.person,
        message="over",
        first_seen_at=now,
        last_seen_at=now,
        created_at=now,
    )


def approved_grant(organisation: Organisation, reviewer: User) -> tuple[Grant, Application]:
    """A grant of ten seats and the approved application it came from, with the review and
    the reviewer's first approval behind it: the authority the access report names."""
    stage: Stage = StageFactory(seats=10)
    grant = active_grant(organisation=organisation, stage=stage)
    application = ApplicationFactory(
        organisation=organisation,
        stage=stage,
        state=ApplicationState.APPROVED,
        submitted_at=timezone.now(),
    )
    Review.objects.create(application=application, grant=grant)
    Approval.objects.create(
        application=application,
        reviewer=reviewer,
        position=ApprovalPosition.FIRST,
        stage=stage,
        seats=10,
        monthly_quota=1000,
        rate_limit_per_minute=10,
        expires_at=grant.expires_at,
    )
    return grant, application


def holdings_on(
    organisation: Organisation, grant: Grant, application: Application
) -> dict[str, Any]:
    """Ada holds a key on ``grant``; Gone Person's key there is revoked; another grant of the
    organisation is suspended by regulation BIS-2026-18."""
    ada = issue(grant, CompletePersonFactory(organisation=organisation, legal_name="Ada Holder"))
    gone = issue(grant, CompletePersonFactory(organisation=organisation, legal_name="Gone Person"))
    credential_revoke(actor=None, credential=gone.credential, reason="left")
    other = active_grant(organisation=organisation)
    grant_suspend(
        actor=None, grants=other, reason=SuspensionKind.REGULATORY, reference="BIS-2026-18"
    )
    return {"grant": grant, "ada": ada.credential, "other": other, "application": application}


def bulk_action_bundle_report(action: BulkAction, actor: User) -> BundleReport:
    """The action's evidence bundle, downloaded by ``actor`` and verified offline."""
    bundle = bulk_action_evidence(action=action, actor=actor)
    return verify_bundle_file(io.BytesIO(bundle.file.read()))
