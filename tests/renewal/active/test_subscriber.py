"""Sign-in by SMS code: the neutral answer, codes, limits, and the verified session."""

import re
import time
from datetime import timedelta

from django.test import Client
from django.utils import timezone

from numbers import ratelimit
from numbers.models import State
from renewal.active.sms import VerifyResult, code_hmac, sms_code_issue, sms_code_verify
from renewal.models import SmsCode, SmsMessage
from tests.factories import PhoneNumberFactory
from tests.helpers_times import english_time
from tests.renewal.helpers_subscriber import close_period, last_code, sign_in


def _request(client, msisdn, address="10.0.0.1", **extra):
    return client.post("/renew/", {"msisdn": msisdn}, REMOTE_ADDR=address, **extra)


def test_every_number_gets_the_same_answer_and_only_a_number_in_service_gets_a_code(client, holder, operator):
    number, _ = holder
    frozen = PhoneNumberFactory(range_holder=operator, state=State.AVAILABLE)
    answers = []
    for msisdn in (number.msisdn, frozen.msisdn, "+8613912345678"):
        response = _request(client, msisdn, address=f"10.0.0.{len(answers) + 1}")
        assert response.status_code == 302 and response["Location"] == "/renew/code"
        page = client.get("/renew/code")
        answers.append(re.sub(r'name="csrfmiddlewaretoken" value="[^"]+"', "", page.content.decode()))
    assert "If this number is in service, a code has been sent" in answers[0]
    assert answers[0] == answers[1] == answers[2]  # nothing on the page tells them apart
    assert list(SmsMessage.objects.values_list("to", flat=True)) == [number.msisdn]
    assert SmsCode.objects.count() == 1


def test_a_number_not_in_service_is_rate_limited_like_any_other(client, operator):
    number = PhoneNumberFactory(range_holder=operator)
    assert _request(client, number.msisdn).status_code == 302
    response = _request(client, number.msisdn)
    assert response.status_code == 429
    assert int(response["Retry-After"]) <= 60
    assert re.search(r"wait \d+ seconds? before requesting a new one", response.content.decode())
    assert not SmsMessage.objects.exists()


def test_an_invalid_number_is_refused_with_the_reason_and_counted_against_the_address(client, settings, db):
    settings.SMS_LIMIT_PER_ADDRESS_HOUR = 2
    response = _request(client, "12345")
    assert response.status_code == 400
    assert 'href="#id_msisdn"' in response.content.decode()  # the error summary links to the field
    assert _request(client, "12345").status_code == 400
    response = _request(client, "+8613800000001")
    assert response.status_code == 429
    assert "from your network" in response.content.decode()


def test_code_is_stored_as_hmac_with_five_minutes_and_one_live_code(holder):
    number, _ = holder
    first = sms_code_issue(msisdn=number.msisdn)
    second = sms_code_issue(msisdn=number.msisdn)
    row = SmsCode.objects.get(msisdn=number.msisdn)
    assert row.code_hmac == code_hmac(number.msisdn, second) and second not in row.code_hmac
    assert timedelta(seconds=299) < row.expires_at - row.created_at <= timedelta(seconds=300)
    if first != second:
        assert sms_code_verify(msisdn=number.msisdn, code=first) == VerifyResult.WRONG
    assert sms_code_verify(msisdn=number.msisdn, code=second) == VerifyResult.OK
    assert sms_code_verify(msisdn=number.msisdn, code=second) == VerifyResult.WRONG  # used up


def test_an_expired_code_does_not_sign_in(client, holder):
    number, _ = holder
    _request(client, number.msisdn)
    code = last_code(number.msisdn)
    SmsCode.objects.filter(msisdn=number.msisdn).update(expires_at=timezone.now() - timedelta(seconds=1))
    response = client.post("/renew/code", {"code": code})
    assert response.status_code == 400
    assert "wrong or has expired" in response.content.decode()
    assert client.get("/renew/number")["Location"] == "/renew/"


def test_five_wrong_codes_lock_the_code(client, holder):
    number, _ = holder
    _request(client, number.msisdn)
    code = last_code(number.msisdn)
    wrong = f"{(int(code) + 1) % 10**6:06d}"
    for left in (4, 3, 2, 1):
        response = client.post("/renew/code", {"code": wrong})
        assert f"{left} tr" in response.content.decode()
    response = client.post("/renew/code", {"code": wrong})
    assert "no longer works. Request a new code" in response.content.decode()
    response = client.post("/renew/code", {"code": code})  # even the right one now
    assert response.status_code == 400 and "no longer works" in response.content.decode()
    assert "renew_subscriber" not in client.session


def test_wrong_codes_read_the_same_for_a_number_not_in_service(client, operator):
    number = PhoneNumberFactory(range_holder=operator)
    _request(client, number.msisdn)
    texts = [client.post("/renew/code", {"code": "123456"}).content.decode() for _ in range(5)]
    assert "4 tries left" in texts[0] and "no longer works" in texts[4]


def test_a_malformed_code_is_refused_without_counting_a_try(client, holder):
    number, _ = holder
    _request(client, number.msisdn)
    response = client.post("/renew/code", {"code": "12ab"})
    assert response.status_code == 400 and "Enter the 6 digits" in response.content.decode()
    assert SmsCode.objects.get(msisdn=number.msisdn).tries == 0


