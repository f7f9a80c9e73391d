"""The platform API: confirmations, paging, the error envelope for every error, scope, throttling."""

import json
from uuid import uuid4

import pytest
from django.test import override_settings

from renewal.deliveries import services
from renewal.models import Delivery, DeliveryEvent, DeliveryState
from renewal.platforms import services as platform_services
from tests.renewal.helpers_renewal import make_frozen_numbers, make_key, make_platform

pytestmark = pytest.mark.django_db


@pytest.fixture
def pushed(operator, django_capture_on_commit_callbacks):
    """Two pull-only platforms with keys, one batch of 3 numbers."""
    a, b = make_platform(name="Alipay"), make_platform(name="WeChat")
    a.key, b.key = make_key(a), make_key(b)
    make_frozen_numbers(operator, 3)
    with django_capture_on_commit_callbacks(execute=True):
        services.batch_sweep()
    return a, b


def _envelope(response, status, code):
    assert response.status_code == status, response.content
    body = response.json()
    assert set(body) == {"error"} and body["error"]["code"] == code and body["error"]["message"]
    assert isinstance(body["error"]["fields"], dict)
    return body["error"]


def test_confirm_rules(api, pushed):
    a, b = pushed
    d = Delivery.objects.get(platform=a)
    url = f"/api/v1/deliveries/{d.pk}/confirm"
    # counts must add up to the chunk size
    err = _envelope(api("post", url, a.key, {"unbound": 1, "not_found": 1}), 400, "validation_error")
    assert "unbound" in err["fields"]
    _envelope(api("post", url, a.key, {"unbound": -1, "not_found": 4}), 400, "validation_error")
    _envelope(api("post", url, a.key, {"unbound": "2", "not_found": 1}), 400, "validation_error")
    _envelope(api("post", url, a.key, {"unbound": 2}), 400, "validation_error")
    _envelope(api("post", url, a.key, raw="{not json"), 400, "invalid_json")
    _envelope(api("post", url, a.key, data=[1, 2]), 400, "validation_error")
    d.refresh_from_db()
    assert d.state == DeliveryState.SENT  # nothing half-written
    # accepted
    ok = api("post", url, a.key, {"unbound": 2, "not_found": 1})
    assert ok.status_code == 200 and ok.json()["state"] == "confirmed"
    # the same again: 200; different: 409
    assert api("post", url, a.key, {"unbound": 2, "not_found": 1}).status_code == 200
    _envelope(api("post", url, a.key, {"unbound": 3, "not_found": 0}), 409, "already_confirmed")
    d.refresh_from_db()
    assert (d.confirmed_unbound, d.confirmed_not_found) == (2, 1)
    assert d.chunk.deliveries_done == 1
    # another platform's delivery is a 404, never a 403; an unknown one too
    _envelope(api("post", url, b.key, {"unbound": 2, "not_found": 1}), 404, "not_found")
    _envelope(api("post", f"/api/v1/deliveries/{uuid4()}/confirm", a.key, {"unbound": 3, "not_found": 0}),
              404, "not_found")
    _envelope(api("post", "/api/v1/deliveries/not-a-uuid/confirm", a.key, {}), 404, "not_found")


@pytest.mark.parametrize("state", [DeliveryState.PENDING, DeliveryState.DEAD])
def test_confirm_accepted_from_pending_and_dead(api, pushed, state):
    a, _ = pushed
    d = Delivery.objects.get(platform=a)
    Delivery.objects.filter(pk=d.pk).update(state=state)
    assert api("post", f"/api/v1/deliveries/{d.pk}/confirm", a.key, {"unbound": 0, "not_found": 3}).status_code == 200


def test_confirm_an_unbind_delivery_is_wrong_event(api, pushed):
    a, _ = pushed
    d = Delivery.objects.create(event=DeliveryEvent.UNBIND, platform=a, created_at=Delivery.objects.get(platform=a)
                                .created_at)
    _envelope(api("post", f"/api/v1/deliveries/{d.pk}/confirm", a.key, {"unbound": 1, "not_found": 0}),
              409, "wrong_event")


