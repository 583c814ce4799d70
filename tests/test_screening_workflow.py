"""Screening holds people who may be listed; compliance confirms them or suppresses the entry."""

from __future__ import annotations

import datetime as dt
from pathlib import Path

import pytest

from foundation.audit.chain import verify_chain
from foundation.audit.models import AuditEvent
from portal.applications.services import application_submit
from portal.applications.states import ApplicationState
from portal.eligibility.models import ScreeningState
from portal.screening import services
from portal.screening.errors import IllegalTransitionError, ScreeningError
from portal.screening.lists import list_version_load
from portal.screening.models import MatchStatus, ScreeningMatch, ScreeningRun, Suppression
from portal.screening.services import (
    person_screen,
    screening_match_confirm,
    screening_match_dismiss,
)
from portal.screening.tasks import rescreen_all
from tests.factories import (
    CompletePersonFactory,
    PersonFactory,
    StageFactory,
    UserFactory,
    add_member,
)
from tests.reviewing import ready_draft

pytestmark = pytest.mark.django_db

KHUSYAYNOVA = (
    '26233,"KHUSYAYNOVA, Elena Alekseevna","individual","CYBER2",-0- ,-0- ,-0- ,-0- ,-0- ,'
    '-0- ,-0- ,"DOB 17 Feb 1974; Gender Female."'
)
MALKEVICH = (
    '26235,"MALKEVICH, Alexander Aleksandrovich","individual","CYBER2",-0- ,-0- ,-0- ,-0- ,'
    '-0- ,-0- ,-0- ,"DOB 14 Jun 1975; nationality Russia."'
)
BANK = '306,"BANCO NACIONAL DE CUBA",-0- ,"CUBA",-0- ,-0- ,-0- ,-0- ,-0- ,-0- ,-0- ,-0- '


@pytest.fixture
def holds(monkeypatch):
    calls: list[tuple[str, int]] = []
    monkeypatch.setattr(
        services,
        "hold_person_access",
        lambda *, person, actor, reason: calls.append(("hold", person.pk)),
    )
    monkeypatch.setattr(
        services,
        "release_person_access",
        lambda *, person, actor, reason: calls.append(("release", person.pk)),
    )
    return calls


@pytest.fixture
def enqueued(monkeypatch):
    versions: list[int] = []
    monkeypatch.setattr(rescreen_all, "delay", lambda version_id: versions.append(version_id))
    return versions


def _load(tmp_path: Path, *rows: str, name: str = "sdn.csv"):
    path = tmp_path / name
    path.write_text("\n".join(rows) + "\n", encoding="utf-8")
    return list_version_load(list_format="ofac-sdn", path=path, actor=None).version


@pytest.fixture
def listed(tmp_path, enqueued):
    return _load(tmp_path, KHUSYAYNOVA, MALKEVICH, BANK)


def test_a_hit_holds_the_person_and_lands_in_the_queue(listed, holds):
    # given
    person = PersonFactory(
        legal_name="Elena Khusyaynova", date_of_birth=dt.date(1974, 2, 17), citizenships=["RU"]
    )

    # when
    outcome = person_screen(person=person, actor=None)

    # then
    person.refresh_from_db()
    assert person.screening_state == ScreeningState.POTENTIAL_MATCH
    (match,) = ScreeningMatch.objects.filter(person=person, status=MatchStatus.PENDING)
    assert match.entry.entity_id == "26233"
    assert match.matched_alias == "KHUSYAYNOVA, Elena Alekseevna"
    assert 0.85 <= match.score <= 1 and match.reasons
    assert outcome.hits[0].entity_id == "26233"
    assert holds == [("hold", person.pk)]
    event = AuditEvent.objects.get(action="person.screened")
    assert event.after["screening_state"] == "potential_match"
    assert event.after["hits"][0]["entity_id"] == "26233"


def test_someone_not_listed_is_cleared_without_a_hold(listed, holds):
    person = PersonFactory(legal_name="Jane Marple")

    person_screen(person=person, actor=None)

    person.refresh_from_db()
    assert person.screening_state == ScreeningState.CLEAR
    assert not ScreeningMatch.objects.exists()
    assert ScreeningRun.objects.get(person=person).hit_count == 0
    assert holds == []


