"""The dashboard on the demo data, after its batches are made, fits within about eight screens of a laptop.

Before this page was rebuilt, two per-platform charts of ~245 bars made it over 20,000 px tall. Set
DASHBOARD_SCREENSHOT=docs/img/dashboard.png to write the README's screenshot from this run.
"""

import io
import os

import pytest

from numbers import demo
from tests.journeys.helpers_browser import DESK, admin_sign_in, assert_accessible, chromium

pytestmark = [pytest.mark.browser, pytest.mark.services, pytest.mark.django_db(transaction=True)]
SCREENS = 8


def test_the_demo_dashboard_fits_in_eight_screens(roles_back, require_postgres, monkeypatch, live_server, settings,
                                                  tmp_path, django_capture_on_commit_callbacks):
    import importlib

    from renewal.deliveries.services import batch_sweep

    settings.PRIVATE_FILES_ROOT = tmp_path / "private"
    settings.DEBUG = True  # the demo accounts exist only in development
    out = io.StringIO()
    with django_capture_on_commit_callbacks(execute=False):  # no worker, no simulator: the rows only
        for step in settings.DEMO_STEPS:
            importlib.import_module(step).load(out)
        assert batch_sweep()
    with chromium(monkeypatch) as browser:
        page = browser.new_context(viewport=DESK, locale="zh-CN").new_page()
        admin_sign_in(page, live_server.url, "regulator", demo.PASSWORD)
        page.goto(f"{live_server.url}/admin/dashboard/")
        assert page.locator("#platforms-table tbody tr").count() == 10
        height = page.evaluate("document.documentElement.scrollHeight")
        assert height <= SCREENS * DESK["height"], f"the dashboard is {height} px tall"
        assert page.evaluate("document.documentElement.scrollWidth <= window.innerWidth + 1")
        assert_accessible(page)
        shot = os.environ.get("DASHBOARD_SCREENSHOT")
        page.screenshot(path=shot or str(tmp_path / "dashboard.png"), full_page=True)