def test_confirm_a_cancelled_delivery_is_409(api, pushed):
    a, _ = pushed
    platform_services.platform_set_status(platform=a, status="suspended")
    d = Delivery.objects.get(platform=a)
    Delivery.objects.filter(pk=d.pk).update(state=DeliveryState.CANCELLED)
    # a suspended platform's key still authenticates; its cancelled delivery cannot be confirmed
    _envelope(api("post", f"/api/v1/deliveries/{d.pk}/confirm", a.key, {"unbound": 0, "not_found": 3}),
              409, "cancelled")


def test_auth_scope_and_envelopes(api, pushed, operator):
    a, _ = pushed
    _envelope(api("get", "/api/v1/deliveries"), 401, "not_authenticated")
    _envelope(api("get", "/api/v1/deliveries", "rk_nonsense"), 401, "not_authenticated")
    response = api("get", "/api/v1/deliveries", HTTP_AUTHORIZATION="Basic abc")
    _envelope(response, 401, "not_authenticated")
    assert response["WWW-Authenticate"].startswith("Bearer")
    _envelope(api("get", "/api/v1/deliveries", make_key(operator=operator)), 403, "wrong_scope")
    _envelope(api("delete", "/api/v1/deliveries", a.key), 405, "method_not_allowed")
    _envelope(api("get", "/api/v1/no-such-thing", a.key), 404, "not_found")
    _envelope(api("get", "/api/v1/deliveries?limit=1001", a.key), 400, "validation_error")
    _envelope(api("get", "/api/v1/deliveries?limit=abc", a.key), 400, "validation_error")
    _envelope(api("get", "/api/v1/deliveries?cursor=%%%", a.key), 400, "validation_error")
    _envelope(api("get", "/api/v1/deliveries?state=lost", a.key), 400, "validation_error")
    big = json.dumps({"unbound": 1, "not_found": 2, "pad": "x" * 70000})
    d = Delivery.objects.get(platform=a)
    _envelope(api("post", f"/api/v1/deliveries/{d.pk}/confirm", a.key, raw=big), 413, "payload_too_large")


def test_revoked_key_is_refused(api, pushed):
    a, _ = pushed
    key = platform_services.api_key_authenticate(a.key)
    platform_services.api_key_revoke(key=key)
    _envelope(api("get", "/api/v1/deliveries", a.key), 401, "not_authenticated")


def test_keys_are_stored_as_prefix_and_sha256_only(pushed):
    import hashlib

    a, _ = pushed
    key = platform_services.api_key_authenticate(a.key)
    assert len(a.key) >= 3 + 43 and key.key_hash == hashlib.sha256(a.key.encode()).hexdigest()
    assert a.key.startswith(key.prefix) and a.key not in str(key.__dict__)


@override_settings(RENEWAL_API_RATE="3/min")
def test_throttled_per_key_with_retry_after(api, pushed):
    a, b = pushed
    for _ in range(3):
        assert api("get", "/api/v1/deliveries", a.key).status_code == 200
    response = api("get", "/api/v1/deliveries", a.key)
    _envelope(response, 429, "throttled")
    assert int(response["Retry-After"]) > 0
    assert api("get", "/api/v1/deliveries", b.key).status_code == 200  # another key has its own count


def test_deliveries_list_carries_bodies(api, pushed):
    a, _ = pushed
    response = api("get", "/api/v1/deliveries", a.key)
    assert response.status_code == 200
    page = json.loads(b"".join(response.streaming_content))
    [item] = page["results"]
    assert page["next_cursor"] is None
    assert item["state"] == "sent" and item["event"] == "recycled_numbers.batch"
    body = item["body"]
    assert list(body) == ["event", "delivery_id", "operator", "numbers"]
    assert body["delivery_id"] == item["id"] and body["operator"] == "CMCC" and len(body["numbers"]) == 3
    number = body["numbers"][0]
    assert number["msisdn"].startswith("+86") and number["disconnected_at"].endswith("+08:00")
    assert len(number["release_not_before"]) == 10


