from django.urls import path

from provisioning.credentials import views

app_name = "credentials"

urlpatterns = [
    path("", views.credential_list, name="list"),
]
