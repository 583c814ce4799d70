"""Long work in the background: a list load and a campaign opening are jobs a worker runs.

The page checks the input and queues the job; the service reports progress in chunks; a
failed load leaves the version before it in force; a rerun after a crash changes nothing
twice; only compliance sees a job."""

from __future__ import annotations

import contextlib
import datetime as dt
from collections.abc import Callable, Iterator
from pathlib import Path

import pytest
from django.core.files.uploadedfile import SimpleUploadedFile
from django.db import connection
from django.urls import reverse
from django.utils import timezone

from foundation.audit.models import AuditEvent
from portal.certification.models import Campaign
from portal.jobs.models import Job, JobKind, JobState
from portal.jobs.services import (
    JobRefused,
    _claim,
    _finish,
    job_run,
    job_start,
    jobs_to_resume,
)
from portal.screening.data import LIST_DATA
from portal.screening.jobs import list_load_run
from portal.screening.lists import list_version_load
from portal.screening.models import ListEntry, ListVersion
from tests.concurrency import paused_in_a_thread
from tests.conftest import client_for
from tests.factories import PersonFactory, StageFactory
from tests.provisioning_fakes import active_grant, issue

pytestmark = pytest.mark.django_db

CSL = LIST_DATA / "csl-consolidated-sample.csv"
LOAD = reverse("screening:list_load")


@pytest.fixture(autouse=True)
def _private(settings, tmp_path, monkeypatch):
    settings.PRIVATE_STORAGE_ROOT = tmp_path / "private"
    # The re-screen a load enqueues is tested in the workflow module.
    monkeypatch.setattr("portal.screening.lists._enqueue_rescreen", lambda version_id: None)


def _csl_upload(content: bytes | None = None, name: str = "csl.csv") -> SimpleUploadedFile:
    return SimpleUploadedFile(name, CSL.read_bytes() if content is None else content)


def _private_files(settings) -> list[Path]:
    root = Path(settings.PRIVATE_STORAGE_ROOT)
    return [p for p in root.rglob("*") if p.is_file()] if root.exists() else []


def _queued_load(officer, settings) -> Job:
    response = client_for(officer).post(LOAD, {"format": "csl", "file": _csl_upload()})
    assert response.status_code == 302
    job = Job.objects.get()
    assert response["Location"] == reverse("jobs:detail", args=[job.pk])
    return job


# --- the services report progress in chunks ------------------------------------------------


