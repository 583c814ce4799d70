from django.apps import AppConfig


class CredentialsConfig(AppConfig):
    name = "provisioning.credentials"
    label = "credentials"
