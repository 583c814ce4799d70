from django.apps import AppConfig


class EligibilityConfig(AppConfig):
    name = "portal.eligibility"
    label = "eligibility"
    verbose_name = "Eligibility and screening"

    def ready(self) -> None:
        from foundation.people import register_held_by_screening
        from portal.eligibility.models import HELD_SCREENING_STATES

        # The access side issues a held person's key suspended; the judgement is ours.
        register_held_by_screening(lambda person: person.screening_state in HELD_SCREENING_STATES)
