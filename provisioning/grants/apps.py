from django.apps import AppConfig


class GrantsConfig(AppConfig):
    name = "provisioning.grants"
    label = "grants"
