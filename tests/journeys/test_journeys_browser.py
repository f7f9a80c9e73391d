"""The journeys people stumbled on, walked by a real Chromium against a live server, a real worker (Redis,
PostgreSQL) and the platform simulator, with axe-core on every page and screenshots of the key steps.

* the subscriber on a phone in Chinese: sign-in typed as a Chinese input method types it, unbind all, the page
  finishing by itself with what needs them first, the summary SMS, the proof, a harassment report with an image;
* the clerk at a desk and on a phone: search as typed, the refused allocation without disclosure, the drawn
  signature, the receipt and its SMS copy, and a second clerk losing the race for a number.

Browser journeys run once, in the PostgreSQL pass (`services`, `browser`).
"""

import re
from datetime import timedelta

import pytest
from django.utils import timezone

from numbers.models import Disclosure, HolderPeriod, PhoneNumber, State
from renewal.deliveries.services import batch_sweep
from renewal.deliveries.tasks import unbind_coalesce_task
from renewal.models import HarassmentReport, ReportAuthority, SmsMessage, UnbindRequest
from tests.factories import OutletFactory
from tests.journeys.helpers_active_renewal import simulated_platforms, wait_for
from tests.journeys.helpers_browser import DESKTOP, PHONE, accessible
from tests.numbers.sales.helpers_staff import PASSWORD, sales_clerk

pytestmark = [pytest.mark.browser, pytest.mark.services, pytest.mark.django_db(transaction=True)]

FULL_WIDTH = str.maketrans("0123456789", "０１２３４５６７８９")
# Every answer platforms give, so the page has a group of each (deterministic: the simulator's seed is fixed).
MIX = {"unbound": 0.4, "nothing_bound": 0.3, "rejected": 0.3}


def _sms(msisdn: str, contains: str, *, after: int = 0) -> SmsMessage:
    return wait_for(lambda: SmsMessage.objects.filter(to=msisdn, pk__gt=after, body__contains=contains)
                    .order_by("-pk").first(), timeout=60)


def _no_sideways_scroll(page) -> None:
    assert page.evaluate("document.documentElement.scrollWidth <= window.innerWidth"), page.url


def test_the_subscriber_on_a_phone_from_sign_in_to_the_summary_and_a_report(
        roles_back, chinese_pages, chromium, screens, live_server, start_worker, holder, tmp_path):
    number, period = holder
    # Transactional tests flush the rows the migration seeded: the one this journey reads is made here.
    ReportAuthority.objects.get_or_create(category="debt_collection", phone="12378",
                                          defaults={"name": "12378 银行保险消费者投诉热线"})
    start_worker(SMS_BACKEND="renewal.active.sms.DatabaseBackend", PUBLIC_BASE_URL=live_server.url)
    sim, platforms = simulated_platforms([f"应用 {i}" for i in range(8)], api_url=live_server.url, mix=MIX,
                                         confirm_after_ms=200)
    page = chromium.new_context(**PHONE).new_page()
    try:
        # Sign in: the number and the code typed in full-width digits with spaces (a Chinese input method's default).
        page.goto(f"{live_server.url}/renew/")
        accessible(page, "the sign-in page")
        national = number.national.translate(FULL_WIDTH).replace(" ", "\u3000")
        page.get_by_label("您的手机号码").fill(national)
        with page.expect_navigation():
            page.get_by_role("button", name="获取验证码").click()
        accessible(page, "the code page")
        code = re.search(r"\b(\d{6})\b", _sms(number.msisdn, "验证码").body).group(1)
        page.get_by_label("短信中的 6 位验证码").fill(f"{code[:3]} {code[3:]}".translate(FULL_WIDTH))
        with page.expect_navigation():
            page.get_by_role("button", name="登录").click()
        assert page.url.endswith("/renew/number")
        accessible(page, "the renewal page")
        # "Choose some": nothing ticked at first; select all and select none work.
        page.locator("#unbind-title ~ details > summary").click()
        boxes = page.locator('input[name="platforms"]')
        assert boxes.count() == len(platforms) and page.locator('input[name="platforms"]:checked').count() == 0
        page.get_by_role("button", name="全选").click()
        assert page.locator('input[name="platforms"]:checked').count() == len(platforms)
        page.get_by_role("button", name="全不选").click()
        assert page.locator('input[name="platforms"]:checked').count() == 0
        screens.take(page, "subscriber-1-number", full_page=True)
        with page.expect_navigation():
            page.get_by_role("button", name="一键解绑全部").click()
        assert "/renew/requests/" in page.url
        unbind_coalesce_task.delay()  # what beat does every few seconds
        # The page follows the request by itself: the progress bar, then what needs the subscriber first.
        page.locator("#summary").wait_for(state="visible", timeout=60_000)
        progress = page.locator("progress#request-progress")
        assert progress.get_attribute("value") == progress.get_attribute("max") == str(len(platforms))
        groups = page.locator("[data-group]").evaluate_all("els => els.map(e => e.dataset.group)")
        assert groups[0] == "needs_you" and "unbound" in groups, groups
        needs = page.locator('[data-group="needs_you"] .rejection').first
        assert needs.locator(".rejection-next").inner_text() and needs.locator(".rejection-headline").inner_text()
        assert page.locator("details[data-group] >> visible=true").count() >= 1
        accessible(page, "the finished request")
        _no_sideways_scroll(page)
        screens.take(page, "subscriber-2-request", full_page=True)
        # The summary SMS, with a short link that leads back to this request.
        request = UnbindRequest.objects.get()
        summary = _sms(number.msisdn, f"/r/{request.reference}")
        # Chinese once this branch's translations are in the catalogue the worker reads; one segment then.
        assert summary.body.startswith("[Number renewal]") or len(summary.body) <= 70, summary.body
        page.goto(f"{live_server.url}/r/{request.reference}")
        assert page.url.endswith(f"/renew/requests/{request.pk}")
        # The proof to print or save.
        with page.expect_navigation():
            page.get_by_role("link", name="打印或保存为凭证").click()
        accessible(page, "the proof")
        assert request.reference in page.content() and all(p.name in page.content() for p in platforms)
        # A harassment report with an image; then who handles it and its status.
        page.goto(f"{live_server.url}/renew/report")
        accessible(page, "the report form")
        send = page.locator("main form button[type=submit]")
        with page.expect_navigation():
            send.click()
        summary_box = page.locator("#error-summary")
        assert summary_box.is_visible() and "：" in summary_box.inner_text()  # each error names its field
        page.locator('input[name="category"][value="debt_collection"]').check()
        page.locator("#id_sender").fill("０２１－５５５５ ０１２３")
        page.locator("#id_occurred_at").fill((timezone.localtime() - timedelta(days=1)).strftime("%Y-%m-%dT%H:%M"))
        page.locator("#id_description").fill("每天都有人打电话找原机主催收网贷。")
        image = tmp_path / "call-log.png"
        from numbers.demo import signature_png

        image.write_bytes(signature_png())
        page.locator("#id_evidence").set_input_files(str(image))
        with page.expect_navigation():
            send.click()
        report = HarassmentReport.objects.get()
        assert report.evidence.count() == 1 and report.sender == "021-5555 0123"
        assert "12378" in page.content()
        accessible(page, "the report")
        screens.take(page, "subscriber-3-report", full_page=True)
        _no_sideways_scroll(page)
    finally:
        sim.stop()


