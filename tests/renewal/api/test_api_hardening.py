"""The platform API against hostile input: cursors, integers out of range, deeply nested JSON, anonymous floods."""

import base64
import json
from urllib.parse import quote

import pytest

from renewal.active import services as unbind
from renewal.deliveries import services
from renewal.deliveries import unbind as coalescer
from renewal.models import Delivery, DeliveryEvent
from tests.renewal.helpers_renewal import make_frozen_numbers, make_key, make_platform

pytestmark = pytest.mark.django_db


@pytest.fixture
def pushed(operator, django_capture_on_commit_callbacks):
    """A pull-only platform with a key and one batch of 3 numbers."""
    platform = make_platform(name="Alipay")
    platform.key = make_key(platform)
    make_frozen_numbers(operator, 3)
    with django_capture_on_commit_callbacks(execute=True):
        services.batch_sweep()
    return platform


@pytest.fixture
def requested(holder):
    """A pull-only platform with a key and one unbind task of an unbind-all request, coalesced."""
    _, period = holder
    platform = make_platform(name="WeChat")
    platform.key = make_key(platform)
    request = unbind.unbind_request_create(period=period)
    coalescer.unbind_coalesce()
    return platform, request.tasks.get(platform=platform)


@pytest.fixture(params=["configured", pytest.param("postgresql", marks=pytest.mark.services)])
def each_database(request):
    """Run on the configured database, and again (marked `services`) on PostgreSQL, which enforces column ranges."""
    if request.param == "postgresql":
        request.getfixturevalue("require_postgres")


def _envelope(response, status, code):
    assert response.status_code == status, response.content
    body = response.json()
    assert set(body) == {"error"} and body["error"]["code"] == code and body["error"]["message"]
    return body["error"]


# --- cursors ---------------------------------------------------------------------------------


def _cursor(value) -> str:
    """Encode like the API does (base64url of compact JSON, no padding), whatever the value."""
    raw = value if isinstance(value, bytes) else json.dumps(value, separators=(",", ":")).encode()
    return base64.urlsafe_b64encode(raw).decode().rstrip("=")


_UUID = "0b6f1c2e-3d4a-4b5c-8d6e-7f8091a2b3c4"
_TIME = "2026-01-01T00:00:00+00:00"

# Every one of these is wrong for both lists: neither a (time, uuid) pair nor a single entry id.
BAD_CURSORS = {
    "an object": _cursor({"created_at": _TIME, "id": _UUID}),
    "a number where the uuid goes": _cursor([_TIME, 12345]),
    "a list where the uuid goes": _cursor([_TIME, [_UUID]]),
    "a number where the time goes": _cursor([1767225600, _UUID]),
    "null where the time goes": _cursor([None, _UUID]),
    "an empty list": _cursor([]),
    "a list too long": _cursor([_TIME, _UUID, 1]),
    "a string where the id goes": _cursor(["12"]),
    "a float where the id goes": _cursor([1.5]),
    "true where the id goes": _cursor([True]),
    "an id out of range": _cursor([10**20]),
    "a negative id": _cursor([-1]),
    "a time without an offset": _cursor(["2026-01-01T00:00:00", _UUID]),
    "a time that overflows in UTC": _cursor(["0001-01-01T00:00:00+05:00", _UUID]),
    "a date only": _cursor(["2026-01-01", _UUID]),
    "not a uuid": _cursor([_TIME, "not-a-uuid"]),
    "a bare string": _cursor("x"),
    "a bare number": _cursor(7),
    "null": _cursor(None),
    "nested lists": _cursor([[[[[1]]]]]),
    "bytes that are not UTF-8": _cursor(b"\xff\xfe\x00["),
    "not JSON": _cursor(b"[1,"),
    "non-ASCII text": "\u00e9\u4e2d\u6587",
    "not base64": "%%%",
    "one base64 character": "A",
    "base64 with padding inside": "WzFd=WzFd",
    "very long": _cursor([1] * 400),
}


