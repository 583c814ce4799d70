"""One organisation's worth of objects for the authorization matrix.

"Ours" is the organisation of the partner_admin and partner_member personas; the
outsider administers another organisation. Every URL with a parameter points at one of
these objects, so each persona's outcome says whether it may reach *our* data.
"""

from __future__ import annotations

import datetime as dt
import os
from collections.abc import Callable, Collection
from dataclasses import dataclass
from typing import Any

from django.core.files.base import ContentFile
from django.utils import timezone

from foundation.audit.models import AuditEvent
from foundation.audit.services import audit_record
from foundation.crypto import encrypt_text
from portal.accounts.models import User
from portal.applications.models import Application
from portal.applications.states import ApplicationState
from portal.certification.models import Campaign, CertificationItem
from portal.certification.services import campaign_open
from portal.compliance.models import Determination
from portal.eligibility.models import Person
from portal.jobs.models import Job, JobKind
from portal.notifications.models import Notification, OrganisationWebhook
from portal.partners.models import (
    DocumentKind,
    Invitation,
    Membership,
    Organisation,
    OrganisationDocument,
)
from portal.screening.models import (
    EntryName,
    EntryType,
    ListEntry,
    ListFormat,
    ListVersion,
    NameKind,
    ScreeningMatch,
    ScreeningRun,
)
from portal.usage.models import AlertKind, UsageAlert
from provisioning.bulk.models import BulkAction
from provisioning.credentials.models import Credential
from provisioning.credentials.services import credential_issue
from provisioning.deliveries.models import Target
from provisioning.grants.models import Grant
from provisioning.grants.services import grant_create
from tests.factories import ApplicationFactory, CompletePersonFactory, StageFactory

PNG = b"\x89PNG\r\n\x1a\n" + b"\x00" * 64


@dataclass
class World:
    organisation: Organisation
    member_membership: Membership
    person: Person
    document: OrganisationDocument
    invitation: Invitation
    application: Application
    match: ScreeningMatch
    determination: Determination
    bulk_action: BulkAction
    notification: Notification
    webhook: OrganisationWebhook
    audit_event: AuditEvent
    grant: Grant
    credential: Credential
    target: Target
    campaign: Campaign
    certification_item: CertificationItem
    usage_alert: UsageAlert
    job: Job


def build_world(*, organisation: Organisation, admin: User, member: User, staff: User) -> World:
    person = CompletePersonFactory(organisation=organisation, user=member)
    document = OrganisationDocument(
        organisation=organisation,
        kind=DocumentKind.CERTIFICATE_OF_INCORPORATION,
        original_name="certificate.png",
        content_type="image/png",
        size=len(PNG),
        sha256="0" * 64,
        uploaded_by=admin,
    )
    document.file.save("certificate.png", ContentFile(PNG), save=False)
    document.save()
    invitation = Invitation.objects.create(
        organisation=organisation,
        email="invitee@example.org",
        token_hash="a" * 64,
        invited_by=admin,
        expires_at=timezone.now() + dt.timedelta(days=7),
    )
    stage = StageFactory()
    application = ApplicationFactory(
        organisation=organisation,
        stage=stage,
        created_by=admin,
        state=ApplicationState.IN_REVIEW,
        submitted_at=timezone.now(),
    )
    application.nominees.add(person)
    version = ListVersion.objects.create(
        list_format=ListFormat.CSL,
        file_name="matrix.csv",
        sha256="1" * 64,
        loaded_at=timezone.now(),
        loaded_by=staff,
        is_current=True,
    )
    entry = ListEntry.objects.create(
        version=version,
        source_list="SDN",
        entity_id="1",
        entry_type=EntryType.INDIVIDUAL,
        primary_name="Person Listed",
        content_hash="2" * 64,
    )
    EntryName.objects.create(
        entry=entry, name="Person Listed", kind=NameKind.PRIMARY, normalised="listed person"
    )
    run = ScreeningRun.objects.create(
        person=person,
        versions=[version.pk],
        threshold=0.85,
        created_at=timezone.now(),
        hit_count=1,
        state_before="unscreened",
        state_after="potential_match",
    )
    match = ScreeningMatch.objects.create(
        run=run,
        person=person,
        entry=entry,
        matched_alias="Person Listed",
        alias_kind=NameKind.PRIMARY,
        score=0.9,
    )
    determination = Determination.objects.create(
        reference="DET-MATRIX-1",
        legal_basis="Matrix test",
        effective_date=timezone.now().date(),
        created_by=staff,
    )
    bulk_action = BulkAction.objects.create(
        kind="suspend",
        reason="matrix",
        plan_hash="0" * 64,
        planned_by=staff,
        planned_at=timezone.now(),
    )
    notification = Notification.objects.create(
        user=admin, verb="application.approved", message="Approved", link="/"
    )
    webhook = OrganisationWebhook.objects.create(
        organisation=organisation,
        url="https://hooks.northwind.example/matrix",
        secret_encrypted=encrypt_text("whsec_bWF0cml4"),
    )
    audit_event = audit_record(
        actor=admin, action="matrix.event", obj=organisation, organisation_id=organisation.pk
    )
    grant = grant_create(actor=staff, organisation=organisation, stage=stage)
    credential = credential_issue(actor=staff, grant=grant, person=person).credential
    target = Target.objects.create(kind="webhook", name="matrix", url="http://127.0.0.1:9/")
    campaign = campaign_open(
        actor=staff,
        title="Matrix campaign",
        covered_model=stage.covered_model,
        deadline=timezone.now() + dt.timedelta(days=7),
    )
    usage_alert = UsageAlert.objects.create(
        kind=AlertKind.INACTIVE_KEY,
        dedup_key=f"inactive_key:{credential.pk}",
        organisation=organisation,
        covered_model=grant.covered_model,
        grant=grant,
        credential=credential,
        person=person,
        message="Matrix alert",
        first_seen_at=timezone.now(),
        last_seen_at=timezone.now(),
        created_at=timezone.now(),
    )
    return World(
        organisation=organisation,
        member_membership=Membership.objects.get(organisation=organisation, user=member),
        person=person,
        document=document,
        invitation=invitation,
        application=application,
        match=match,
        determination=determination,
        bulk_action=bulk_action,
        notification=notification,
        webhook=webhook,
        audit_event=audit_event,
        grant=grant,
        credential=credential,
        target=target,
        campaign=campaign,
        certification_item=campaign.items.get(),
        usage_alert=usage_alert,
        job=Job.objects.create(
            kind=JobKind.LIST_LOAD,
            params={"format": ListFormat.CSL},
            started_by=staff,
            created_at=timezone.now(),
            updated_at=timezone.now(),
        ),
    )


