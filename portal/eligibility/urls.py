from django.urls import path

from portal.eligibility import views

app_name = "eligibility"

urlpatterns = [
    path("profile/", views.profile, name="profile"),
    path("organisations/<slug:slug>/people/", views.people, name="people"),
]
