from django.apps import AppConfig


class CertificationConfig(AppConfig):
    name = "portal.certification"
    label = "certification"
    verbose_name = "Access certification"
