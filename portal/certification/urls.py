from django.urls import path

from portal.certification import views

app_name = "certification"

urlpatterns = [
    path("", views.campaign_index, name="list"),
    path("new/", views.campaign_new, name="new"),
    path("<int:pk>/", views.campaign_detail, name="detail"),
    path("<int:pk>/progress/", views.campaign_progress_fragment, name="progress"),
    path(
        "<int:pk>/organisations/<int:organisation_id>/",
        views.campaign_organisation,
        name="organisation",
    ),
    path("tasks/", views.tasks, name="tasks"),
    path("tasks/confirm-all/", views.confirm_all, name="confirm_all"),
    path("tasks/<int:pk>/decide/", views.decide, name="decide"),
]
