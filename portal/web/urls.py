from django.urls import path

from portal.web import views

urlpatterns = [
    path("", views.home, name="home"),
    path("waiting/", views.waiting, name="waiting"),
    path("healthz", views.healthz, name="healthz"),
    path("readyz", views.readyz, name="readyz"),
]
