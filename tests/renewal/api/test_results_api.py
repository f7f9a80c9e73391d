"""`POST /api/v1/deliveries/{id}/results`: many tasks' results of one unbind delivery in one call, item by item."""

import json
from datetime import timedelta
from uuid import uuid4

import pytest
from django.utils import timezone

from numbers.models import HolderPeriod, PhoneNumber, State
from renewal.active import services as unbind
from renewal.deliveries import unbind as coalescer
from renewal.models import Delivery, DeliveryEvent, DeliveryState, UnbindRequest, UnbindTask
from tests.factories import next_msisdn
from tests.renewal.helpers_renewal import make_frozen_numbers, make_key, make_platform
from tests.renewal.helpers_subscriber import allocated

pytestmark = pytest.mark.django_db


@pytest.fixture
def three_requests(operator, outlet, clerk):
    """Two pull-only live platforms with keys; three unbind-all requests coalesced into one delivery each."""
    a, b = make_platform(name="Alipay"), make_platform(name="Weibo")
    a.key, b.key = make_key(a), make_key(b)
    requests = [unbind.unbind_request_create(period=allocated(operator, outlet, clerk)[1]) for _ in range(3)]
    coalescer.unbind_coalesce()
    return a, b, requests


def _url(delivery_id) -> str:
    return f"/api/v1/deliveries/{delivery_id}/results"


def _delivery(platform) -> Delivery:
    return Delivery.objects.get(platform=platform, event=DeliveryEvent.UNBIND)


def _tasks(platform) -> list[UnbindTask]:
    return list(UnbindTask.objects.filter(platform=platform).order_by("created_at", "id"))


def _envelope(response, status, code):
    assert response.status_code == status, response.content
    body = response.json()
    assert set(body) == {"error"} and body["error"]["code"] == code and body["error"]["message"]
    return body["error"]


def test_mixed_good_and_bad_items_are_answered_one_by_one_in_request_order(
        api, three_requests, django_capture_on_commit_callbacks):
    a, b, requests = three_requests
    t1, t2, t3 = _tasks(a)
    (other_platforms_task, *_) = _tasks(b)
    items = [
        {"task_id": str(t1.pk), "status": "unbound", "accounts": 2, "detail": "two accounts"},
        {"task_id": str(other_platforms_task.pk), "status": "nothing_bound"},  # another platform's: not found
        {"task_id": str(t2.pk), "status": "rejected"},  # no reason
        {"task_id": str(uuid4()), "status": "nothing_bound"},  # unknown
        "not an object",
        {"task_id": "not-a-uuid", "status": "unbound", "accounts": 1},
        {"task_id": str(t2.pk), "status": "rejected", "reason": "legal_hold", "detail": "court order 2026-1"},
        {"task_id": str(t3.pk), "status": "unbound", "accounts": "3"},  # a count must be a JSON integer
    ]
    with django_capture_on_commit_callbacks(execute=True):
        response = api("post", _url(_delivery(a).pk), a.key, {"items": items}, HTTP_ACCEPT_LANGUAGE="en")
    assert response.status_code == 200, response.content
    results = response.json()["results"]
    assert [r["index"] for r in results] == list(range(len(items)))
    ok = {r["index"]: r for r in results if "error" not in r}
    errors = {r["index"]: r["error"] for r in results if "error" in r}
    assert set(ok) == {0, 6}
    assert ok[0]["task_id"] == str(t1.pk) and (ok[0]["status"], ok[0]["accounts"], ok[0]["reason"]) == (
        "unbound", 2, "")
    assert (ok[6]["status"], ok[6]["reason"], ok[6]["detail"]) == ("rejected", "legal_hold", "court order 2026-1")
    assert {i: e["code"] for i, e in errors.items()} == {
        1: "not_found", 2: "validation_error", 3: "not_found", 4: "validation_error", 5: "validation_error",
        7: "validation_error"}
    assert "reason" in errors[2]["fields"] and "task_id" in errors[5]["fields"] and "accounts" in errors[7]["fields"]
    # what was good is recorded, nothing else
    t1.refresh_from_db(), t2.refresh_from_db(), t3.refresh_from_db(), other_platforms_task.refresh_from_db()
    assert (t1.result, t1.accounts) == ("unbound", 2) and (t2.result, t2.reason) == ("rejected", "legal_hold")
    assert t3.result == "" and other_platforms_task.result == ""
    assert _delivery(a).state == DeliveryState.SENT  # t3 is still open


