from django.urls import path

from portal.audit import transparency_views, views

app_name = "audit"

urlpatterns = [
    path("", views.explorer, name="explorer"),
    path("events/<int:pk>/", views.event_detail, name="event"),
    path("export.csv", views.export, {"export_format": "csv"}, name="export_csv"),
    path("export.jsonl", views.export, {"export_format": "jsonl"}, name="export_jsonl"),
    path("checkpoint", transparency_views.checkpoint, name="checkpoint"),
    path("checkpoints/", transparency_views.checkpoints, name="checkpoints"),
    path("checkpoints/<int:size>/cosign", transparency_views.cosign, name="cosign"),
    path("witness-keys/", transparency_views.witness_keys, name="witness_keys"),
    path("proof/inclusion", transparency_views.inclusion, name="inclusion"),
    path("proof/consistency", transparency_views.consistency, name="consistency"),
]
