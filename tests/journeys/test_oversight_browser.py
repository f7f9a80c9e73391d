"""A regulator and an operator administrator at their desks, in Chinese, in a real Chromium, with a real worker.

The regulator picks a date range on the dashboard and drills down to the rows behind a figure, places a
10,000-line risk list and follows it to its report, and the suspended number leaves the clerk's book. The
operator administrator uploads a feed, watches its progress bar and reads the report. axe-core checks each page.
"""

from datetime import timedelta

import pytest
from django.utils import timezone

from numbers import roles
from numbers.models import FeedStatus, FeedUpload, Operator, PhoneNumber, RiskList, State
from numbers.services import number_allocate, number_cancel
from tests.factories import OutletFactory, staff_user
from tests.journeys.helpers_active_renewal import wait_for
from tests.journeys.helpers_browser import DESK, admin_sign_in, assert_accessible, chromium

pytestmark = [pytest.mark.browser, pytest.mark.services, pytest.mark.django_db(transaction=True)]
PASSWORD = "pw-for-tests-only"


@pytest.fixture
def desk(roles_back, require_postgres, monkeypatch, live_server, settings, tmp_path, start_worker):
    # The worker reads the uploaded files: the same private root as this process (its PORTAL_VAR_DIR).
    settings.PRIVATE_FILES_ROOT = tmp_path / "var" / "private"
    start_worker()
    with chromium(monkeypatch) as browser:
        context = browser.new_context(viewport=DESK, locale="zh-CN")
        yield context.new_page()
        context.close()


@pytest.fixture
def cmcc(roles_back):
    operator = Operator.objects.create(code="CMCC", name="中国移动", coverage_start="2020-01-01")
    outlet = OutletFactory(operator=operator, code="BJ-XD", name="北京西单营业厅")
    clerk = staff_user(role=roles.SALES_STAFF, outlet=outlet, username="clerk")
    now = timezone.now()
    PhoneNumber.objects.bulk_create(PhoneNumber(msisdn=f"+86139{i:08d}", range_holder=operator,
                                                serving_operator=operator) for i in range(10_000))
    for i in range(3):  # a few holdings ended this month: the dashboard's cancellations
        n = PhoneNumber.objects.get(msisdn=f"+86139{i:08d}")
        number_allocate(number=n, outlet=outlet, staff=clerk, customer_ref=f"R{i}", disclosure=None,
                        now=now - timedelta(days=300))
        number_cancel(number=n, operator=operator, at=now - timedelta(days=2 + i), actor="test")
    return operator, outlet, clerk


