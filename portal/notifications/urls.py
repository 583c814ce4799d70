from django.urls import path

from portal.notifications import views, webhook_views

app_name = "notifications"

urlpatterns = [
    path("", views.notification_list, name="list"),
    path("<int:pk>/read/", views.notification_read, name="read"),
    path("read-all/", views.notification_read_all, name="read_all"),
    path(
        "organisation-webhooks/<slug:slug>/",
        webhook_views.organisation_webhooks,
        name="webhooks",
    ),
    path(
        "organisation-webhooks/<slug:slug>/<int:pk>/remove/",
        webhook_views.organisation_webhook_remove_view,
        name="webhook_remove",
    ),
]
