from django.urls import path

from portal.partners import views

app_name = "partners"

urlpatterns = [
    path("", views.organisation, name="organisation"),
    path("register/", views.organisation_register_view, name="register"),
    path("invitations/<str:token>/", views.invitation_accept_view, name="invitation_accept"),
    path("staff/", views.staff_organisations_view, name="staff_list"),
    path("staff/<slug:slug>/", views.staff_organisation_detail, name="staff_detail"),
    path("staff/<slug:slug>/trusted/", views.staff_set_trusted, name="staff_set_trusted"),
    path(
        "staff/<slug:slug>/verification/",
        views.staff_set_verification,
        name="staff_set_verification",
    ),
    path("<slug:slug>/", views.organisation_detail, name="detail"),
    path("<slug:slug>/documents/", views.document_upload, name="document_upload"),
    path(
        "<slug:slug>/documents/<int:pk>/download/",
        views.document_download,
        name="document_download",
    ),
    path("<slug:slug>/members/", views.members, name="members"),
    path("<slug:slug>/members/<int:pk>/remove/", views.member_remove, name="member_remove"),
    path(
        "<slug:slug>/invitations/<int:pk>/revoke/",
        views.invitation_revoke_view,
        name="invitation_revoke",
    ),
]