def test_a_list_load_reports_its_entries_stored_batch_by_batch(monkeypatch):
    monkeypatch.setattr("portal.screening.lists.BATCH_SIZE", 2)
    heard: list[tuple[int, int]] = []

    version = list_version_load(
        list_format="csl", path=CSL, actor=None, progress=lambda d, t: heard.append((d, t))
    ).version

    total = version.entry_count
    assert total > 4
    assert heard[0] == (0, total)
    assert heard[-1] == (total, total)
    assert [d for d, _ in heard] == sorted({d for d, _ in heard})  # only forward
    assert len(heard) == 1 + -(-total // 2)


def test_a_campaign_opening_reports_its_keys_chunk_by_chunk(compliance_officer, monkeypatch):
    monkeypatch.setattr("portal.certification.services.OPEN_CHUNK", 2)
    stage = StageFactory(seats=10)
    grant = active_grant(stage=stage)
    for _ in range(5):
        issue(grant, PersonFactory(organisation=grant.organisation))
    heard: list[tuple[int, int]] = []
    from portal.certification.services import campaign_open

    campaign = campaign_open(
        actor=compliance_officer,
        title="Q4",
        covered_model=stage.covered_model,
        deadline=timezone.now() + dt.timedelta(days=5),
        progress=lambda d, t: heard.append((d, t)),
    )

    assert campaign.item_count == 5 == campaign.items.count()
    assert heard == [(0, 5), (2, 5), (4, 5), (5, 5)]


# --- a list load through the page ---------------------------------------------------------


def test_the_page_queues_a_load_keeps_the_file_privately_and_loads_nothing_yet(
    compliance_officer, settings
):
    job = _queued_load(compliance_officer, settings)

    assert (job.kind, job.state, job.started_by) == (
        JobKind.LIST_LOAD,
        JobState.QUEUED,
        compliance_officer,
    )
    assert not ListVersion.objects.exists()
    (stored,) = _private_files(settings)
    assert stored.name == "csl.csv"
    assert stored.stat().st_mode & 0o077 == 0  # readable by the service account only
    assert AuditEvent.objects.filter(action="job.queued", object_id=str(job.pk)).exists()


def test_the_worker_loads_it_counts_every_entry_and_drops_the_file(compliance_officer, settings):
    job = _queued_load(compliance_officer, settings)

    job = job_run(job.pk)

    version = ListVersion.objects.get(is_current=True)
    assert job.state == JobState.DONE and job.result_id == version.pk
    assert job.done == job.total == version.entry_count == ListEntry.objects.count()
    assert version.file_name == "csl.csv" and version.loaded_by == compliance_officer
    assert not _private_files(settings)
    actions = list(
        AuditEvent.objects.filter(object_type="jobs.job").values_list("action", flat=True)
    )
    assert actions == ["job.queued", "job.started", "job.finished"]


def test_a_bad_file_is_a_form_error_and_queues_nothing(compliance_officer, settings):
    response = client_for(compliance_officer).post(
        LOAD, {"format": "csl", "file": _csl_upload(b"name,city\nAda,Paris\n")}
    )

    assert response.status_code == 400
    assert b"attach the file again" in response.content
    assert response.context["form"].errors["file"]
    assert not Job.objects.exists() and not _private_files(settings)


def test_an_alias_file_for_a_csl_list_is_refused(compliance_officer, settings):
    response = client_for(compliance_officer).post(
        LOAD, {"format": "csl", "file": _csl_upload(), "alt": _csl_upload(name="alt.csv")}
    )

    assert response.status_code == 400
    assert "Only an OFAC SDN list" in response.context["form"].errors["alt"][0]
    assert not Job.objects.exists()


def test_a_failed_load_leaves_the_previous_version_in_force_and_says_why(
    compliance_officer, settings
):
    # given a version in force, and a queued load whose file turned out unreadable
    before = list_version_load(list_format="csl", path=CSL, actor=None).version
    job = _queued_load(compliance_officer, settings)
    (stored,) = _private_files(settings)
    stored.write_bytes(b"name,city\nAda,Paris\n")

    # when
    job = job_run(job.pk)

    # then
    assert job.state == JobState.FAILED
    assert "csl.csv" in job.error
    assert list(ListVersion.objects.values_list("pk", "is_current")) == [(before.pk, True)]
    content = client_for(compliance_officer).get(reverse("jobs:progress", args=[job.pk]))
    text = content.content.decode()
    assert job.error.split(":")[0] in text
    assert "the lists loaded before stay in force" in text
    assert "hx-get" not in text  # polling stops


def test_the_load_page_lists_recent_loads_with_why_one_failed(compliance_officer, settings):
    job = _queued_load(compliance_officer, settings)
    Job.objects.filter(pk=job.pk).update(state=JobState.FAILED, error="The CSL file is empty.")

    response = client_for(compliance_officer).get(LOAD)

    content = response.content.decode()
    assert reverse("jobs:detail", args=[job.pk]) in content
    assert "The CSL file is empty." in content and "Failed" in content


def test_a_rerun_after_a_crash_loads_the_list_once(compliance_officer, settings):
    # given a worker that claimed the job and died (its transaction rolled back)
    job = _queued_load(compliance_officer, settings)
    assert _claim(job.pk) is not None

    # when the message is redelivered, and then once more after the job is done
    first = job_run(job.pk)
    second = job_run(job.pk)

    # then
    assert first.state == second.state == JobState.DONE
    assert first.attempts == second.attempts == 2
    assert ListVersion.objects.count() == 1
    # and the dead attempt can no longer finish the job
    assert _finish(job.pk, 1, state=JobState.FAILED, error="late") is None


def test_a_superseded_attempt_rolls_its_writes_back(compliance_officer, settings):
    job = _queued_load(compliance_officer, settings)

    def overtaken(job: Job, progress) -> int:
        # another worker claims the job while this run is still writing
        version = list_version_load(
            list_format="csl", path=CSL, actor=None, progress=progress
        ).version
        Job.objects.filter(pk=job.pk).update(attempts=job.attempts + 1)
        return version.pk

    result = job_run(job.pk, runners={JobKind.LIST_LOAD: overtaken})

    assert result.state == JobState.RUNNING  # the later attempt will finish it
    assert not ListVersion.objects.exists()


def test_a_wake_up_leaves_a_job_a_worker_is_moving_alone(compliance_officer, settings):
    job = _queued_load(compliance_officer, settings)
    _claim(job.pk)

    woken = job_run(job.pk, only_if_stalled=True)

    assert (woken.state, woken.attempts) == (JobState.RUNNING, 1)
    assert not ListVersion.objects.exists()
    # once its counts stop moving, the wake-up starts it over
    Job.objects.filter(pk=job.pk).update(updated_at=timezone.now() - dt.timedelta(minutes=11))
    woken = job_run(job.pk, only_if_stalled=True)
    assert (woken.state, woken.attempts) == (JobState.DONE, 2)


@pytest.mark.parametrize("error", [JobRefused("refused"), RuntimeError("internal")])
def test_a_superseded_attempt_that_fails_leaves_the_file_to_the_later_one(
    compliance_officer, settings, monkeypatch, error
):
    job = _queued_load(compliance_officer, settings)

    def failing(job: Job, progress) -> int:
        raise error

    def overtaken(job_id: int, attempt: int, **kwargs):
        # another worker claimed the job while this attempt was failing
        Job.objects.filter(pk=job_id).update(attempts=attempt + 1)
        return _finish(job_id, attempt, **kwargs)

    monkeypatch.setattr("portal.jobs.services._finish", overtaken)
    try:
        result = job_run(job.pk, runners={JobKind.LIST_LOAD: failing})
    except RuntimeError:
        result = Job.objects.get(pk=job.pk)

    assert (result.state, result.error, result.attempts) == (JobState.RUNNING, "", 2)
    assert len(_private_files(settings)) == 1  # the later attempt still has the file to load


@contextlib.contextmanager
def _running_elsewhere(job: Job, *, lost: bool = False) -> Iterator[dict[str, Job]]:
    """Another worker's attempt at ``job``, paused inside its run until the block ends; a
    ``lost`` one stands for a host that stopped answering (its session may be ended)."""
    outcome: dict[str, Job] = {}

    def worker(pause: Callable[[], bool]) -> None:
        def paused(job: Job, progress) -> int:
            released = pause()
            assert released or lost
            return list_load_run(job, progress)

        try:
            outcome["first"] = job_run(job.pk, runners={JobKind.LIST_LOAD: paused})
        except Exception:
            if not lost:
                raise

    with paused_in_a_thread(worker):
        yield outcome


@pytest.fixture
def leased_job(compliance_officer, settings) -> Job:
    """A queued list load; its lease is an advisory lock, which only PostgreSQL has."""
    if connection.vendor != "postgresql":
        pytest.skip("Needs PostgreSQL: the lease is an advisory lock.")
    return _queued_load(compliance_officer, settings)


@pytest.mark.postgres
@pytest.mark.django_db(transaction=True)
def test_a_late_copy_of_the_message_leaves_a_live_attempt_alone(leased_job):
    job = leased_job

    with _running_elsewhere(job) as outcome:
        # when the original message arrives again, and a wake-up besides, while it runs
        late = job_run(job.pk)
        Job.objects.filter(pk=job.pk).update(updated_at=timezone.now() - dt.timedelta(minutes=20))
        woken = job_run(job.pk, only_if_stalled=True)

    # then neither starts the work over: the live attempt finishes it, once
    assert (late.state, late.attempts) == (JobState.RUNNING, 1)
    assert (woken.state, woken.attempts) == (JobState.RUNNING, 1)
    assert (outcome["first"].state, outcome["first"].attempts) == (JobState.DONE, 1)
    assert ListVersion.objects.count() == 1


@pytest.mark.postgres
@pytest.mark.django_db(transaction=True)
def test_a_lease_left_by_a_lost_host_is_ended_and_the_job_resumed(leased_job):
    job = leased_job

    with _running_elsewhere(job, lost=True):
        # when its counts have not moved for longer than any live attempt may run
        Job.objects.filter(pk=job.pk).update(updated_at=timezone.now() - dt.timedelta(hours=2))
        woken = job_run(job.pk, only_if_stalled=True)
        assert (woken.state, woken.attempts) == (JobState.RUNNING, 1)
        # then its session was ended, which frees the lease, and the next wake-up resumes it
        deadline = timezone.now() + dt.timedelta(seconds=10)
        while timezone.now() < deadline:
            with connection.cursor() as cursor:
                cursor.execute(
                    "SELECT count(*) FROM pg_locks WHERE locktype = 'advisory' AND objid = %s",
                    [job.pk],
                )
                if cursor.fetchone()[0] == 0:
                    break
        resumed = job_run(job.pk, only_if_stalled=True)

    assert (resumed.state, resumed.attempts) == (JobState.DONE, 2)
    assert ListVersion.objects.count() == 1


def test_jobs_left_queued_or_stalled_are_resumed(compliance_officer, settings):
    job = _queued_load(compliance_officer, settings)
    now = timezone.now()

    assert jobs_to_resume(now=now) == []
    assert jobs_to_resume(now=now + dt.timedelta(minutes=2)) == [job.pk]
    _claim(job.pk)
    assert jobs_to_resume(now=now + dt.timedelta(minutes=2)) == []
    assert jobs_to_resume(now=now + dt.timedelta(minutes=11)) == [job.pk]


# --- the status fragment ------------------------------------------------------------------


def test_the_fragment_says_preparing_not_a_full_bar_for_nothing(compliance_officer, settings):
    job = _queued_load(compliance_officer, settings)
    client = client_for(compliance_officer)

    queued = client.get(reverse("jobs:progress", args=[job.pk])).content.decode()
    assert "Preparing: waiting for a worker" in queued
    assert "<progress" not in queued
    assert 'hx-trigger="every 1s"' in queued

    Job.objects.filter(pk=job.pk).update(state=JobState.RUNNING, done=1000, total=4000)
    running = client.get(reverse("jobs:progress", args=[job.pk])).content.decode()
    assert "1,000 of 4,000 entries stored" in running
    assert 'value="25"' in running

    Job.objects.filter(pk=job.pk).update(state=JobState.QUEUED, done=0, total=0)
    assert job_run(job.pk).state == JobState.DONE
    done = client.get(reverse("jobs:detail", args=[job.pk])).content.decode()
    assert "Done:" in done and "hx-get" not in done
    assert reverse("screening:freshness") in done


@pytest.mark.parametrize(
    ("persona", "expected"),
    [
        ("outsider", 404),
        ("partner_admin", 404),
        ("partner_member", 404),
        ("reviewer", 404),
        ("ops_user", 404),
        ("auditor", 404),
        ("compliance_officer", 200),
    ],
)
@pytest.mark.parametrize("name", ["jobs:detail", "jobs:progress"])
def test_only_compliance_sees_a_job(request, compliance_officer, settings, persona, expected,
                                    name):  # fmt: skip
    job = _queued_load(compliance_officer, settings)

    response = client_for(request.getfixturevalue(persona)).get(reverse(name, args=[job.pk]))

    assert response.status_code == expected


def test_an_anonymous_visitor_is_sent_to_sign_in(compliance_officer, settings):
    job = _queued_load(compliance_officer, settings)

    response = client_for(None).get(reverse("jobs:progress", args=[job.pk]))

    assert response.status_code == 302 and "login" in response["Location"]


@pytest.mark.parametrize("persona", ["outsider", "partner_admin", "reviewer", "auditor"])
def test_only_compliance_loads_lists(request, persona, settings):
    response = client_for(request.getfixturevalue(persona)).post(
        LOAD, {"format": "csl", "file": _csl_upload()}
    )

    assert response.status_code == 403
    assert not Job.objects.exists() and not _private_files(settings)


# --- a campaign opening -------------------------------------------------------------------


def test_a_campaign_opening_job_opens_it_and_links_to_it(compliance_officer):
    stage = StageFactory(seats=10)
    grant = active_grant(stage=stage)
    issue(grant, PersonFactory(organisation=grant.organisation))
    job = job_start(
        kind=JobKind.CAMPAIGN_OPEN,
        params={
            "title": "Q4",
            "covered_model": stage.covered_model_id,
            "deadline": (timezone.now() + dt.timedelta(days=9)).isoformat(),
            "reminder_days": [3],
            "allow_late_confirmations": True,
        },
        actor=compliance_officer,
    )

    job = job_run(job.pk)

    campaign = Campaign.objects.get()
    assert (job.state, job.result_id, job.done, job.total) == (JobState.DONE, campaign.pk, 1, 1)
    Job.objects.filter(pk=job.pk).update(state=JobState.RUNNING, done=0)
    running = client_for(compliance_officer).get(reverse("jobs:progress", args=[job.pk]))
    assert "0 of 1 key added to the campaign" in running.content.decode()
    Job.objects.filter(pk=job.pk).update(state=JobState.DONE, done=1)
    assert campaign.opened_by == compliance_officer and campaign.reminder_days == [3]
    page = client_for(compliance_officer).get(reverse("jobs:detail", args=[job.pk]))
    assert reverse("certification:detail", args=[campaign.pk]) in page.content.decode()


def test_a_campaign_refused_by_the_worker_fails_in_words(compliance_officer):
    job = job_start(
        kind=JobKind.CAMPAIGN_OPEN,
        params={
            "title": "Q4",
            "covered_model": None,
            "deadline": (timezone.now() + dt.timedelta(days=9)).isoformat(),
        },
        actor=compliance_officer,
    )

    job = job_run(job.pk)

    assert job.state == JobState.FAILED
    assert "Nobody holds a live key for any covered model" in job.error
    assert not Campaign.objects.exists()


@pytest.mark.postgres
@pytest.mark.django_db(transaction=True)
def test_others_see_the_counts_while_the_load_is_still_uncommitted(compliance_officer, settings,
                                                                   monkeypatch):  # fmt: skip
    if connection.vendor != "postgresql":
        pytest.skip("Needs PostgreSQL: SQLite has one writer, so counts land with the commit.")
    monkeypatch.setattr("portal.screening.lists.BATCH_SIZE", 4)
    job = _queued_load(compliance_officer, settings)
    reader = connection.copy()
    seen: list[tuple[str, int, int, bool]] = []

    def watched(job: Job, progress) -> int:
        def report(done: int, total: int) -> None:
            progress(done, total)
            with reader.cursor() as cursor:  # another session, as the status page's
                cursor.execute("SELECT state, done, total FROM jobs_job WHERE id = %s", [job.pk])
                state, seen_done, seen_total = cursor.fetchone()
                cursor.execute("SELECT count(*) FROM screening_listversion")
                versions = cursor.fetchone()[0]
            seen.append((state, seen_done, seen_total, versions == 0))

        return list_load_run(job, report)

    try:
        finished = job_run(job.pk, runners={JobKind.LIST_LOAD: watched})
    finally:
        reader.close()

    total = finished.total
    assert finished.state == JobState.DONE and total == 13
    assert seen == [("running", d, total, True) for d in (0, 4, 8, 12, 13)]


def test_a_job_over_its_time_limit_fails_in_words_and_keeps_the_old_list(
    compliance_officer, settings
):
    from celery.exceptions import SoftTimeLimitExceeded

    from portal.jobs.services import TOO_LONG
    from portal.jobs.tasks import run

    job = _queued_load(compliance_officer, settings)

    def too_long(job: Job, progress) -> int:
        raise SoftTimeLimitExceeded

    result = job_run(job.pk, runners={JobKind.LIST_LOAD: too_long})

    assert (result.state, result.error) == (JobState.FAILED, TOO_LONG)
    assert _private_files(settings) == []
    # the task's own limits outlast the default ones and end before Redis redelivers it
    assert settings.CELERY_TASK_SOFT_TIME_LIMIT < run.soft_time_limit < run.time_limit < 3600
