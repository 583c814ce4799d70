from django.apps import AppConfig


class ScreeningConfig(AppConfig):
    name = "portal.screening"
    label = "screening"
    verbose_name = "Denied-party screening"
