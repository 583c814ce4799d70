from django.urls import path

from provisioning.introspection import views

app_name = "introspection"

urlpatterns = [
    path("oauth/introspect", views.introspect, name="introspect"),
]
