from typing import Any

from django.apps import AppConfig


def _screen_again(sender: Any, *, person_id: int, **kwargs: Any) -> None:
    """A person's identity changed (after commit): a worker screens them again."""
    from portal.screening.tasks import screen_person

    screen_person.delay(person_id)


class ScreeningConfig(AppConfig):
    name = "portal.screening"
    label = "screening"
    verbose_name = "Denied-party screening"

    def ready(self) -> None:
        from portal.eligibility.signals import identity_changed

        identity_changed.connect(_screen_again, dispatch_uid="screening.screen_again")