def test_cursor_paging_is_stable_under_inserts(api, operator, other_operator, django_capture_on_commit_callbacks):
    platform = make_platform()
    key = make_key(platform)
    make_frozen_numbers(operator, 25)
    with override_settings(RENEWAL_CHUNK_SIZE=5), django_capture_on_commit_callbacks(execute=True):
        services.batch_sweep()  # 5 deliveries
    seen, cursor, inserted = [], None, False
    while True:
        url = "/api/v1/deliveries?limit=2" + (f"&cursor={cursor}" if cursor else "")
        page = json.loads(b"".join(api("get", url, key).streaming_content))
        seen += [r["id"] for r in page["results"]]
        if not inserted:  # new deliveries arrive between pages
            make_frozen_numbers(other_operator, 10)
            with override_settings(RENEWAL_CHUNK_SIZE=5), django_capture_on_commit_callbacks(execute=True):
                services.batch_sweep()
            inserted = True
        cursor = page["next_cursor"]
        if not cursor:
            break
    expected = [str(i) for i in Delivery.objects.filter(platform=platform).order_by("created_at", "id")
                .values_list("id", flat=True)]
    assert seen == expected and len(seen) == 7  # no duplicate, nothing skipped, oldest first
    # filtered by state
    page = json.loads(b"".join(api("get", "/api/v1/deliveries?state=confirmed", key).streaming_content))
    assert page == {"results": [], "next_cursor": None}


def test_recycled_numbers(api, pushed, operator):
    a, b = pushed
    response = api("get", "/api/v1/recycled-numbers?limit=2", a.key)
    page = response.json()
    assert len(page["results"]) == 2 and page["next_cursor"]
    rest = api("get", f"/api/v1/recycled-numbers?cursor={page['next_cursor']}", a.key).json()
    assert len(rest["results"]) == 1 and rest["next_cursor"] is None
    item = rest["results"][0]
    assert set(item) == {"msisdn", "disconnected_at", "release_not_before", "delivery_id"}
    assert item["delivery_id"] == str(Delivery.objects.get(platform=a).pk)
    # a platform added after the batch was not sent these numbers
    late = make_platform(name="Late")
    assert api("get", "/api/v1/recycled-numbers", make_key(late)).json()["results"] == []


def test_schema_and_offline_docs(client):
    schema = client.get("/api/v1/schema", HTTP_ACCEPT="application/vnd.oai.openapi+json")
    assert schema.status_code == 200
    assert "/api/v1/deliveries/{delivery_id}/confirm" in schema.json()["paths"]
    docs = client.get("/api/v1/docs")
    assert docs.status_code == 200
    html = docs.content.decode()
    assert "drf_spectacular_sidecar/swagger-ui-dist" in html and "cdn" not in html.lower()


@pytest.mark.parametrize("debug", [False, True])
def test_unknown_paths_and_plain_views_answer_with_the_envelope(client, settings, debug):
    settings.DEBUG = debug  # under DEBUG Django would show its technical 404 page
    _envelope(client.get("/api/v1/nothing/here"), 404, "not_found")
    response = client.post("/api/v1/health")
    _envelope(response, 405, "method_not_allowed")
    assert "GET" in response["Allow"]
    assert client.get("/no-such-page/").status_code == 404  # pages keep Django's 404
    assert not client.get("/no-such-page/")["Content-Type"].startswith("application/json")


def test_recycled_numbers_show_an_extended_freeze_and_drop_released_numbers(api, pushed, regulator):

    from numbers.models import PhoneNumber, State
    from numbers.services import risk_mark_place

    a, _ = pushed
    number = PhoneNumber.objects.order_by("id").first()
    before = {r["msisdn"]: r for r in api("get", "/api/v1/recycled-numbers", a.key).json()["results"]}
    risk_mark_place(number=number, category="fraud", authority="MIIT", effect="extend", extra_days=30,
                    actor=regulator)
    number.refresh_from_db()
    after = {r["msisdn"]: r for r in api("get", "/api/v1/recycled-numbers", a.key).json()["results"]}
    assert after[number.msisdn]["release_not_before"] != before[number.msisdn]["release_not_before"]
    PhoneNumber.objects.filter(pk=number.pk).update(state=State.AVAILABLE, released_at=number.frozen_until)
    left = [r["msisdn"] for r in api("get", "/api/v1/recycled-numbers", a.key).json()["results"]]
    assert number.msisdn not in left and len(left) == 2
