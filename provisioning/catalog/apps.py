from django.apps import AppConfig


class CatalogConfig(AppConfig):
    name = "provisioning.catalog"
    label = "catalog"
    verbose_name = "Covered models"
