from django.urls import path

from provisioning.bulk import views

app_name = "bulk"

urlpatterns = [
    path("", views.action_list, name="list"),
    path("new/", views.plan, name="plan"),
    path("emergency-stop/", views.emergency_stop, name="emergency_stop"),
    path("<int:pk>/", views.detail, name="detail"),
    path("<int:pk>/progress/", views.progress, name="progress"),
    path("<int:pk>/run/", views.execute, name="execute"),
    path("<int:pk>/approve/", views.approve, name="approve"),
    path("<int:pk>/replan/", views.replan, name="replan"),
    path("<int:pk>/resume/", views.resume, name="resume"),
    path("<int:pk>/review/", views.review, name="review"),
    path("<int:pk>/lift/", views.lift_stop, name="lift_stop"),
]
