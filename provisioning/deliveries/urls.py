from django.urls import path

from provisioning.deliveries import views

app_name = "deliveries"

urlpatterns = [
    path("", views.health, name="health"),
    path("targets/new", views.target_add, name="target_add"),
    path("targets/<int:target_id>/edit", views.target_edit, name="target_edit"),
    path("targets/<int:target_id>/retry-dead", views.retry_dead, name="retry_dead"),
]