def test_per_number_limit_a_minute_and_a_day(client, holder, settings):
    number, _ = holder
    assert _request(client, number.msisdn, address="10.0.0.1").status_code == 302
    response = _request(client, number.msisdn, address="10.0.0.2")  # another address: still the same number
    assert response.status_code == 429
    settings.SMS_LIMIT_PER_NUMBER_MINUTE = 100
    settings.SMS_LIMIT_PER_NUMBER_DAY = 3
    assert _request(client, number.msisdn, address="10.0.0.3").status_code == 302  # 3rd request today
    response = _request(client, number.msisdn, address="10.0.0.4")
    assert response.status_code == 429
    assert "today" in response.content.decode() and re.search(r"Wait \d+ (hours?|minutes?)", response.content.decode())
    assert SmsMessage.objects.filter(to=number.msisdn).count() == 2


def test_per_address_limit_and_forwarded_for_only_behind_trusted_proxies(client, operator, settings):
    settings.SMS_LIMIT_PER_ADDRESS_HOUR = 2
    msisdns = [PhoneNumberFactory(range_holder=operator).msisdn for _ in range(5)]
    # Without trusted proxies a forged X-Forwarded-For changes nothing.
    assert _request(client, msisdns[0], HTTP_X_FORWARDED_FOR="1.1.1.1").status_code == 302
    assert _request(client, msisdns[1], HTTP_X_FORWARDED_FOR="2.2.2.2").status_code == 302
    assert _request(client, msisdns[2], HTTP_X_FORWARDED_FOR="3.3.3.3").status_code == 429
    assert _request(client, msisdns[3], address="10.9.9.9").status_code == 302
    # Behind one trusted proxy the address is the last X-Forwarded-For entry.
    settings.TRUSTED_PROXY_COUNT = 1
    for _ in range(2):
        assert _request(client, msisdns[4], address="10.0.0.254", HTTP_X_FORWARDED_FOR="6.6.6.6, 7.7.7.7"
                        ).status_code in (302, 429)
    response = _request(client, msisdns[0], address="10.0.0.254", HTTP_X_FORWARDED_FOR="9.9.9.9, 7.7.7.7")
    assert response.status_code == 429 and "from your network" in response.content.decode()


def test_client_address_takes_the_entry_of_the_first_trusted_proxy(rf, settings):
    request = rf.get("/", REMOTE_ADDR="10.0.0.2", HTTP_X_FORWARDED_FOR="203.0.113.9, 198.51.100.1, 10.0.0.1")
    settings.TRUSTED_PROXY_COUNT = 0
    assert ratelimit.client_address(request) == "10.0.0.2"
    settings.TRUSTED_PROXY_COUNT = 2
    assert ratelimit.client_address(request) == "198.51.100.1"
    settings.TRUSTED_PROXY_COUNT = 4  # fewer entries than proxies: not believed
    assert ratelimit.client_address(request) == "10.0.0.2"


def test_limits_live_in_the_shared_cache(db):
    limit = ratelimit.Limit("t", 2, 60)
    now = 999_960.0  # the start of a 60-second window
    assert ratelimit.hit(limit, "k", now=now) is None
    assert ratelimit.hit(limit, "k", now=now + 1) is None
    refusal = ratelimit.hit(limit, "k", now=now + 19)
    assert refusal is not None and refusal.retry_after == 41
    assert ratelimit.hit(limit, "k", now=now + 60) is None  # the next window


def test_sign_in_rotates_the_session_id(client, holder):
    number, _ = holder
    client.get("/renew/")
    _request(client, number.msisdn)
    before = client.session.session_key
    assert before
    client.post("/renew/code", {"code": last_code(number.msisdn)})
    after = client.session.session_key
    assert after and after != before
    # A fixated (old) session id carries nothing.
    stale = Client(headers={"accept-language": "en"})
    stale.cookies["sessionid"] = before
    assert stale.get("/renew/number")["Location"] == "/renew/"
    assert client.get("/renew/number").status_code == 200


def test_logout_ends_the_session(client, holder):
    number, _ = holder
    sign_in(client, number.msisdn)
    assert client.post("/renew/logout").status_code == 302
    assert client.get("/renew/number")["Location"] == "/renew/"


def test_idle_session_ends(client, holder, settings):
    number, _ = holder
    sign_in(client, number.msisdn)
    session = client.session
    data = session["renew_subscriber"]
    data["seen"] = time.time() - settings.SUBSCRIBER_IDLE_SECONDS - 1
    session["renew_subscriber"] = data
    session.save()
    response = client.get("/renew/number")
    assert response["Location"] == "/renew/"
    assert "without activity" in client.get("/renew/").content.decode()


def test_session_ends_when_the_holding_closes(client, holder):
    number, period = holder
    sign_in(client, number.msisdn)
    close_period(period)
    assert client.get("/renew/number")["Location"] == "/renew/"
    assert "has ended" in client.get("/renew/").content.decode()


def test_the_page_says_secondary_and_since_when(client, holder):
    number, period = holder
    sign_in(client, number.msisdn)
    page = client.get("/renew/number").content.decode()
    assert english_time(period.started_at) in page
    assert "Only bindings made before that moment are removed" in page


def test_a_holding_with_an_unknown_start_gets_an_explanation_not_a_button(client, holder):
    number, period = holder
    type(period).objects.filter(pk=period.pk).update(started_at=None)
    sign_in(client, number.msisdn)
    page = client.get("/renew/number").content.decode()
    assert 'id="unknown-start"' in page and "We do not know when your holding" in page
    assert 'id="unbind-all"' not in page


def test_the_sms_speaks_the_language_of_the_page(holder, settings):
    number, _ = holder
    from renewal.active.tasks import sms_code_send_task

    sms_code_send_task.delay(number.msisdn, "en")
    assert "Your sign-in code is" in SmsMessage.objects.get().body
