"""Playwright driving Debian's Chromium against Django's live server.

Browsers are never downloaded: the tests use /usr/bin/chromium (CHROMIUM_PATH) and are
skipped with a clear reason where it is missing. A failing test leaves a screenshot in
test-artifacts/.
"""

from __future__ import annotations

import os
import re
import shutil
import time
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any

import pytest
from django.core import mail

CHROMIUM = os.environ.get("CHROMIUM_PATH", "/usr/bin/chromium")
ARTIFACTS = Path(__file__).resolve().parent.parent / "test-artifacts"
CHROMIUM_ARGS = [
    "--no-sandbox",
    "--disable-gpu",
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
    "--no-first-run",
    "--disable-quic",
]


def chromium_available() -> bool:
    return bool(shutil.which(CHROMIUM)) or Path(CHROMIUM).exists()


@pytest.fixture(scope="session")
def browser() -> Iterator[object]:
    if not chromium_available():
        pytest.skip(f"Chromium not found at {CHROMIUM}")
    # Playwright's sync API runs an event loop in this thread; the ORM calls the tests
    # make between browser steps are still synchronous.
    previous = os.environ.get("DJANGO_ALLOW_ASYNC_UNSAFE")
    os.environ["DJANGO_ALLOW_ASYNC_UNSAFE"] = "true"
    from playwright.sync_api import sync_playwright

    try:
        with sync_playwright() as playwright:
            browser = playwright.chromium.launch(executable_path=CHROMIUM, args=CHROMIUM_ARGS)
            yield browser
            browser.close()
    finally:
        if previous is None:
            os.environ.pop("DJANGO_ALLOW_ASYNC_UNSAFE", None)
        else:
            os.environ["DJANGO_ALLOW_ASYNC_UNSAFE"] = previous


def new_page(browser: Any, **context_options: Any) -> Any:
    """A page in a context of its own (its own cookies: one signed-in user), the size and
    patience every journey uses; close it with ``page.context.close()``."""
    context = browser.new_context(viewport={"width": 1280, "height": 900}, **context_options)
    page = context.new_page()
    page.set_default_timeout(15_000)
    return page


@pytest.fixture
def page(browser: object, request: pytest.FixtureRequest) -> Iterator[object]:
    page = new_page(browser)
    yield page
    report = getattr(request.node, "rep_call", None)
    if report is not None and report.failed:
        ARTIFACTS.mkdir(exist_ok=True)
        page.screenshot(path=str(ARTIFACTS / f"{request.node.name}.png"), full_page=True)
    page.context.close()


# --- Helpers shared by the journeys ----------------------------------------------

TOTP_PERIOD = 30


def wait_for_fresh_totp_window(*, margin: float = 5.0) -> None:
    """Sleep past the current 30 s window when fewer than ``margin`` seconds remain.

    A code read at the very end of its window can expire before the form is sent.
    """
    remaining = TOTP_PERIOD - time.time() % TOTP_PERIOD
    if remaining < margin:
        time.sleep(remaining + 0.5)


def totp_code(secret: str) -> str:
    """A code for ``secret`` that stays valid for at least a few more seconds."""
    import pyotp

    wait_for_fresh_totp_window()
    return pyotp.TOTP(secret).now()


def sign_in(page: Any, live_server: Any, user: Any, password: str, *, totp: bool = True) -> None:
    """Sign ``user`` in through the login form and, for a user with TOTP, the code step."""
    from allauth.mfa.models import Authenticator
    from allauth.mfa.utils import decrypt

    page.goto(f"{live_server.url}/accounts/login/")
    page.get_by_label("Login").fill(user.username)
    page.get_by_label("Password").fill(password)
    page.get_by_role("button", name="Sign In").click()
    if totp:
        secret = decrypt(Authenticator.objects.get(user=user, type="totp").data["secret"])
        page.get_by_label("Code").fill(totp_code(secret))
        page.get_by_role("button", name="Sign In").click()


@contextmanager
def signed_in_page(
    browser: Any, live_server: Any, user: Any, *, totp: bool = True
) -> Iterator[tuple[Any, list[str]]]:
    """A new page with ``user`` signed in (password ``PASSWORD``) and the CSP violations it
    reports; its browser context is closed afterwards, whatever happened."""
    from tests.factories import PASSWORD

    page = new_page(browser)
    csp = watch_csp_violations(page)
    try:
        sign_in(page, live_server, user, PASSWORD, totp=totp)
        yield page, csp
    finally:
        page.context.close()


_PAGE_STRUCTURE = """() => {
  const named = (el) => {
    if ((el.getAttribute('aria-label') || '').trim()) return true;
    const by = el.getAttribute('aria-labelledby');
    const text = (id) => (document.getElementById(id)?.textContent || '').trim();
    if (by && by.split(/\\s+/).some(text)) return true;
    return [...(el.labels || [])].some((label) => label.textContent.trim());
  };
  const skipped = ['hidden', 'submit', 'button', 'reset', 'image'];
  const controls = [...document.querySelectorAll('input, select, textarea')].filter(
    (el) => !skipped.includes((el.getAttribute('type') || '').toLowerCase()));
  const buttons = [...document.querySelectorAll('button, input[type=submit]')];
  return {
    mains: document.querySelectorAll('main, [role=main]').length,
    h1s: [...document.querySelectorAll('h1')].map((h) => h.textContent.trim()),
    unlabelled: controls.filter((el) => !named(el)).map((el) => el.outerHTML.slice(0, 160)),
    unnamedButtons: buttons
      .filter((b) => !(b.textContent.trim() || b.value || b.getAttribute('aria-label')))
      .map((b) => b.outerHTML.slice(0, 160)),
  };
}"""


