"""Fixtures of the browser journeys: a Chromium, the screenshots' folder, translations not yet merged."""

import os
from pathlib import Path

import pytest

from tests.journeys.helpers_browser import CHROMIUM, LAUNCH_ARGS, Screens, compile_pending_translations, missing


@pytest.fixture
def chromium(require_postgres, monkeypatch):
    try:
        from playwright import sync_api
    except ImportError:
        missing("Playwright is not installed (pip install -r requirements.txt)")
    try:
        import axe_playwright_python  # noqa: F401
    except ImportError:
        missing("axe-playwright-python is not installed (pip install -r requirements.txt)")
    if not Path(CHROMIUM).exists():
        missing(f"no Chromium at {CHROMIUM} (apt-get install -y chromium fonts-wqy-zenhei)")
    # Playwright's sync API keeps an event loop in this thread; the ORM calls here are still synchronous.
    monkeypatch.setenv("DJANGO_ALLOW_ASYNC_UNSAFE", "true")
    with sync_api.sync_playwright() as pw:
        browser = pw.chromium.launch(executable_path=CHROMIUM, args=LAUNCH_ARGS)
        yield browser
        browser.close()


@pytest.fixture
def screens(tmp_path) -> Screens:
    folder = os.environ.get("JOURNEY_SCREENSHOTS")
    return Screens(Path(folder).resolve() if folder else tmp_path / "screenshots")


@pytest.fixture
def chinese_pages(settings, tmp_path):
    """The pages in Chinese, new strings included: this branch's pending translations compiled for the run."""
    from django.utils.translation import trans_real

    extra = compile_pending_translations(tmp_path)
    if extra is not None:
        settings.LOCALE_PATHS = [extra, *settings.LOCALE_PATHS]
        trans_real._translations = {}
        trans_real._default = None
    yield
    trans_real._translations = {}
    trans_real._default = None
