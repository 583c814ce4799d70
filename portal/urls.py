from allauth.account.decorators import secure_admin_login
from django.contrib import admin
from django.urls import include, path

from portal.web import views as web_views

# The admin signs in through allauth, so MFA and login throttling apply there too.
admin.autodiscover()
admin.site.login = secure_admin_login(admin.site.login)  # type: ignore[method-assign]
admin.site.site_header = "Clearance administration"

urlpatterns = [
    # First: gateways call it on every request they serve, and Django tries patterns in order.
    path("", include("provisioning.introspection.urls")),
    path("", include("portal.web.urls")),
    path("accounts/", include("allauth.urls")),
    path("admin/", admin.site.urls),
    path("organisation/", include("portal.partners.urls")),
    path("eligibility/", include("portal.eligibility.urls")),
    path("screening/", include("portal.screening.urls")),
    path("applications/", include("portal.applications.urls")),
    path("reviews/", include("portal.reviews.urls")),
    path("notifications/", include("portal.notifications.urls")),
    path("audit/", include("portal.audit.urls")),
    path("compliance/", include("portal.compliance.urls")),
    path("certification/", include("portal.certification.urls")),
    path("jobs/", include("portal.jobs.urls")),
    path("usage/", include("portal.usage.urls")),
    path("bulk/", include("provisioning.bulk.urls")),
    path("api/", include("portal.api.urls")),
    path("scim/v2/", include("portal.scim.urls")),
    path("provisioning/", include("provisioning.deliveries.urls")),
    path("provisioning/keys/", include("provisioning.keys.urls")),
]

handler403 = web_views.permission_denied
handler404 = web_views.page_not_found
handler500 = web_views.server_error
