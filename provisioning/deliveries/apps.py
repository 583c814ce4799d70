from django.apps import AppConfig


class DeliveriesConfig(AppConfig):
    name = "provisioning.deliveries"
    label = "deliveries"

    def ready(self) -> None:
        # The change log sits below this room and cannot import its tasks: it signals
        # after each commit that wrote rows, and the relays wake here.
        from provisioning.changelog.writer import changes_committed
        from provisioning.deliveries.tasks import wake_relays

        changes_committed.connect(wake_relays, dispatch_uid="deliveries.wake_relays")
