from __future__ import annotations

from celery import shared_task

from portal.screening.services import people_rescreen, person_screen


@shared_task(name="screening.rescreen_all", acks_late=True)
def rescreen_all(version_id: int | None = None) -> dict[str, int]:
    """Re-screen everyone against the lists in force (``version_id`` is the load that asked).

    Idempotent: a second run screens against the same versions and changes nothing more.
    """
    return people_rescreen(actor=None)


@shared_task(name="screening.screen_person", acks_late=True)
def screen_person(person_id: int) -> str:
    """Screen one person (enqueued on commit when a complete profile's identity changes).

    Idempotent: screening again against the same lists reaches the same state.
    """
    from portal.eligibility.models import Person

    person = Person.objects.filter(pk=person_id).first()
    if person is None:
        return "gone"
    return person_screen(person=person, actor=None).state_after