def _draw(page, canvas) -> None:
    box = canvas.bounding_box()
    x, y, w, h = box["x"], box["y"], box["width"], box["height"]
    page.mouse.move(x + w * 0.1, y + h * 0.6)
    page.mouse.down()
    for i in range(1, 25):
        page.mouse.move(x + w * (0.1 + 0.03 * i), y + h * (0.6 - 0.3 * ((i % 4) in (1, 2))), steps=2)
    page.mouse.up()


def _sign_in(page, url: str, username: str) -> None:
    page.goto(f"{url}/staff/login/")
    page.locator("#id_username").fill(username)
    page.locator("#id_password").fill(PASSWORD)
    with page.expect_navigation():
        page.locator("form.staff-form button[type=submit]").click()


def test_the_clerk_from_search_to_receipt_and_a_second_clerk_losing_the_race(
        roles_back, chinese_pages, chromium, screens, live_server, start_worker, operator, outlet, clerk, settings):
    from tests.renewal.deliveries.test_sweep_on_sale import on_sale_unpushed

    start_worker(SMS_BACKEND="renewal.active.sms.DatabaseBackend", PUBLIC_BASE_URL=live_server.url)
    settings.PUBLIC_BASE_URL = live_server.url
    # Platforms that take their time to confirm: the old accounts' removal is still running at the sale.
    sim, platforms = simulated_platforms([f"平台 {i}" for i in range(4)], api_url=live_server.url, mix=MIX,
                                         confirm_after_ms=600_000)
    wanted, contested = on_sale_unpushed(operator, 2)
    batch_sweep()  # pushed now: "removal in progress" in the book until the platforms confirm
    rival = sales_clerk(OutletFactory(operator=operator, code="SH-NJ", name="上海南京东路营业厅"), "clerk-sh")
    desk = chromium.new_context(**DESKTOP).new_page()
    other = chromium.new_context(**DESKTOP).new_page()
    try:
        desk.goto(f"{live_server.url}/staff/login/")
        accessible(desk, "the staff sign-in")
        _sign_in(desk, live_server.url, clerk.username)
        accessible(desk, "the number book")
        # The number typed as a clerk would: +86, spaces, dashes.
        typed = f"+86 {wanted.msisdn[3:6]}-{wanted.msisdn[6:10]}-{wanted.msisdn[10:]}"
        desk.locator("#id_q").fill(typed)
        with desk.expect_navigation():
            desk.locator(".book-search button[type=submit]").click()
        assert desk.locator(".book-row").count() == 1
        accessible(desk, "the search result")
        # The second clerk opens the contested number's offer before the first clerk sells it.
        _sign_in(other, live_server.url, rival.username)
        other.goto(f"{live_server.url}/staff/numbers/{contested.pk}/")
        with desk.expect_navigation():
            desk.locator(".book-row a.button").click()
        accessible(desk, "the disclosure")
        screens.take(desk, "clerk-1-disclosure", full_page=True)
        # Refused without the disclosure: nothing saved, each missing part named.
        desk.locator("#id_customer_ref").fill("CMCC-2026-0001")
        with desk.expect_navigation():
            desk.locator('button[name="action"][value="allocate"]').click()
        assert desk.locator(".error-summary").count() >= 1 and not Disclosure.objects.exists()
        accessible(desk, "the refused allocation")
        # The electronic signature: the canvas appears with the method, the customer signs, the clerk confirms.
        desk.locator('input[name="method"][value="esign"]').check()
        canvas = desk.locator("[data-signature-pad]")
        canvas.wait_for(state="visible")
        _draw(desk, canvas)
        assert desk.locator('input[name="signature"]').input_value().startswith("data:image/png;base64,")
        desk.locator('input[name="confirmed"]').check()
        desk.locator("#id_customer_ref").fill("CMCC-2026-0001")
        with desk.expect_navigation():
            desk.locator('button[name="action"][value="allocate"]').click()
        assert "/staff/receipts/" in desk.url
        disclosure = Disclosure.objects.get(number=wanted)
        assert disclosure.signature and desk.locator(".receipt-signature img").evaluate("i => i.naturalWidth") > 0
        assert f"{live_server.url}/renew/" in desk.content()
        accessible(desk, "the receipt")
        screens.take(desk, "clerk-2-receipt", full_page=True)
        # Its old accounts were still being removed: the new holder's unbind request went out with the sale.
        period = HolderPeriod.objects.get(number=wanted, ended_at__isnull=True)
        assert UnbindRequest.objects.filter(holder_period=period).exists()
        # The disclosure's copy by SMS to the new number.
        with desk.expect_navigation():
            desk.locator(".receipt-actions form button").click()
        assert _sms(wanted.msisdn, f"{live_server.url}/renew/").body.startswith("【号码换绑】")
        # The first clerk sells the contested number; the second, still on its page, loses the race.
        desk.goto(f"{live_server.url}/staff/numbers/{contested.pk}/")
        desk.locator('input[name="method"][value="spoken"]').check()
        desk.locator('input[name="confirmed"]').check()
        desk.locator("#id_customer_ref").fill("CMCC-2026-0002")
        with desk.expect_navigation():
            desk.locator('button[name="action"][value="allocate"]').click()
        other.locator('input[name="method"][value="written"]').check()
        other.locator('input[name="confirmed"]').check()
        other.locator("#id_customer_ref").fill("CMCC-2026-0003")
        with other.expect_navigation():
            other.locator('button[name="action"][value="allocate"]').click()
        assert other.url.endswith("/staff/") and other.locator(".messages .error").count() == 1
        accessible(other, "the lost race")
        screens.take(other, "clerk-3-race")
        contested.refresh_from_db()
        assert contested.state == State.ACTIVE
        assert HolderPeriod.objects.get(number=contested, ended_at__isnull=True).customer_ref == "CMCC-2026-0002"
    finally:
        sim.stop()


def test_the_clerk_on_a_phone_searches_and_reads_the_disclosure(
        roles_back, chinese_pages, chromium, screens, live_server, operator, outlet, clerk):
    from tests.numbers.sales.helpers_staff import secondary_number

    number = secondary_number(outlet=outlet, staff=clerk)
    page = chromium.new_context(**PHONE).new_page()
    _sign_in(page, live_server.url, clerk.username)
    accessible(page, "the number book on a phone")
    page.locator("#id_q").fill(number.msisdn[-4:].translate(FULL_WIDTH))  # full-width digits
    with page.expect_navigation():
        page.locator(".book-search button[type=submit]").click()
    assert page.locator(".book-row").count() >= 1
    with page.expect_navigation():
        page.locator(f'a[href="/staff/numbers/{number.pk}/"]').click()
    page.locator('input[name="method"][value="esign"]').check()
    page.locator("[data-signature-pad]").wait_for(state="visible")
    accessible(page, "the disclosure on a phone")
    _no_sideways_scroll(page)
    screens.take(page, "clerk-4-phone", full_page=True)
    assert PhoneNumber.objects.get(pk=number.pk).state == State.AVAILABLE