def test_screening_without_a_loaded_list_is_refused(db):
    person = PersonFactory(legal_name="Jane Marple")

    with pytest.raises(ScreeningError, match="No screening list is loaded"):
        person_screen(person=person, actor=None)

    person.refresh_from_db()
    assert person.screening_state == ScreeningState.UNSCREENED


def test_compliance_confirms_a_match_and_the_person_stays_blocked(
    listed, holds, compliance_officer, tmp_path
):
    # given
    person = PersonFactory(legal_name="Alexander Malkevich", date_of_birth=dt.date(1975, 6, 14))
    person_screen(person=person, actor=None)
    match = ScreeningMatch.objects.get(person=person, status=MatchStatus.PENDING)

    # when
    screening_match_confirm(match=match, actor=compliance_officer, reason="Same DOB and passport")

    # then
    person.refresh_from_db()
    match.refresh_from_db()
    assert person.screening_state == ScreeningState.CONFIRMED_MATCH
    assert (match.status, match.resolved_by) == (MatchStatus.CONFIRMED, compliance_officer)
    event = AuditEvent.objects.get(action="screening.match_confirmed")
    assert event.reason == "Same DOB and passport" and event.actor == compliance_officer
    # A later list without the entry does not unblock a confirmed match.
    _load(tmp_path, BANK, name="sdn-2.csv")
    rescreen_all(None)
    person.refresh_from_db()
    assert person.screening_state == ScreeningState.CONFIRMED_MATCH


def test_a_match_is_resolved_once_and_only_with_a_reason(listed, holds, compliance_officer):
    person = PersonFactory(legal_name="Alexander Malkevich", date_of_birth=dt.date(1975, 6, 14))
    person_screen(person=person, actor=None)
    match = ScreeningMatch.objects.get(person=person, status=MatchStatus.PENDING)

    with pytest.raises(ScreeningError, match="Give the reason"):
        screening_match_dismiss(match=match, actor=compliance_officer, reason="  ")
    screening_match_confirm(match=match, actor=compliance_officer, reason="It is him")
    with pytest.raises(IllegalTransitionError, match="already confirmed match"):
        screening_match_dismiss(match=match, actor=compliance_officer, reason="Changed my mind")

    assert not Suppression.objects.exists()


def test_a_dismissed_match_suppresses_the_entry_until_the_entry_changes(
    listed, holds, compliance_officer, tmp_path
):
    # given: a namesake of a listed person whose date of birth we do not know yet, held
    person = PersonFactory(legal_name="Elena Khusyaynova", date_of_birth=None)
    person_screen(person=person, actor=None)
    match = ScreeningMatch.objects.get(person=person, status=MatchStatus.PENDING)

    # when: compliance calls it a false positive
    suppression = screening_match_dismiss(
        match=match, actor=compliance_officer, reason="Born 1999, different passport"
    )

    # then: cleared, released, suppressed
    person.refresh_from_db()
    assert person.screening_state == ScreeningState.FALSE_POSITIVE
    assert suppression.content_hash == match.entry.content_hash
    assert holds == [("hold", person.pk), ("release", person.pk)]

    # when: the same entry comes again in a new version, unchanged
    _load(tmp_path, KHUSYAYNOVA, MALKEVICH, BANK, name="sdn-2.csv")
    rescreen_all(None)

    # then: the suppression still holds
    person.refresh_from_db()
    assert person.screening_state == ScreeningState.FALSE_POSITIVE
    assert ScreeningMatch.objects.filter(person=person, status=MatchStatus.SUPPRESSED).exists()
    assert not ScreeningMatch.objects.filter(person=person, status=MatchStatus.PENDING).exists()

    # when: the entry changes (a new date of birth is published)
    changed = KHUSYAYNOVA.replace("DOB 17 Feb 1974;", "DOB 17 Feb 1974; alt. DOB 1999;")
    _load(tmp_path, changed, MALKEVICH, BANK, name="sdn-3.csv")
    rescreen_all(None)

    # then: the person is held again for a fresh decision
    person.refresh_from_db()
    assert person.screening_state == ScreeningState.POTENTIAL_MATCH
    assert ScreeningMatch.objects.filter(person=person, status=MatchStatus.PENDING).count() == 1
    assert holds[-1] == ("hold", person.pk)


