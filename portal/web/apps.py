from django.apps import AppConfig


class WebConfig(AppConfig):
    name = "portal.web"
    label = "web"
    verbose_name = "Portal shell and health"

    def ready(self) -> None:
        from portal.web import checks  # noqa: F401  (registers the deployment checks)
