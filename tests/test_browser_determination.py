"""In a real browser, the story of DESIGN.md §1 against a real SCIM server (``scim2-server``).

Ops hit the emergency stop on mythos-5; two compliance officers put a determination in
force that blocks both models; two more sign-offs put a second one in force that allows
mythos-5 for trusted cyber-defence and critical-infrastructure partners, US persons only,
with fable still blocked; two ops users lift the emergency stop (a restore needs a second
person). After each step the SCIM server holds exactly what the database says. Finally
the evidence bundles are downloaded through the UI and verified with the command.

Deliveries run in this process, as a worker would run them: the relay and the model-wide
blocks after each commit, and the bulk action's chunks after "Run".
"""

from __future__ import annotations

import re
from collections.abc import Iterator
from pathlib import Path

import pytest
from django.core.management import call_command

from portal.web.demo import DEMO_PASSWORD
from provisioning.bulk.models import BulkAction, BulkState, HoldReason
from provisioning.bulk.services import bulk_run
from provisioning.deliveries.models import ModelBlock
from provisioning.deliveries.services import target_create
from tests.browser import ARTIFACTS, new_page, sign_in
from tests.story import HELD_BACK, RESTORED, active_keys, deliver, demo_world, scim_agrees

pytestmark = [pytest.mark.browser, pytest.mark.django_db(transaction=True)]
pytest_plugins = ["tests.servers"]

PDF = b"%PDF-1.4\n% determination letter\n%%EOF\n"


@pytest.fixture
def pages(request: pytest.FixtureRequest) -> Iterator[dict[str, object]]:
    """Every signed-in page by name; all of them are screenshot if the test fails."""
    opened: dict[str, object] = {}
    yield opened
    report = getattr(request.node, "rep_call", None)
    if report is not None and report.failed:
        ARTIFACTS.mkdir(exist_ok=True)
        for name, page in opened.items():
            path = ARTIFACTS / f"{request.node.name}-{name}.png"
            page.screenshot(path=str(path), full_page=True)  # type: ignore[attr-defined]
    for page in opened.values():
        page.context.close()  # type: ignore[attr-defined]


def _sign_in(browser, live_server, pages, user, password):
    page = new_page(browser, accept_downloads=True)
    pages[user.username] = page
    sign_in(page, live_server, user, password)
    page.get_by_role("navigation", name="Main").wait_for()
    return page


def _draft(page, live_server, reference: str, letter: Path, *, mythos: str) -> None:
    page.get_by_role("navigation", name="Main").get_by_role("link", name="Determinations").click()
    page.get_by_role("link", name="Draft a determination").click()
    page.get_by_label("Reference").fill(reference)
    page.get_by_label("Legal basis").fill(f"Order {reference} under the export regulations")
    page.get_by_label("Effective date").fill("2026-11-27")
    page.get_by_label("Determination letter (PDF)").set_input_files(str(letter))
    page.get_by_label("Fable: rule").select_option("blocked")
    mythos_rules = page.locator("fieldset", has_text="Rule for Mythos 5")
    page.get_by_label("Mythos 5: rule").select_option(mythos)
    if mythos == "partners_only":
        for sector in ("Cyber defence", "Critical infrastructure (all 16 sectors)"):
            mythos_rules.get_by_label(sector, exact=True).check()
        page.get_by_label("Mythos 5: US persons only").check()
    page.get_by_role("button", name="Save draft").click()
    page.get_by_text("Draft saved.").wait_for()


def _sign_off(author, approver, live_server, reference: str) -> None:
    """The author submits, the second officer approves, the author applies."""
    author.get_by_role("link", name="Preview the impact").click()
    author.get_by_role("heading", name=f"Impact of {reference}").wait_for()
    assert "would be suspended" in author.locator(".review-counts").inner_text()
    author.go_back()
    author.get_by_role("button", name="Submit for approval").click()
    author.get_by_text("Submitted: a second officer must approve.").wait_for()
    # The author has no approve button: invariant 5, in the UI too.
    assert author.get_by_role("button", name="Approve as second officer").count() == 0
    url = author.url
    approver.goto(url)
    approver.get_by_role("button", name="Approve as second officer").click()
    approver.get_by_text("Approved: it can now be applied.").wait_for()
    author.goto(url)
    author.get_by_label(re.compile("I have previewed the impact")).check()
    author.get_by_role("button", name="Apply").click()
    author.get_by_text("In force. Its bulk actions ran.").wait_for()
    author.get_by_text(reference).first.wait_for()


def _download(page, link_name: str, folder: Path) -> Path:
    with page.expect_download() as info:
        page.get_by_role("link", name=link_name).click()
    download = info.value
    path = folder / download.suggested_filename
    download.save_as(str(path))
    return path


