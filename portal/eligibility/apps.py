from django.apps import AppConfig


class EligibilityConfig(AppConfig):
    name = "portal.eligibility"
    label = "eligibility"
    verbose_name = "Eligibility and screening"
