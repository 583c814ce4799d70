from django.urls import path

from portal.applications import views

app_name = "applications"

urlpatterns = [
    path("", views.application_list, name="list"),
    path("new/", views.application_new, name="new"),
    path("<int:pk>/", views.application_detail, name="detail"),
    path("<int:pk>/steps/<str:step>/", views.application_step, name="step"),
    path("<int:pk>/submit/", views.application_submit_view, name="submit"),
    path("<int:pk>/withdraw/", views.application_withdraw_view, name="withdraw"),
]
