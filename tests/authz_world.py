"""One organisation's worth of objects for the authorization matrix.

"Ours" is the organisation of the partner_admin and partner_member personas; the
outsider administers another organisation. Every URL with a parameter points at one of
these objects, so each persona's outcome says whether it may reach *our* data.
"""

from __future__ import annotations

import datetime as dt
from dataclasses import dataclass

from django.core.files.base import ContentFile
from django.utils import timezone

from portal.accounts.models import User
from portal.applications.models import Application
from portal.applications.states import ApplicationState
from portal.audit.models import AuditEvent
from portal.audit.services import audit_record
from portal.certification.models import Campaign, CertificationItem
from portal.certification.services import campaign_open
from portal.compliance.models import Determination
from portal.crypto import encrypt_text
from portal.eligibility.models import Person
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
    )