@pytest.mark.parametrize("path", ["/api/v1/deliveries", "/api/v1/recycled-numbers"])
@pytest.mark.parametrize("cursor", BAD_CURSORS.values(), ids=BAD_CURSORS.keys())
def test_an_undecodable_cursor_is_a_validation_error(api, pushed, path, cursor):
    response = api("get", path, pushed.key, data=None, QUERY_STRING=f"cursor={quote(cursor, safe='')}")
    error = _envelope(response, 400, "validation_error")
    assert list(error["fields"]) == ["cursor"]


# --- integers --------------------------------------------------------------------------------

# Past the documented 0..1,000,000, past PostgreSQL's integer and bigint, past SQLite's 64 bits.
TOO_BIG = [1_000_001, 2**31, 2**63, 10**20]


@pytest.mark.parametrize("accounts", [*TOO_BIG, -1, -(10**20)])
def test_accounts_out_of_range_is_a_validation_error(api, requested, each_database, accounts):
    platform, task = requested
    response = api("post", f"/api/v1/unbind-tasks/{task.pk}/result", platform.key,
                   {"status": "unbound", "accounts": accounts})
    assert "accounts" in _envelope(response, 400, "validation_error")["fields"]
    task.refresh_from_db()
    assert task.result == "" and task.accounts is None


def test_the_largest_accounts_count_is_accepted(api, requested, each_database):
    platform, task = requested
    response = api("post", f"/api/v1/unbind-tasks/{task.pk}/result", platform.key,
                   {"status": "unbound", "accounts": 1_000_000})
    assert response.status_code == 200 and response.json()["accounts"] == 1_000_000


@pytest.mark.parametrize("field", ["unbound", "not_found"])
@pytest.mark.parametrize("count", [*TOO_BIG, -1])
def test_confirm_counts_out_of_range_are_a_validation_error(api, pushed, each_database, field, count):
    delivery = Delivery.objects.get(platform=pushed)
    body = {"unbound": 0, "not_found": 3, field: count}
    response = api("post", f"/api/v1/deliveries/{delivery.pk}/confirm", pushed.key, body)
    assert field in _envelope(response, 400, "validation_error")["fields"]
    delivery.refresh_from_db()
    assert delivery.confirmed_at is None


@pytest.mark.parametrize("path", ["/api/v1/deliveries", "/api/v1/recycled-numbers"])
@pytest.mark.parametrize("limit", ["0", "-1", "1001", str(2**31), str(2**63), str(10**20), "9" * 5000, "1.5",
                                   "1e3", "1_000", " 5", "+5", "\u0665", "five"])
def test_a_limit_out_of_range_is_a_validation_error(api, pushed, each_database, path, limit):
    response = api("get", path, pushed.key, QUERY_STRING=f"limit={quote(limit, safe='')}")
    assert list(_envelope(response, 400, "validation_error")["fields"]) == ["limit"]


# --- deeply nested JSON ----------------------------------------------------------------------


def _post_endpoints(pushed, requested) -> list[tuple[str, str]]:
    platform, task = requested
    delivery = Delivery.objects.get(platform=pushed, event=DeliveryEvent.BATCH)
    return [(f"/api/v1/deliveries/{delivery.pk}/confirm", pushed.key),
            (f"/api/v1/unbind-tasks/{task.pk}/result", platform.key)]


@pytest.mark.parametrize("body", ["[" * 30_000, '{"a":' * 12_000, "[" * 30_000 + "]" * 30_000],
                         ids=["open brackets", "open objects", "balanced"])
def test_a_deeply_nested_body_is_invalid_json(api, pushed, requested, body):
    assert len(body.encode()) <= 64 * 1024  # under the body limit: the parser must refuse it itself
    for path, key in _post_endpoints(pushed, requested):
        error = _envelope(api("post", path, key, raw=body), 400, "invalid_json")
        assert "nested too deeply" in error["message"]


