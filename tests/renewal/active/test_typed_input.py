"""What a person types on a phone in Chinese: full-width digits, +86, 0086, spaces and dashes; and the code's rules."""

import re

import pytest
from django.test import override_settings
from django.utils import translation

from numbers import ratelimit
from renewal.active.views import sms_promise
from renewal.models import SmsCode
from tests.renewal.helpers_subscriber import last_code

FULL_WIDTH = str.maketrans("0123456789+", "０１２３４５６７８９＋")


def _typed_forms(msisdn: str) -> list[str]:
    national = msisdn[3:]
    spaced = f"{national[:3]} {national[3:7]} {national[7:]}"
    return [national, spaced, f"+86 {spaced}", f"0086-{national[:3]}-{national[3:7]}-{national[7:]}",
            national.translate(FULL_WIDTH), f"＋８６　{spaced}".translate(FULL_WIDTH)]


@pytest.mark.parametrize("form", range(6))
def test_the_number_is_accepted_however_it_is_typed(client, holder, form):
    number, _ = holder
    typed = _typed_forms(number.msisdn)[form]
    response = client.post("/renew/", {"msisdn": typed}, REMOTE_ADDR=f"10.9.0.{form}")
    assert response.status_code == 302, typed
    assert client.session["renew_pending"] == number.msisdn


def test_a_code_typed_in_full_width_digits_with_spaces_signs_in(client, holder):
    number, _ = holder
    client.post("/renew/", {"msisdn": number.msisdn})
    code = last_code(number.msisdn)
    typed = f"{code[:3]} {code[3:]}".translate(FULL_WIDTH)
    response = client.post("/renew/code", {"code": typed})
    assert response.status_code == 302 and response["Location"].endswith("/renew/number")


def test_a_code_that_is_not_six_digits_is_refused_without_costing_a_try(client, holder):
    number, _ = holder
    client.post("/renew/", {"msisdn": number.msisdn})
    with translation.override("en"):
        for bad in ("12345", "abcdef", "1234567", "１２３"):
            response = client.post("/renew/code", {"code": bad}, HTTP_ACCEPT_LANGUAGE="en")
            assert response.status_code == 400
            assert "Enter the 6 digits of the code" in response.content.decode()
    assert SmsCode.objects.get(msisdn=number.msisdn).tries == 0


def test_one_code_a_minute_means_any_sixty_seconds_not_one_per_clock_minute(db):
    limit = ratelimit.Limit("sms-number-minute", 1, 60)
    # 18 s apart across a clock minute's edge: the fixed window let both through.
    assert ratelimit.hit_sliding(limit, "+8613800138000", now=1_000_050.0) is None
    refusal = ratelimit.hit_sliding(limit, "+8613800138000", now=1_000_068.0)
    assert refusal is not None and refusal.retry_after == 42
    assert ratelimit.hit_sliding(limit, "+8613900139000", now=1_000_068.0) is None  # another number


def test_two_a_minute_hold_two_slots(db):
    limit = ratelimit.Limit("t-two", 2, 60)
    assert ratelimit.hit_sliding(limit, "k", now=100.0) is None
    assert ratelimit.hit_sliding(limit, "k", now=110.0) is None
    assert ratelimit.hit_sliding(limit, "k", now=120.0).retry_after == 40


def test_the_day_limit_starts_again_at_local_midnight(db):
    midnight = 8 * 3600  # Asia/Shanghai
    limit = ratelimit.Limit("t-day", 1, 86400, offset=midnight)
    local_2359 = 86400 * 100 - midnight - 60  # 23:59 local
    assert ratelimit.hit(limit, "k", now=local_2359) is None
    assert ratelimit.hit(limit, "k", now=local_2359 + 30).retry_after == 30
    assert ratelimit.hit(limit, "k", now=local_2359 + 61) is None  # 00:00:01 local: a new day


@override_settings(SMS_LIMIT_PER_NUMBER_MINUTE=1, SMS_LIMIT_PER_NUMBER_DAY=10)
def test_the_page_promises_what_the_limits_do(client):
    with translation.override("en"):
        promise = sms_promise()
        assert "at most 1 code a minute and 10 a day" in promise
        assert promise in client.get("/renew/", HTTP_ACCEPT_LANGUAGE="en").content.decode()
    with override_settings(SMS_LIMIT_PER_NUMBER_MINUTE=2, SMS_LIMIT_PER_NUMBER_DAY=5), translation.override("en"):
        assert "at most 2 codes a minute and 5 a day" in sms_promise()


def test_a_second_code_request_within_the_minute_leads_back_to_the_code_entry(client, holder):
    number, _ = holder
    assert client.post("/renew/", {"msisdn": number.msisdn}).status_code == 302
    client.get("/renew/code")
    # "No SMS? Request a new code": the number is filled in and the code entry is one link away.
    page = client.get("/renew/", HTTP_ACCEPT_LANGUAGE="en").content.decode()
    assert 'href="/renew/code"' in page and number.national in page
    response = client.post("/renew/", {"msisdn": number.msisdn}, HTTP_ACCEPT_LANGUAGE="en")
    assert response.status_code == 429
    body = response.content.decode()
    assert "a moment ago" in body and 'href="/renew/code"' in body
    # The first code still signs in.
    response = client.post("/renew/code", {"code": last_code(number.msisdn)})
    assert response["Location"].endswith("/renew/number")


def test_the_error_summary_names_each_field(client, holder):
    from tests.renewal.helpers_subscriber import sign_in

    number, _ = holder
    sign_in(client, number.msisdn)
    body = client.post("/renew/report", {}, HTTP_ACCEPT_LANGUAGE="en").content.decode()
    summary = body[body.index('id="error-summary"'):body.index("</ul>", body.index('id="error-summary"'))]
    for label in ("What kind of harassment", "Sender&#x27;s number or name", "When it happened", "What happened"):
        assert re.search(re.escape(label) + r": \S", summary), (label, summary)
