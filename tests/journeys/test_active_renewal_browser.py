"""A real Chromium on a phone-sized screen in Chinese: sign in, unbind all, watch the page finish by itself.

Needs Debian's Chromium and Playwright for Python (never `playwright install`):
    apt-get install -y chromium fonts-wqy-zenhei
    pip install playwright==1.65.2
"""

import os
import re
from pathlib import Path

import pytest

from renewal.deliveries.tasks import unbind_coalesce_task
from renewal.models import UnbindRequest
from tests.journeys.helpers_active_renewal import simulated_platforms, wait_for
from tests.renewal.helpers_subscriber import last_code

# A live server needs a real database: the SQLite pass deselects `services`.
pytestmark = [pytest.mark.browser, pytest.mark.services, pytest.mark.django_db(transaction=True)]

CHROMIUM = os.environ.get("CHROMIUM_PATH", "/usr/lib/chromium/chromium")
LAUNCH_ARGS = ["--headless", "--no-sandbox", "--disable-gpu", "--no-first-run", "--disable-background-networking",
               "--disable-component-update", "--disable-sync", "--disable-quic"]


def _missing(message: str) -> None:
    """In CI a browser test that cannot run fails; elsewhere it is skipped with the reason."""
    if os.environ.get("CI", "").lower() == "true":
        pytest.fail(message)
    pytest.skip(message)


@pytest.fixture
def phone(require_postgres, monkeypatch):
    try:
        from playwright import sync_api
    except ImportError:
        _missing("Playwright is not installed (pip install -r requirements.txt)")
    if not Path(CHROMIUM).exists():
        _missing(f"no Chromium at {CHROMIUM} (apt-get install -y chromium fonts-wqy-zenhei)")
    # Playwright's sync API keeps an event loop in this thread; the ORM calls here are still synchronous.
    monkeypatch.setenv("DJANGO_ALLOW_ASYNC_UNSAFE", "true")
    with sync_api.sync_playwright() as pw:
        browser = pw.chromium.launch(executable_path=CHROMIUM, args=LAUNCH_ARGS)
        context = browser.new_context(viewport={"width": 390, "height": 844}, locale="zh-CN", is_mobile=True,
                                      has_touch=True)
        yield context.new_page()
        browser.close()


def test_a_phone_in_chinese_signs_in_unbinds_all_and_sees_the_page_finish(roles_back, phone, live_server, holder,
                                                                          tmp_path):
    number, _ = holder
    sim, platforms = simulated_platforms([f"应用 {i}" for i in range(5)], api_url=live_server.url,
                                         confirm_after_ms=300)
    page = phone
    try:
        page.goto(f"{live_server.url}/renew/")
        assert page.locator("html").get_attribute("lang") == "zh-hans"
        # keyboard only: the label names the field, Enter submits
        page.get_by_label("您的手机号码").fill("12")
        with page.expect_navigation():
            page.keyboard.press("Enter")
        summary = page.locator("#error-summary")
        assert summary.is_visible() and "出现问题" in summary.inner_text()
        assert page.evaluate("document.activeElement.id") == "error-summary"  # focus moved to the summary
        page.locator("#error-summary a").click()
        assert page.evaluate("document.activeElement.id") == "id_msisdn"  # the link leads to the field
        page.get_by_label("您的手机号码").fill(number.national)
        with page.expect_navigation():
            page.get_by_role("button", name="获取验证码").click()
        assert "如果该号码在用，验证码已通过短信发送" in page.content()
        page.get_by_label("短信中的 6 位验证码").fill(last_code(number.msisdn))
        with page.expect_navigation():
            page.get_by_role("button", name="登录").click()
        assert re.search(r"/renew/number(#.*)?$", page.url), page.url
        assert all(p.name in page.content() for p in platforms)
        page.screenshot(path=str(tmp_path / "overview.png"), full_page=True)
        with page.expect_navigation():
            page.get_by_role("button", name="一键解绑全部").click()
        assert "/renew/requests/" in page.url
        assert UnbindRequest.objects.count() == 1
        unbind_coalesce_task.delay()  # what beat does every few seconds
        # the page follows the request by itself (static JS polling the status endpoint)
        page.locator("#summary").wait_for(state="visible", timeout=30_000)
        assert page.locator("#summary").inner_text().startswith("已完成")
        assert page.locator("[data-status='waiting'], [data-status='sent']").count() == 0
        wait_for(lambda: UnbindRequest.objects.get().finished_at)
        page.screenshot(path=str(tmp_path / "finished.png"), full_page=True)
        # no horizontal scrolling on a phone
        assert page.evaluate("document.documentElement.scrollWidth <= window.innerWidth")
    finally:
        sim.stop()
