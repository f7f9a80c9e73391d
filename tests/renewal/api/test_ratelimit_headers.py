"""Every API answer carries RateLimit-Limit, RateLimit-Remaining and RateLimit-Reset; limits per key."""

import pytest

from tests.renewal.helpers_renewal import make_key, make_platform

pytestmark = pytest.mark.django_db


def _headers(response) -> tuple[int, int, int]:
    return (int(response["RateLimit-Limit"]), int(response["RateLimit-Remaining"]),
            int(response["RateLimit-Reset"]))


def test_a_keys_answers_count_down_to_a_refusal(api, settings):
    settings.RENEWAL_API_RATE = "3/min"
    key = make_key(platform=make_platform())
    answers = [api("get", "/api/v1/deliveries", key) for _ in range(4)]
    assert [r.status_code for r in answers] == [200, 200, 200, 429]
    assert [_headers(r)[:2] for r in answers] == [(3, 2), (3, 1), (3, 0), (3, 0)]
    assert all(0 < _headers(r)[2] <= 60 for r in answers)
    assert int(answers[-1]["Retry-After"]) == _headers(answers[-1])[2]


def test_errors_and_unknown_paths_carry_them_too(api, settings, operator):
    settings.RENEWAL_API_ANON_RATE = "5/min"
    platform_key = make_key(platform=make_platform())
    refused = api("get", "/api/v1/deliveries")  # no key: counted per address
    assert refused.status_code == 401 and _headers(refused)[:2] == (5, 4)
    bad = api("get", "/api/v1/deliveries", "rk_not-a-key")
    assert bad.status_code == 401 and _headers(bad)[:2] == (5, 3)
    unknown = api("get", "/api/v1/nothing-here")  # no view counted it: the address's standing, not counted
    assert unknown.status_code == 404 and _headers(unknown)[:2] == (5, 3)
    scope = api("post", "/api/v1/cancellations", platform_key, {"items": []})
    assert scope.status_code == 403 and _headers(scope)[0] == 1200
    assert "RateLimit-Limit" not in api("get", "/")  # pages are not the API
    assert "RateLimit-Limit" not in api("get", "/api/v1/health/live")  # limited by nothing, and needs no cache


def test_limits_per_key_and_per_scope(api, settings, operator):
    settings.RENEWAL_API_RATE = "100/min"
    settings.RENEWAL_API_OPERATOR_RATE = "50/min"
    fast, normal = make_key(platform=make_platform()), make_key(platform=make_platform())
    settings.RENEWAL_API_KEY_RATES = {fast[:11]: "1000/min"}
    op_key = make_key(operator=operator)
    assert _headers(api("get", "/api/v1/deliveries", fast))[0] == 1000
    assert _headers(api("get", "/api/v1/deliveries", normal))[0] == 100
    assert _headers(api("get", "/api/v1/feeds/1", op_key))[0] == 50


def test_messages_in_english_unless_asked(api, operator):
    key = make_key(platform=make_platform())
    english = api("post", "/api/v1/cancellations", key, {"items": []})
    assert english.json()["error"]["message"] == "This endpoint needs an operator key."
    assert english["Content-Language"] == "en"
    chinese = api("post", "/api/v1/cancellations", key, {"items": []}, HTTP_ACCEPT_LANGUAGE="zh-CN,zh;q=0.9")
    assert chinese["Content-Language"] == "zh-hans"
    assert chinese.json()["error"]["code"] == "wrong_scope"


def test_a_key_is_never_counted_with_another_that_had_its_row_id(api, settings):
    """A cache shared by two databases (a benchmark beside a test run) holds counts of keys with the same row ids."""
    from renewal.models import ApiKey

    settings.RENEWAL_API_RATE = "2/min"
    platform = make_platform()
    first = make_key(platform=platform)
    assert [api("get", "/api/v1/deliveries", first).status_code for _ in range(3)] == [200, 200, 429]
    row_id = ApiKey.objects.get().pk
    ApiKey.objects.all().delete()
    second = make_key(platform=platform)
    ApiKey.objects.update(id=row_id)
    assert api("get", "/api/v1/deliveries", second).status_code == 200