def test_a_repeat_is_the_same_result_when_status_accounts_and_reason_are_equal(
        api, three_requests, django_capture_on_commit_callbacks):
    a, _, requests = three_requests
    t1, t2, t3 = _tasks(a)
    items = [{"task_id": str(t1.pk), "status": "unbound", "accounts": 1},
             {"task_id": str(t2.pk), "status": "rejected", "reason": "enterprise_account", "detail": "first words"},
             {"task_id": str(t3.pk), "status": "nothing_bound"}]
    with django_capture_on_commit_callbacks(execute=True):
        first = api("post", _url(_delivery(a).pk), a.key, {"items": items}).json()["results"]
    assert all("error" not in r for r in first)
    delivery = _delivery(a)
    assert delivery.state == DeliveryState.CONFIRMED  # every task of it has a result
    reported_at = {t.pk: t.reported_at for t in _tasks(a)}
    # the same again, the detail worded otherwise: the same result, nothing changes
    items[1]["detail"] = "other words"
    again = api("post", _url(delivery.pk), a.key, {"items": items}).json()["results"]
    assert again == first
    assert {t.pk: t.reported_at for t in _tasks(a)} == reported_at
    assert UnbindTask.objects.get(pk=t2.pk).detail == "first words"
    # a different reason, or different accounts, is already_reported; the rest of the call still goes through
    changed = [{"task_id": str(t1.pk), "status": "unbound", "accounts": 2},
               {"task_id": str(t2.pk), "status": "rejected", "reason": "legal_hold"},
               {"task_id": str(t3.pk), "status": "nothing_bound"}]
    results = api("post", _url(delivery.pk), a.key, {"items": changed}).json()["results"]
    assert [r.get("error", {}).get("code") for r in results] == ["already_reported", "already_reported", None]
    assert UnbindTask.objects.get(pk=t1.pk).accounts == 1
    assert UnbindTask.objects.get(pk=t2.pk).reason == "enterprise_account"


def test_the_same_task_twice_in_one_call(api, three_requests):
    a, _, _ = three_requests
    t1, *_ = _tasks(a)
    items = [{"task_id": str(t1.pk), "status": "nothing_bound"}, {"task_id": str(t1.pk), "status": "nothing_bound"},
             {"task_id": str(t1.pk), "status": "unbound", "accounts": 1}]
    results = api("post", _url(_delivery(a).pk), a.key, {"items": items}).json()["results"]
    assert [r.get("error", {}).get("code") for r in results] == [None, None, "already_reported"]
    assert UnbindTask.objects.get(pk=t1.pk).result == "nothing_bound"


def test_answers_finish_every_request_and_confirm_the_delivery(api, three_requests,
                                                                django_capture_on_commit_callbacks):
    a, b, requests = three_requests
    for platform in (a, b):
        items = [{"task_id": str(t.pk), "status": "nothing_bound"} for t in _tasks(platform)]
        with django_capture_on_commit_callbacks(execute=True):
            assert api("post", _url(_delivery(platform).pk), platform.key, {"items": items}).status_code == 200
    assert not UnbindRequest.objects.filter(finished_at__isnull=True).exists()
    assert set(Delivery.objects.values_list("state", flat=True)) == {DeliveryState.CONFIRMED}


def test_a_call_is_refused_as_a_whole_when_it_is_not_a_call_of_items(api, three_requests):
    a, b, _ = three_requests
    url = _url(_delivery(a).pk)
    for raw in ("{", json.dumps([1]), json.dumps({"items": {}}), json.dumps({"items": []}), json.dumps({})):
        error = _envelope(api("post", url, a.key, raw=raw), 400, "invalid_json" if raw == "{" else "validation_error")
        assert raw == "{" or "items" in error["fields"]
    too_many = [{"task_id": str(uuid4()), "status": "nothing_bound"}] * 1001
    _envelope(api("post", url, a.key, {"items": too_many}), 400, "too_many_items")
    # another platform's delivery, an unknown one: 404, never 403; a batch delivery: 409 wrong_event
    _envelope(api("post", url, b.key, {"items": [{"task_id": str(uuid4()), "status": "nothing_bound"}]}), 404,
              "not_found")
    _envelope(api("post", _url(uuid4()), a.key, {"items": [{"task_id": str(uuid4()), "status": "unbound"}]}), 404,
              "not_found")
    assert not UnbindTask.objects.exclude(result="").exists()