def test_the_regulator_reads_the_dashboard_and_places_a_10000_line_list(desk, live_server, cmcc, tmp_path):
    operator, outlet, clerk = cmcc
    staff_user(role=roles.REGULATOR, username="regulator")
    page = desk
    target = PhoneNumber.objects.get(msisdn="+8613900009999")  # never used: in the clerk's book

    # the clerk sees the number in the book
    page.goto(f"{live_server.url}/staff/login/")
    page.locator("#id_username").fill("clerk")
    page.locator("#id_password").fill(PASSWORD)
    with page.expect_navigation():
        page.locator("#id_password").press("Enter")
    page.goto(f"{live_server.url}/staff/?q=00009999")
    assert "9999" in page.locator("ul.book").inner_text()
    page.context.clear_cookies()

    # the regulator's dashboard, for a range of two weeks
    admin_sign_in(page, live_server.url, "regulator", PASSWORD)
    page.goto(f"{live_server.url}/admin/dashboard/")
    today = timezone.localdate()
    page.locator("#id_start").fill((today - timedelta(days=13)).isoformat())
    with page.expect_navigation():
        page.locator("#dashboard-filter input[type=submit]").click()
    assert f"start={(today - timedelta(days=13)).isoformat()}" in page.url
    assert page.locator("#flow").is_visible() and page.locator("#platforms").count() == 1
    assert_accessible(page)
    page.screenshot(path=str(tmp_path / "dashboard.png"), full_page=True)
    # a figure opens the rows behind it
    with page.expect_navigation():
        page.locator("#flow-figures a").first.click()
    assert "/admin/numbers/event/" in page.url and "kind=cancel" in page.url
    assert page.locator("#result_list tbody tr").count() == 3

    # a 10,000-line list from an authority, uploaded as a file
    lines = ["msisdn"] + [f"139{i:08d}" for i in range(3, 9_997)] + ["13700000001", "12345", "13900009999",
                                                                      "+8613900009998", "139 0000 9997", ",,,"]
    page.goto(f"{live_server.url}/admin/numbers/riskmark/add/")
    assert_accessible(page)
    page.locator("#id_file").set_input_files(files=[{"name": "list.csv", "mimeType": "text/csv",
                                                     "buffer": "\n".join(lines).encode()}])
    page.locator("#id_category").select_option("fraud")
    page.locator("#id_authority").fill("公安部反诈中心")
    page.locator("#id_reference").fill("FZ-2026-118")
    page.locator("input[name=effect][value=suspend]").check()
    with page.expect_navigation():
        page.locator("input[type=submit]").click()
    assert "/admin/numbers/risklist/" in page.url
    # the page follows the job by itself and shows the report when it is done
    page.locator("#risk-list-report").wait_for(timeout=120_000)
    risk_list = RiskList.objects.get()
    assert (risk_list.status, risk_list.lines, risk_list.applied, risk_list.rejected) == (
        FeedStatus.DONE, 9_999, 9_997, 2)
    table = page.locator("#rejected-lines").inner_text()
    assert "unknown_number" in table and "invalid_msisdn" in table
    assert_accessible(page)
    target.refresh_from_db()
    assert target.state == State.SUSPENDED

    # and the number has left the clerk's book
    page.context.clear_cookies()
    page.goto(f"{live_server.url}/staff/login/")
    page.locator("#id_username").fill("clerk")
    page.locator("#id_password").fill(PASSWORD)
    with page.expect_navigation():
        page.locator("#id_password").press("Enter")
    page.goto(f"{live_server.url}/staff/?q=00009999")
    assert page.locator("ul.book li").count() == 0


def test_the_operator_administrator_uploads_a_feed_and_watches_it(desk, live_server, cmcc):
    operator, outlet, clerk = cmcc
    staff_user(role=roles.OPERATOR_ADMIN, operator=operator, username="cmcc-admin")
    now = timezone.now()
    held = []
    for i in range(100, 110):
        n = PhoneNumber.objects.get(msisdn=f"+86139{i:08d}")
        number_allocate(number=n, outlet=outlet, staff=clerk, customer_ref=f"H{i}", disclosure=None,
                        now=now - timedelta(days=100))
        held.append(n)
    at = (now - timedelta(hours=3)).isoformat()
    rows = [f"{n.msisdn},{at},," for n in held] + [f"+8613700000{i:03d},{at},," for i in range(1990)] + [",,,"]
    content = ("msisdn,cancelled_at,reason,to_operator\n" + "\n".join(rows) + "\n").encode()
    page = desk
    admin_sign_in(page, live_server.url, "cmcc-admin", PASSWORD)
    page.goto(f"{live_server.url}/admin/numbers/feedupload/add/")
    assert page.locator("#feed-formats").is_visible()
    with page.expect_download() as download:
        page.locator("#sample-cancellations").click()
    assert open(download.value.path(), encoding="utf-8").readline().startswith("msisdn,cancelled_at")
    assert_accessible(page)
    page.locator("#id_file").set_input_files(files=[{"name": "cancellations.csv", "mimeType": "text/csv",
                                                     "buffer": content}])
    with page.expect_navigation():
        page.locator("input[name=_save]").click()
    assert page.locator("#job-progress-bar").count() == 1
    page.locator("#id_report_lines, .field-report_lines a").first.wait_for(timeout=120_000)
    upload = wait_for(lambda: FeedUpload.objects.filter(status=FeedStatus.DONE).first(), timeout=60)
    assert (upload.lines, upload.applied, upload.rejected) == (2000, 10, 1990)
    assert "unknown_number" in page.content()
    assert_accessible(page)
    # its own dashboard: its operator only
    page.goto(f"{live_server.url}/admin/dashboard/")
    assert page.locator("#id_operator").count() == 0 and "CMCC" in page.locator("h1").inner_text()
    assert_accessible(page)
