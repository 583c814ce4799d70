from django.urls import path

from portal.usage import views

app_name = "usage"

urlpatterns = [
    path("v1/events", views.ingest, name="ingest"),
    path("alerts/", views.alerts, name="alerts"),
    path("alerts/<int:pk>/", views.alert_detail, name="alert"),
    path("alerts/<int:pk>/acknowledge/", views.alert_acknowledge, name="acknowledge"),
    path("alerts/<int:pk>/close/", views.alert_close, name="close"),
    path("alerts/<int:pk>/hold/", views.alert_hold, name="hold"),
    path("alerts/<int:pk>/release/", views.alert_release, name="release"),
]
