from django.urls import path

from portal.screening import views

app_name = "screening"

urlpatterns = [
    path("", views.queue, name="queue"),
    path("freshness/", views.freshness, name="freshness"),
    path("freshness/progress/", views.freshness_progress, name="freshness_progress"),
    path("lists/load/", views.list_load, name="list_load"),
    path("<int:pk>/", views.detail, name="detail"),
    path("<int:pk>/confirm/", views.confirm, name="confirm"),
    path("<int:pk>/dismiss/", views.dismiss, name="dismiss"),
]
