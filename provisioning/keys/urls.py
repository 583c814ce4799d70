from django.urls import path

from provisioning.keys import views

app_name = "credentials"

urlpatterns = [
    path("", views.credential_list, name="list"),
    path("<int:pk>/collect/", views.credential_collect, name="collect"),
]