def test_every_api_view_parses_with_the_portal_parser():
    from django.urls import get_resolver
    from rest_framework.views import APIView

    from renewal.api.parsers import JSONParser

    def views(patterns):
        for pattern in patterns:
            if hasattr(pattern, "url_patterns"):
                yield from views(pattern.url_patterns)
            elif isinstance(getattr(pattern.callback, "view_class", None), type):
                yield pattern.callback.view_class

    from rest_framework.parsers import MultiPartParser

    from renewal.api.operators import FeedUploadView

    api_views = [v for v in views(get_resolver().url_patterns) if issubclass(v, APIView)]
    assert len(api_views) >= 4
    for view in api_views:
        # The feed upload takes a file (multipart) and nothing else.
        assert view.parser_classes == ([MultiPartParser] if view is FeedUploadView else [JSONParser]), view


# --- requests without a valid key ------------------------------------------------------------


@pytest.mark.parametrize("path", ["/api/v1/deliveries", "/api/v1/recycled-numbers", "/api/v1/schema"])
def test_requests_without_a_valid_key_are_throttled_per_address(api, pushed, settings, path):
    settings.RENEWAL_API_ANON_RATE = "3/min"
    # no key, a malformed header, a guessed key: each counts against the address
    _envelope(api("get", "/api/v1/deliveries"), 401, "not_authenticated")
    _envelope(api("get", "/api/v1/deliveries", HTTP_AUTHORIZATION="Basic abc"), 401, "not_authenticated")
    _envelope(api("get", "/api/v1/recycled-numbers", "rk_guess"), 401, "not_authenticated")

    response = api("get", path, "rk_another_guess")
    _envelope(response, 429, "throttled")
    assert int(response["Retry-After"]) > 0
    _envelope(api("get", path), 429, "throttled")
    # a valid key is counted per key, not against its address
    assert api("get", "/api/v1/deliveries", pushed.key).status_code == 200
    # another address has its own count
    _envelope(api("get", "/api/v1/deliveries", "rk_guess", REMOTE_ADDR="10.0.0.2"), 401, "not_authenticated")


def test_a_key_guesser_gets_429_after_the_limit(api, pushed, settings):
    settings.RENEWAL_API_ANON_RATE = "10/min"
    answers = [api("post", f"/api/v1/unbind-tasks/{_UUID}/result", f"rk_guess{i}", {"status": "nothing_bound"})
               .status_code for i in range(15)]
    assert answers == [401] * 10 + [429] * 5


def test_the_address_is_the_trusted_proxys_entry(api, pushed, settings):
    settings.RENEWAL_API_ANON_RATE = "1/min"
    settings.TRUSTED_PROXY_COUNT = 1
    proxy = {"REMOTE_ADDR": "10.0.0.1"}
    _envelope(api("get", "/api/v1/deliveries", "rk_guess", HTTP_X_FORWARDED_FOR="203.0.113.7", **proxy), 401,
              "not_authenticated")
    _envelope(api("get", "/api/v1/deliveries", "rk_guess", HTTP_X_FORWARDED_FOR="203.0.113.7", **proxy), 429,
              "throttled")
    # another client behind the same proxy is not held back
    _envelope(api("get", "/api/v1/deliveries", "rk_guess", HTTP_X_FORWARDED_FOR="203.0.113.8", **proxy), 401,
              "not_authenticated")


def test_the_counts_live_in_the_shared_cache(api, pushed, settings):
    from django.core.cache import cache

    settings.RENEWAL_API_ANON_RATE = "1/min"
    _envelope(api("get", "/api/v1/deliveries", "rk_guess"), 401, "not_authenticated")
    _envelope(api("get", "/api/v1/deliveries", "rk_guess"), 429, "throttled")
    cache.clear()  # what every web process reads: emptied, the address starts again
    _envelope(api("get", "/api/v1/deliveries", "rk_guess"), 401, "not_authenticated")
