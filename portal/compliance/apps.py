from django.apps import AppConfig


class ComplianceConfig(AppConfig):
    name = "portal.compliance"
    label = "compliance"
    verbose_name = "Compliance determinations"

    def ready(self) -> None:
        from portal.compliance.selectors import determination_rules_in_force
        from portal.eligibility.rules import register_determined_rules

        register_determined_rules(determination_rules_in_force)