def test_ops_stop_a_model_two_determinations_and_a_two_person_restore_with_evidence(
    browser, live_server, scim_server, pages, tmp_path
):
    # given the demo story, every key delivered to a real SCIM server
    users = demo_world()
    url, token = scim_server
    target_create(actor=None, kind="scim", name="scim-directory", url=url, token=token)
    deliver()
    assert scim_agrees(url, token)
    assert ("mythos-5", "Nadia Reyes") in active_keys()
    letter = tmp_path / "letter.pdf"
    letter.write_bytes(PDF)

    # when ops hit the emergency stop on mythos-5, with a confirmation and a reason
    ops = _sign_in(browser, live_server, pages, users["ops1"], DEMO_PASSWORD)
    ops.get_by_role("navigation", name="Main").get_by_role("link", name="Bulk actions").click()
    ops.get_by_role("link", name="Emergency stop of a model").click()
    ops.get_by_label("Model", exact=True).select_option(label="Mythos 5")
    ops.get_by_label("An operations decision (no determination)").check()
    ops.get_by_label("Reason", exact=True).fill("Regulator's call at 06:10: stop Mythos 5 now")
    ops.get_by_role("button", name="Stop this model now").click()
    # without the confirmation the form refuses, and nothing is stopped
    ops.get_by_role("alert").first.wait_for()
    assert not ModelBlock.objects.exists()
    ops.get_by_label(re.compile("Suspend every grant of this model now")).check()
    ops.get_by_role("button", name="Stop this model now").click()
    stopped = ops.get_by_text(re.compile(r"Mythos 5 stopped: .* keys suspended"))
    stopped.wait_for()
    stop_reference = BulkAction.objects.get(emergency=True, stop_model__slug="mythos-5").reference
    stop_url = ops.url
    deliver()

    # then every mythos-5 key is off, the model-wide block was acknowledged, SCIM agrees
    assert not {key for key in active_keys() if key[0] == "mythos-5"}
    assert set(ModelBlock.objects.values_list("state", flat=True)) == {"acknowledged"}
    scim_agrees(url, token)

    # when officer A drafts a determination blocking both models, B approves, A applies
    officer_a = _sign_in(browser, live_server, pages, users["compliance1"], DEMO_PASSWORD)
    officer_b = _sign_in(browser, live_server, pages, users["compliance2"], DEMO_PASSWORD)
    _draft(officer_a, live_server, "BIS-2026-17", letter, mythos="blocked")
    _sign_off(officer_a, officer_b, live_server, "BIS-2026-17")
    deliver()

    # then every customer key is suspended and the SCIM server agrees
    assert active_keys() == set()
    assert scim_agrees(url, token) == set()

    # and while mythos-5 is blocked, lifting the emergency stop is refused, nothing changed
    ops.goto(stop_url)
    ops.get_by_role("button", name="Lift this stop").click()
    ops.get_by_text("Nothing can be restored").wait_for()
    assert not BulkAction.objects.filter(reference=stop_reference, kind="restore").exists()

    # when A drafts the licence: mythos-5 for trusted cyber-defence and critical-
    # infrastructure partners, US persons only; fable stays blocked. B approves, A applies
    _draft(officer_a, live_server, "BIS-2026-LIC-3", letter, mythos="partners_only")
    _sign_off(officer_a, officer_b, live_server, "BIS-2026-LIC-3")
    deliver()

    # then nothing comes back yet: the emergency stop is a reason of its own
    assert active_keys() == set()
    scim_agrees(url, token)

    # when ops1 presses "Lift this stop" on the stop's page, ops2 approves, ops1 runs it
    ops.goto(stop_url)
    ops.get_by_role("button", name="Lift this stop").click()
    ops.get_by_text("needs a second person's approval").wait_for()
    # the plan lists who comes back and who is held back, and why, key by key
    assert _plan_rows(ops, "#plan-keys-back") == dict.fromkeys(RESTORED, "")
    assert _plan_rows(ops, "#plan-keys-held") == {
        key: HOLD_LABELS[reason] for key, reason in HELD_BACK.items()
    }
    assert ops.get_by_role("button", name="Run this plan").count() == 0
    restore_url = ops.url
    second_ops = _sign_in(browser, live_server, pages, users["ops2"], DEMO_PASSWORD)
    second_ops.goto(restore_url)
    second_ops.get_by_role("link", name="Review and approve").click()
    assert _plan_rows(second_ops, "#plan-keys-held") == {
        key: HOLD_LABELS[reason] for key, reason in HELD_BACK.items()
    }
    second_ops.get_by_label(re.compile("I have checked the counts")).check()
    second_ops.get_by_role("button", name="Approve this plan").click()
    second_ops.get_by_text("Approved.").first.wait_for()
    ops.goto(restore_url)
    ops.get_by_label(re.compile("I have checked the counts")).check()
    ops.get_by_role("button", name="Run this plan").click()
    ops.get_by_text("Running.").wait_for()
    action = BulkAction.objects.get(reference=stop_reference, kind="restore")
    bulk_run(action_id=action.pk)  # the worker's part
    deliver()

    # then the progress bar reaches done with every target acknowledged
    progress = ops.locator("#bulk-progress")
    progress.get_by_text("Done").wait_for()
    progress.get_by_text(re.compile(r"Acknowledged")).wait_for()
    action.refresh_from_db()
    assert action.state == BulkState.DONE

    # and exactly the trusted partners' US persons have mythos-5 back; SCIM matches
    assert active_keys() == RESTORED
    assert len(scim_agrees(url, token)) == 4

    # when A downloads the licence's evidence bundle and ops the restore's
    officer_a.goto(officer_a.url)
    bundle = _download(officer_a, "Download the evidence bundle (ZIP)", tmp_path)
    ops.goto(restore_url)
    restore_bundle = _download(ops, "Download the evidence bundle (ZIP)", tmp_path)

    # then both verify offline
    for path in (bundle, restore_bundle):
        from io import StringIO

        out = StringIO()
        call_command("verify_evidence_bundle", str(path), stdout=out)
        assert "Evidence bundle verified" in out.getvalue()


HOLD_LABELS = dict(HoldReason.choices)


def _plan_rows(page, table: str) -> dict[tuple[str, str], str]:
    """(model, person) → reason label of every row of a plan's key table."""
    rows = {}
    for row in page.locator(f"{table} tbody tr").all():
        cells = [c.inner_text().strip() for c in row.locator("td").all()]
        if len(cells) >= 5:
            rows[(cells[3], cells[4])] = cells[5] if len(cells) > 5 else ""
    return rows