def assert_table_lists_exactly(
    names: Collection[str], expected: dict[str, str], *, what: str
) -> None:
    """Every one of ``names`` has a row in the ``expected`` table, and every row a name."""
    missing = [name for name in names if name not in expected]
    stale = [name for name in expected if name not in names]

    assert not missing, f"{what} missing from the authorization matrix: {missing}"
    assert not stale, f"Matrix rows for {what} that no longer exist: {stale}"


def assert_table_holds(
    observed: dict[str, str], expected: dict[str, str], *, print_variable: str
) -> None:
    """Each row of outcomes ``observed`` is the ``expected`` row, or every one that is not is
    listed. With the environment variable ``print_variable`` set, the observed table is
    printed first, as rows to paste when adding to ``expected``."""
    if os.environ.get(print_variable):
        for name, row in observed.items():
            print(f'    "{name}": "{row}",')
    mismatches = {
        name: f"expected {expected.get(name)!r}, got {row!r}"
        for name, row in observed.items()
        if expected.get(name) != row
    }
    assert not mismatches, "\n".join(f"{k}: {v}" for k, v in mismatches.items())


# Objects each parameterised URL points at (all of them belong to "our" organisation).
KWARGS: dict[str, Callable[[World], dict[str, Any]]] = {
    "partners:invitation_accept": lambda w: {"token": "not-a-real-token"},
    "partners:staff_detail": lambda w: {"slug": w.organisation.slug},
    "partners:staff_set_trusted": lambda w: {"slug": w.organisation.slug},
    "partners:staff_set_verification": lambda w: {"slug": w.organisation.slug},
    "partners:detail": lambda w: {"slug": w.organisation.slug},
    "partners:document_upload": lambda w: {"slug": w.organisation.slug},
    "partners:document_download": lambda w: {"slug": w.organisation.slug, "pk": w.document.pk},
    "partners:members": lambda w: {"slug": w.organisation.slug},
    "partners:member_remove": lambda w: {
        "slug": w.organisation.slug,
        "pk": w.member_membership.pk,
    },
    "partners:invitation_revoke": lambda w: {"slug": w.organisation.slug, "pk": w.invitation.pk},
    "eligibility:people": lambda w: {"slug": w.organisation.slug},
    "screening:detail": lambda w: {"pk": w.match.pk},
    "screening:confirm": lambda w: {"pk": w.match.pk},
    "screening:dismiss": lambda w: {"pk": w.match.pk},
    "applications:detail": lambda w: {"pk": w.application.pk},
    "applications:step": lambda w: {"pk": w.application.pk, "step": "model"},
    "applications:submit": lambda w: {"pk": w.application.pk},
    "applications:withdraw": lambda w: {"pk": w.application.pk},
    "reviews:application": lambda w: {"pk": w.application.pk},
    "reviews:claim": lambda w: {"pk": w.application.pk},
    "reviews:release": lambda w: {"pk": w.application.pk},
    "reviews:reassign": lambda w: {"pk": w.application.pk},
    "reviews:approve": lambda w: {"pk": w.application.pk},
    "reviews:reject": lambda w: {"pk": w.application.pk},
    "reviews:request_information": lambda w: {"pk": w.application.pk},
    "reviews:comment": lambda w: {"pk": w.application.pk},
    "reviews:respond": lambda w: {"pk": w.application.pk},
    "notifications:read": lambda w: {"pk": w.notification.pk},
    "notifications:webhooks": lambda w: {"slug": w.organisation.slug},
    "notifications:webhook_remove": lambda w: {"slug": w.organisation.slug, "pk": w.webhook.pk},
    "audit:event": lambda w: {"pk": w.audit_event.pk},
    "audit:cosign": lambda w: {"size": 1},
    "compliance:detail": lambda w: {"pk": w.determination.pk},
    "compliance:edit": lambda w: {"pk": w.determination.pk},
    "compliance:impact": lambda w: {"pk": w.determination.pk},
    "compliance:submit": lambda w: {"pk": w.determination.pk},
    "compliance:approve": lambda w: {"pk": w.determination.pk},
    "compliance:send_back": lambda w: {"pk": w.determination.pk},
    "compliance:apply": lambda w: {"pk": w.determination.pk},
    "compliance:document": lambda w: {"pk": w.determination.pk},
    "compliance:evidence": lambda w: {"pk": w.determination.pk},
    "compliance:bulk_evidence": lambda w: {"pk": w.bulk_action.pk},
    "bulk:detail": lambda w: {"pk": w.bulk_action.pk},
    "certification:detail": lambda w: {"pk": w.campaign.pk},
    "certification:progress": lambda w: {"pk": w.campaign.pk},
    "jobs:detail": lambda w: {"pk": w.job.pk},
    "jobs:progress": lambda w: {"pk": w.job.pk},
    "certification:organisation": lambda w: {
        "pk": w.campaign.pk,
        "organisation_id": w.organisation.pk,
    },
    "certification:decide": lambda w: {"pk": w.certification_item.pk},
    "bulk:progress": lambda w: {"pk": w.bulk_action.pk},
    "bulk:execute": lambda w: {"pk": w.bulk_action.pk},
    "bulk:approve": lambda w: {"pk": w.bulk_action.pk},
    "bulk:replan": lambda w: {"pk": w.bulk_action.pk},
    "bulk:resume": lambda w: {"pk": w.bulk_action.pk},
    "bulk:review": lambda w: {"pk": w.bulk_action.pk},
    "bulk:lift_stop": lambda w: {"pk": w.bulk_action.pk},
    "deliveries:retry_dead": lambda w: {"target_id": w.target.pk},
    "deliveries:target_edit": lambda w: {"target_id": w.target.pk},
    "api:organisation-detail": lambda w: {"slug": w.organisation.slug},
    "api:membership-detail": lambda w: {"pk": w.member_membership.pk},
    "api:invitation-detail": lambda w: {"pk": w.invitation.pk},
    "api:person-detail": lambda w: {"pk": w.person.pk},
    "api:application-detail": lambda w: {"pk": w.application.pk},
    "api:application-submit": lambda w: {"pk": w.application.pk},
    "api:application-withdraw": lambda w: {"pk": w.application.pk},
    "api:grant-detail": lambda w: {"pk": w.grant.pk},
    "api:credential-detail": lambda w: {"pk": w.credential.pk},
    "api:credential-rotate": lambda w: {"pk": w.credential.pk},
    "api:bulk-action-keys": lambda w: {"pk": w.bulk_action.pk},
    "api:bulk-action-lift": lambda w: {"pk": w.bulk_action.pk},
    "api:organisation-webhook-detail": lambda w: {"pk": w.webhook.pk},
    "credentials:collect": lambda w: {"pk": w.credential.pk},
    "api:audit-event-detail": lambda w: {"pk": w.audit_event.pk},
    "api:token_revoke": lambda w: {"pk": 1},
    "usage:alert": lambda w: {"pk": w.usage_alert.pk},
    "usage:acknowledge": lambda w: {"pk": w.usage_alert.pk},
    "usage:close": lambda w: {"pk": w.usage_alert.pk},
    "usage:hold": lambda w: {"pk": w.usage_alert.pk},
    "usage:release": lambda w: {"pk": w.usage_alert.pk},
    "compliance:access_report": lambda w: {"slug": w.organisation.slug},
    "api:review-reassign": lambda w: {"pk": w.application.pk},
    "api:application-answer": lambda w: {"pk": w.application.pk},
    "api:scim_tokens": lambda w: {"slug": w.organisation.slug},
    "api:scim_token_revoke": lambda w: {"slug": w.organisation.slug, "pk": 1},
    "api:credential-delivery": lambda w: {"pk": w.credential.pk},
    "api:review-detail": lambda w: {"pk": w.application.pk},
    "api:review-approve": lambda w: {"pk": w.application.pk},
    "api:review-claim": lambda w: {"pk": w.application.pk},
    "api:review-comment": lambda w: {"pk": w.application.pk},
    "api:review-reject": lambda w: {"pk": w.application.pk},
    "api:review-release": lambda w: {"pk": w.application.pk},
    "api:review-request-information": lambda w: {"pk": w.application.pk},
    "api:screening-match-detail": lambda w: {"pk": w.match.pk},
    "api:screening-match-confirm": lambda w: {"pk": w.match.pk},
    "api:screening-match-dismiss": lambda w: {"pk": w.match.pk},
    "api:determination-detail": lambda w: {"pk": w.determination.pk},
    "api:determination-apply": lambda w: {"pk": w.determination.pk},
    "api:determination-approve": lambda w: {"pk": w.determination.pk},
    "api:determination-document": lambda w: {"pk": w.determination.pk},
    "api:determination-impact": lambda w: {"pk": w.determination.pk},
    "api:determination-send-back": lambda w: {"pk": w.determination.pk},
    "api:determination-submit": lambda w: {"pk": w.determination.pk},
    "api:bulk-action-detail": lambda w: {"pk": w.bulk_action.pk},
    "api:bulk-action-approve": lambda w: {"pk": w.bulk_action.pk},
    "api:bulk-action-execute": lambda w: {"pk": w.bulk_action.pk},
    "api:bulk-action-review": lambda w: {"pk": w.bulk_action.pk},
    "api:bulk-action-status": lambda w: {"pk": w.bulk_action.pk},
    "api:bulk-action-replan": lambda w: {"pk": w.bulk_action.pk},
    "api:bulk-action-resume": lambda w: {"pk": w.bulk_action.pk},
    "api:bulk-action-evidence": lambda w: {"pk": w.bulk_action.pk},
    "api:determination-evidence": lambda w: {"pk": w.determination.pk},
    "api:target-detail": lambda w: {"pk": w.target.pk},
    "api:target-retry-dead": lambda w: {"pk": w.target.pk},
    "api:credential-collect": lambda w: {"pk": w.credential.pk},
    "api:document-detail": lambda w: {"pk": w.document.pk},
    "api:document-download": lambda w: {"pk": w.document.pk},
    "api:notification-read": lambda w: {"pk": w.notification.pk},
    "api:organisation-trusted": lambda w: {"slug": w.organisation.slug},
    "api:organisation-verification": lambda w: {"slug": w.organisation.slug},
    "api:certification-campaign-detail": lambda w: {"pk": w.campaign.pk},
    "api:certification-campaign-items": lambda w: {"pk": w.campaign.pk},
    "api:certification-task-decide": lambda w: {"pk": w.certification_item.pk},
    "api:usage-alert-detail": lambda w: {"pk": w.usage_alert.pk},
    "api:usage-alert-acknowledge": lambda w: {"pk": w.usage_alert.pk},
    "api:usage-alert-close": lambda w: {"pk": w.usage_alert.pk},
    "api:usage-alert-hold": lambda w: {"pk": w.usage_alert.pk},
    "api:usage-alert-release": lambda w: {"pk": w.usage_alert.pk},
    "api:access-report-detail": lambda w: {"slug": w.organisation.slug},
    "scim:resource_type": lambda w: {"name": "User"},
    "scim:schema": lambda w: {"schema_id": "urn:ietf:params:scim:schemas:core:2.0:User"},
    "scim:user": lambda w: {"scim_id": "1"},
    "scim:group": lambda w: {"scim_id": "1"},
    "scim:not_found": lambda w: {"path": "Nothing"},
}
