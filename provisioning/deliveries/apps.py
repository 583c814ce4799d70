from django.apps import AppConfig


class DeliveriesConfig(AppConfig):
    name = "provisioning.deliveries"
    label = "deliveries"
