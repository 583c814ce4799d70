from django.urls import path

from portal.reviews import views

app_name = "reviews"

urlpatterns = [
    path("", views.queue, name="queue"),
    path("<int:pk>/", views.application_review, name="application"),
    path("<int:pk>/claim/", views.claim, name="claim"),
    path("<int:pk>/release/", views.release, name="release"),
    path("<int:pk>/reassign/", views.reassign, name="reassign"),
    path("<int:pk>/approve/", views.approve, name="approve"),
    path("<int:pk>/reject/", views.reject, name="reject"),
    path("<int:pk>/request-information/", views.request_information, name="request_information"),
    path("<int:pk>/comments/", views.comment, name="comment"),
    path("applications/<int:pk>/", views.respond, name="respond"),
]
