from django.urls import path

from portal.audit import views

app_name = "audit"

urlpatterns = [
    path("", views.explorer, name="explorer"),
    path("events/<int:pk>/", views.event_detail, name="event"),
    path("export.csv", views.export, {"export_format": "csv"}, name="export_csv"),
    path("export.jsonl", views.export, {"export_format": "jsonl"}, name="export_jsonl"),
]