def test_a_batch_delivery_is_wrong_event(api, operator, django_capture_on_commit_callbacks):
    from renewal.deliveries import services

    platform = make_platform()
    key = make_key(platform)
    make_frozen_numbers(operator, 2)
    with django_capture_on_commit_callbacks(execute=False):
        services.batch_sweep()
    batch = Delivery.objects.get()
    _envelope(api("post", _url(batch.pk), key, {"items": [{"task_id": str(uuid4()), "status": "nothing_bound"}]}),
              409, "wrong_event")


def _requests_in_bulk(operator, platform, count: int) -> None:
    """`count` running unbind requests of as many held numbers, each with its task for `platform` (set-based)."""
    now = timezone.now()
    numbers = PhoneNumber.objects.bulk_create([
        PhoneNumber(msisdn=next_msisdn(), range_holder=operator, serving_operator=operator, state=State.ACTIVE)
        for _ in range(count)])
    periods = HolderPeriod.objects.bulk_create([
        HolderPeriod(number=n, operator=operator, started_at=now - timedelta(days=30)) for n in numbers])
    requests = UnbindRequest.objects.bulk_create([
        UnbindRequest(number=n, holder_period=p, bound_before=p.started_at, created_at=now)
        for n, p in zip(numbers, periods, strict=True)])
    UnbindTask.objects.bulk_create([UnbindTask(request=r, platform=platform, created_at=now,
                                               deadline_at=now + timedelta(days=1)) for r in requests])


def test_a_thousand_maximal_items_fit_in_the_body_limit_and_more_is_413(api, operator, settings,
                                                                       django_capture_on_commit_callbacks):
    platform = make_platform()
    key = make_key(platform)
    _requests_in_bulk(operator, platform, 1000)
    (delivery_id,) = coalescer.unbind_coalesce()
    tasks = _tasks(platform)
    items = [{"task_id": str(t.pk), "status": "rejected", "accounts": 1_000_000, "reason": "identity_check_required",
              "detail": "x" * 500} for t in tasks]
    raw = json.dumps({"items": items}, separators=(", ", ": "))  # with the spaces a careless client sends
    assert 500_000 < len(raw) <= settings.API_MAX_ITEMS_BODY_BYTES
    with django_capture_on_commit_callbacks(execute=True):
        response = api("post", _url(delivery_id), key, raw=raw)
    assert response.status_code == 200, response.content[:500]
    assert [r["index"] for r in response.json()["results"]] == list(range(1000))
    assert all("error" not in r for r in response.json()["results"])
    assert UnbindTask.objects.filter(result="rejected", reason="identity_check_required").count() == 1000
    assert Delivery.objects.get(pk=delivery_id).state == DeliveryState.CONFIRMED
    assert not UnbindRequest.objects.filter(finished_at__isnull=True).exists()
    # past 1 MiB: 413, and the other JSON endpoints keep 64 KiB
    padded = raw[:-2] + " " * (settings.API_MAX_ITEMS_BODY_BYTES - len(raw) + 1) + raw[-2:]
    _envelope(api("post", _url(delivery_id), key, raw=padded), 413, "payload_too_large")
    task = tasks[0]
    big = json.dumps({"status": "nothing_bound", "detail": "x" * 70_000})
    _envelope(api("post", f"/api/v1/unbind-tasks/{task.pk}/result", key, raw=big), 413, "payload_too_large")


def test_the_results_endpoint_and_the_webhooks_are_in_the_schema(client):
    schema = client.get("/api/v1/schema", HTTP_ACCEPT="application/vnd.oai.openapi+json").json()
    assert schema["openapi"].startswith("3.1")
    operation = schema["paths"]["/api/v1/deliveries/{delivery_id}/results"]["post"]
    assert "200" in operation["responses"] and "413" in operation["responses"]
    assert set(schema["webhooks"]) == {"recycled_numbers.batch", "unbind.request", "ping"}
    for name, webhook in schema["webhooks"].items():
        post = webhook["post"]
        headers = {p["name"] for p in post["parameters"] if p["in"] == "header"}
        assert headers == {"webhook-id", "webhook-timestamp", "webhook-signature", "X-Renewal-Event"}
        body = post["requestBody"]["content"]["application/json"]
        assert body["schema"]["properties"]["event"] == {"const": name}
        assert body["examples"]["example"]["value"]["event"] == name
