from django.apps import AppConfig


class IntrospectionConfig(AppConfig):
    name = "provisioning.introspection"
    label = "introspection"
