from django.urls import path

from portal.compliance import views

app_name = "compliance"

urlpatterns = [
    path("", views.dashboard, name="dashboard"),
    path("organisations/<slug:slug>/access-report/", views.access_report, name="access_report"),
    path("determinations/", views.determination_index, name="determinations"),
    path("determinations/new/", views.draft, name="draft"),
    path("determinations/<int:pk>/", views.detail, name="detail"),
    path("determinations/<int:pk>/edit/", views.edit, name="edit"),
    path("determinations/<int:pk>/impact/", views.impact, name="impact"),
    path("determinations/<int:pk>/submit/", views.submit, name="submit"),
    path("determinations/<int:pk>/approve/", views.approve, name="approve"),
    path("determinations/<int:pk>/send-back/", views.send_back, name="send_back"),
    path("determinations/<int:pk>/apply/", views.apply, name="apply"),
    path("determinations/<int:pk>/letter.pdf", views.document, name="document"),
    path("determinations/<int:pk>/evidence.zip", views.evidence, name="evidence"),
    path("bulk-actions/<int:pk>/evidence.zip", views.bulk_evidence, name="bulk_evidence"),
]
