"""A real Chromium for the admin journeys (Debian's, driven by Playwright), and axe-core's accessibility checks.

Needs `apt-get install -y chromium fonts-wqy-zenhei` and the requirements (playwright, axe-playwright-python);
never `playwright install`. In CI a browser test that cannot run fails; elsewhere it is skipped with the reason.
"""

import contextlib
import os
from pathlib import Path

import pytest

CHROMIUM = os.environ.get("CHROMIUM_PATH", "/usr/lib/chromium/chromium")
LAUNCH_ARGS = ["--headless", "--no-sandbox", "--disable-gpu", "--no-first-run", "--disable-background-networking",
               "--disable-component-update", "--disable-sync", "--disable-quic"]
# A regulator's or an operator administrator's desk: a laptop screen.
DESK = {"width": 1366, "height": 768}


def missing(message: str) -> None:
    if os.environ.get("CI", "").lower() == "true":
        pytest.fail(message)
    pytest.skip(message)


@contextlib.contextmanager
def chromium(monkeypatch):
    """Yield a Playwright browser (Chinese locale contexts are made by the test)."""
    try:
        from playwright import sync_api
    except ImportError:
        missing("Playwright is not installed (pip install -r requirements.txt)")
    if not Path(CHROMIUM).exists():
        missing(f"no Chromium at {CHROMIUM} (apt-get install -y chromium fonts-wqy-zenhei)")
    # Playwright's sync API keeps an event loop in this thread; the ORM calls here are still synchronous.
    monkeypatch.setenv("DJANGO_ALLOW_ASYNC_UNSAFE", "true")
    with sync_api.sync_playwright() as pw:
        browser = pw.chromium.launch(executable_path=CHROMIUM, args=LAUNCH_ARGS)
        try:
            yield browser
        finally:
            browser.close()


def admin_sign_in(page, base_url: str, username: str, password: str) -> None:
    page.goto(f"{base_url}/admin/login/")
    page.locator("#id_username").fill(username)
    page.locator("#id_password").fill(password)
    with page.expect_navigation():
        page.locator("#id_password").press("Enter")
    assert "/admin/login/" not in page.url, page.content()[:2000]


def assert_accessible(page, selector: str = "#content-main") -> None:
    """axe-core finds no violation in the part of the page this portal renders (Django's admin chrome aside)."""
    from axe_playwright_python.sync_playwright import Axe

    results = Axe().run(page, context=selector)
    assert results.violations_count == 0, results.generate_report()
