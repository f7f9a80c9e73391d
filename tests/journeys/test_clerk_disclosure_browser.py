"""A clerk in a zh-CN browser: the secondary-number disclosure read aloud, the allocation, the printed receipt.

The README's screenshots come from this run: `make screenshots` sets SCREENSHOTS_DIR=docs/screenshots.
"""

import os
from pathlib import Path

import pytest
from django.utils import timezone

from numbers import roles
from numbers.models import HolderPeriod
from tests.factories import OperatorFactory, OutletFactory, staff_user
from tests.journeys.test_active_renewal_browser import CHROMIUM, LAUNCH_ARGS, _missing
from tests.numbers.sales.helpers_staff import PASSWORD, secondary_number

pytestmark = [pytest.mark.browser, pytest.mark.services, pytest.mark.django_db(transaction=True)]


@pytest.fixture
def desk(require_postgres, monkeypatch):
    """A counter's screen, in Chinese."""
    try:
        from playwright import sync_api
    except ImportError:
        _missing("Playwright is not installed (pip install -r requirements.txt)")
    if not Path(CHROMIUM).exists():
        _missing(f"no Chromium at {CHROMIUM} (apt-get install -y chromium fonts-wqy-zenhei)")
    monkeypatch.setenv("DJANGO_ALLOW_ASYNC_UNSAFE", "true")
    with sync_api.sync_playwright() as pw:
        browser = pw.chromium.launch(executable_path=CHROMIUM, args=LAUNCH_ARGS)
        context = browser.new_context(viewport={"width": 900, "height": 1200}, locale="zh-CN",
                                      timezone_id="Asia/Shanghai")
        yield context.new_page()
        browser.close()


def test_a_clerk_reads_the_disclosure_in_chinese_allocates_and_prints_the_receipt(roles_back, desk, live_server,
                                                                                  tmp_path):
    shots = Path(os.environ.get("SCREENSHOTS_DIR") or tmp_path)
    shots.mkdir(parents=True, exist_ok=True)
    operator = OperatorFactory(code="CMCC", name="中国移动")
    outlet = OutletFactory(operator=operator, code="BJ-XD", name="北京西单营业厅",
                           address="北京市西城区西单北大街 120 号")
    clerk = staff_user(role=roles.SALES_STAFF, outlet=outlet, username="clerk-bj-xd", first_name="小明",
                       last_name="王")
    number = secondary_number(outlet=outlet, staff=clerk, msisdn="+8613912348888")
    page = desk

    page.goto(f"{live_server.url}/staff/login/")
    assert page.locator("html").get_attribute("lang") == "zh-hans"
    page.fill("#id_username", "clerk-bj-xd")
    page.fill("#id_password", PASSWORD)
    page.get_by_role("button", name="登录").click()
    page.get_by_label("数字").fill("8888")
    page.get_by_role("button", name="搜索").click()
    page.get_by_role("link", name="推荐此号码").first.click()

    disclosure = page.locator("section.disclosure")
    assert "请在客户选号前告知：这个号码以前有人用过" in disclosure.inner_text()
    assert "原机主已于" in disclosure.inner_text() and "销号" in disclosure.inner_text()
    page.get_by_label("当面口头告知").check()
    page.get_by_label("我已按上述内容告知客户这是二次号，客户仍选择该号码。").check()
    page.get_by_label("客户编号").fill("BJ-2026-0815")
    disclosure.screenshot(path=str(shots / "disclosure-zh-hans.png"))

    page.get_by_role("button", name="分配此号码").click()
    receipt = page.locator("article.receipt")
    receipt.wait_for()
    text = receipt.inner_text()
    assert "手机号码办理回执" in text and "这是一个二次号" in text and "王小明" in text
    assert "当面口头告知" in text and "一键解绑全部" in text
    receipt.screenshot(path=str(shots / "receipt-zh-hans.png"))

    period = HolderPeriod.objects.get(number=number, ended_at__isnull=True)
    assert period.disclosure is not None and period.started_at <= timezone.now()
