from django.urls import include, path, re_path
from rest_framework.routers import DefaultRouter

from portal.api import (
    audit_export,
    bulk,
    certification,
    compliance,
    covered_models,
    determinations,
    documents,
    emergency_stops,
    notifications,
    organisation_webhooks,
    organisations,
    profile,
    reviews,
    screening,
    screening_lists,
    targets,
    token_views,
    usage,
    views,
)
from portal.api.docs import ApiDocsView
from portal.api.schema import SchemaView, api_not_found
from portal.scim import token_views as scim_token_views

app_name = "api"

router = DefaultRouter()
router.register("organisations", organisations.OrganisationViewSet, basename="organisation")
router.register("memberships", views.MembershipViewSet, basename="membership")
router.register("invitations", views.InvitationViewSet, basename="invitation")
router.register("persons", views.PersonViewSet, basename="person")
router.register("applications", views.ApplicationViewSet, basename="application")
router.register("grants", views.GrantViewSet, basename="grant")
router.register("covered-models", covered_models.CoveredModelViewSet, basename="covered-model")
router.register("credentials", views.CredentialViewSet, basename="credential")
router.register("audit-events", views.AuditEventViewSet, basename="audit-event")
router.register(
    "organisation-documents", documents.OrganisationDocumentViewSet, basename="document"
)
router.register("notifications", notifications.NotificationViewSet, basename="notification")
router.register(
    "organisation-webhooks",
    organisation_webhooks.OrganisationWebhookViewSet,
    basename="organisation-webhook",
)
# Staff only: the same services and permissions as the staff pages.
router.register("reviews", reviews.ReviewViewSet, basename="review")
router.register("screening-matches", screening.ScreeningMatchViewSet, basename="screening-match")
router.register("determinations", determinations.DeterminationViewSet, basename="determination")
router.register("bulk-actions", bulk.BulkActionViewSet, basename="bulk-action")
router.register("emergency-stops", emergency_stops.EmergencyStopViewSet, basename="emergency-stop")
router.register("targets", targets.TargetViewSet, basename="target")
# Certification, usage alerts, compliance reports and screening lists.
router.register(
    "certification-campaigns", certification.CampaignViewSet, basename="certification-campaign"
)
router.register(
    "certification-tasks", certification.CertificationTaskViewSet, basename="certification-task"
)
router.register("usage-alerts", usage.UsageAlertViewSet, basename="usage-alert")
router.register("access-reports", compliance.AccessReportViewSet, basename="access-report")
router.register("screening-lists", screening_lists.ScreeningListViewSet, basename="screening-list")

urlpatterns = [
    # Before the router, whose audit-events/<pk>/ would otherwise take "export".
    path("v1/audit-events/export/", audit_export.AuditExportView.as_view(), name="audit-export"),
    path(
        "v1/compliance/summary/",
        compliance.ComplianceSummaryView.as_view(),
        name="compliance-summary",
    ),
    path("v1/", include(router.urls)),
    path("v1/profile/", profile.ProfileView.as_view(), name="profile"),
    path("schema/", SchemaView.as_view(), name="schema"),
    path("docs/", ApiDocsView.as_view(url_name="api:schema"), name="docs"),
    path("tokens/", token_views.tokens, name="tokens"),
    path("tokens/<int:pk>/revoke/", token_views.token_revoke, name="token_revoke"),
    # The organisation's SCIM tokens, for its admins (SCIM itself is at /scim/v2/).
    path("scim-tokens/<slug:slug>/", scim_token_views.scim_tokens, name="scim_tokens"),
    path(
        "scim-tokens/<slug:slug>/<int:pk>/revoke/",
        scim_token_views.scim_token_revoke_view,
        name="scim_token_revoke",
    ),
    # Anything else under /api/ is a problem+json 404, not the HTML page.
    re_path(r"^.*/$", api_not_found, name="not_found"),
]