def assert_accessible_page(page: Any) -> None:
    """One main landmark, exactly one h1, and every form control and button named."""
    page.wait_for_load_state("domcontentloaded")
    found = page.evaluate(_PAGE_STRUCTURE)
    where = page.url
    assert found["mains"] == 1, f"{where}: {found['mains']} main landmarks"
    assert len(found["h1s"]) == 1, f"{where}: h1 headings {found['h1s']}"
    assert found["h1s"][0], f"{where}: the h1 is empty"
    assert found["unlabelled"] == [], f"{where}: controls without a label {found['unlabelled']}"
    assert found["unnamedButtons"] == [], f"{where}: buttons without a name"
    assert_layout_and_words(page)


def tab_to(page: Any, target: Any, *, max_presses: int = 60) -> None:
    """Press Tab until ``target`` (a locator) has the focus, as a keyboard user would."""
    for _ in range(max_presses):
        if target.evaluate("(el) => el === document.activeElement"):
            return
        page.keyboard.press("Tab")
    raise AssertionError(f"{target} never received the focus after {max_presses} Tab presses")


def link_in_mail(address: str, pattern: str) -> str:
    """The newest link like ``pattern`` in the mail sent to ``address`` (the outbox)."""
    for message in reversed(mail.outbox):
        if address in message.to and (found := re.search(pattern, message.body)):
            return found.group(0)
    raise AssertionError(f"no email to {address} holds a link like {pattern}")


def watch_csp_violations(page: Any) -> list[str]:
    """Collects the Content-Security-Policy violations Chromium reports on ``page``."""
    violations: list[str] = []

    def on_console(message: Any) -> None:
        if "Content Security Policy" in message.text:
            violations.append(f"{page.url}: {message.text}")

    page.on("console", on_console)
    return violations


# --- What every journey checks on every page it visits -----------------------------

# Codes that must never reach a person's eyes: each is a pattern and what it catches.
RAW_ID_PATTERNS: tuple[tuple[str, str], ...] = (
    (r"\b[a-z]+(?:_[a-z]+)+\b", "a snake_case code (cyber_defence, model_available)"),
    (r"\b[a-z_]+=\d+\b", "a filter id (covered_model=2)"),
    (
        r"\b(?:access|grant|credential|bulk_action|application|model|determination|"
        r"certification|screening)\.[a-z_]+\b",
        "an event name (grant.suspended)",
    ),
    (r"\b\d{2}:\d{2}:\d{2}\.\d{3,}", "a time with microseconds"),
    (r"\b[0-9a-f]{32}\b", "a hex id (an emergency stop's event id)"),
    (r"\b(?:determination|emergency-stop|bulk):[\w-]+", "an internal reference"),
)

# Visible text, without what is meant to be copied verbatim (code, inputs) and without
# email addresses and URLs (which may hold underscores and dots by nature).
_VISIBLE_TEXT = """() => {
  const clone = document.body.cloneNode(true);
  clone.querySelectorAll('code, pre, kbd, samp, script, style, input, textarea, select, '
    + '.visually-hidden, [hidden]').forEach((el) => el.remove());
  return clone.innerText
    .replace(/\\S+@\\S+/g, ' ')
    .replace(/https?:\\/\\/\\S+/g, ' ');
}"""


def raw_ids_in(text: str) -> list[str]:
    found = []
    for pattern, meaning in RAW_ID_PATTERNS:
        for match in re.finditer(pattern, text):
            found.append(f"{match.group(0)!r} ({meaning})")
    return found


def assert_page_is_sound(page: Any, csp_violations: list[str]) -> None:
    """Accessible (one main, one h1, every control labelled), no CSP violation so far, no
    horizontal scroll at the journey's 1280 px, and no raw id or slug in visible text."""
    assert_accessible_page(page)
    assert csp_violations == [], csp_violations


def assert_layout_and_words(page: Any) -> None:
    """No sideways scroll at 1280 px, the main navigation on one line, no raw id in text."""
    widths = page.evaluate(
        "() => [document.documentElement.scrollWidth, document.documentElement.clientWidth]"
    )
    assert widths[0] <= widths[1], f"{page.url}: scrolls sideways ({widths[0]} > {widths[1]} px)"
    rows = page.evaluate(
        "() => new Set([...document.querySelectorAll('.main-nav li')]"
        ".map((li) => Math.round(li.getBoundingClientRect().top))).size"
    )
    assert rows <= 1, f"{page.url}: the main navigation wraps onto {rows} lines"
    leaks = raw_ids_in(page.evaluate(_VISIBLE_TEXT))
    assert leaks == [], f"{page.url}: raw ids in visible text: {leaks}"
