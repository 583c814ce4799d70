from django.apps import AppConfig


class AuditConfig(AppConfig):
    name = "foundation.audit"
    label = "audit"
    verbose_name = "Audit trail"