def test_loading_a_new_version_enqueues_the_rescreen_on_commit(
    tmp_path, enqueued, django_capture_on_commit_callbacks
):
    with django_capture_on_commit_callbacks(execute=True):
        version = _load(tmp_path, BANK)

    assert enqueued == [version.pk]


def test_the_rescreen_task_screens_everyone_in_chunks_with_one_audit_event_each(
    listed, holds, monkeypatch
):
    # given: five people, one of them listed
    monkeypatch.setattr(services, "RESCREEN_CHUNK", 2)
    people = [PersonFactory(legal_name=f"Ordinary Person{n}") for n in range(4)]
    listed_person = PersonFactory(
        legal_name="Malkevich Alexander", date_of_birth=None, citizenships=["RU"]
    )

    # when
    totals = rescreen_all(listed.pk)

    # then
    assert totals == {"people": 5, "held": 1, "changed": 5}
    states = {p.pk: p.screening_state for p in type(listed_person).objects.all()}
    assert states[listed_person.pk] == ScreeningState.POTENTIAL_MATCH
    assert {states[p.pk] for p in people} == {ScreeningState.CLEAR}
    events = AuditEvent.objects.filter(action="screening.rescreened")
    assert events.count() == 3
    assert all(len(event.digest) == 64 for event in events)
    assert verify_chain().ok

    # when: run again (the task is idempotent)
    again = rescreen_all(listed.pk)

    # then
    assert again == {"people": 5, "held": 1, "changed": 0}
    assert ScreeningMatch.objects.filter(status=MatchStatus.PENDING).count() == 1


def test_the_screen_person_task_screens_one_person_by_id(listed, holds):
    from portal.screening.tasks import screen_person

    person = PersonFactory(legal_name="Alexander Malkevich", date_of_birth=dt.date(1975, 6, 14))

    assert screen_person(person.pk) == ScreeningState.POTENTIAL_MATCH
    assert screen_person(person.pk + 1000) == "gone"


def _submitted_while_unscreened(admin, legal_name: str, **facts):
    """An application submitted before its nominee's screening ran: it waits in screening."""
    organisation = admin.memberships.get().organisation
    user = UserFactory()
    add_member(organisation, user)
    person = CompletePersonFactory(
        organisation=organisation,
        user=user,
        legal_name=legal_name,
        screening_state=ScreeningState.UNSCREENED,
        **facts,
    )
    application = ready_draft(admin, organisation, StageFactory(), [person])
    application_submit(actor=admin, application=application)
    application.refresh_from_db()
    assert application.state == ApplicationState.SCREENING
    return person, application


def test_a_finished_screening_queues_the_applications_waiting_on_it(listed, partner_admin):
    # given
    person, application = _submitted_while_unscreened(partner_admin, "Jane Marple")

    # when the screening task runs and finds nothing
    person_screen(person=person, actor=None)

    # then the application is in the review queue, judged again with the screening done
    application.refresh_from_db()
    assert application.state == "in_review"
    [nominee] = application.eligibility_snapshot["people"]
    [screening] = [check for check in nominee["checks"] if check["code"] == "screening"]
    assert screening["outcome"] == "pass"
    assert AuditEvent.objects.filter(action="application.queued_for_review").count() == 1


def test_a_held_nominee_keeps_the_application_waiting_until_compliance_decides(
    listed, holds, partner_admin, compliance_officer
):
    # given a nominee who matches a listed name
    person, application = _submitted_while_unscreened(
        partner_admin, "Elena Khusyaynova", date_of_birth=dt.date(1974, 2, 17)
    )
    person_screen(person=person, actor=None)
    application.refresh_from_db()
    assert application.state == "screening"

    # when compliance dismisses the match
    match = ScreeningMatch.objects.get(person=person, status=MatchStatus.PENDING)
    screening_match_dismiss(match=match, actor=compliance_officer, reason="Born 1999")

    # then the application moves on
    application.refresh_from_db()
    assert application.state == "in_review"
