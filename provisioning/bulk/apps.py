from django.apps import AppConfig


class BulkConfig(AppConfig):
    name = "provisioning.bulk"
    label = "bulk"
    verbose_name = "Bulk actions"
