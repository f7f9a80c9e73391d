"""`POST /api/v1/unbind-tasks/{id}/result` and unbind deliveries through the platform API."""

import json
from uuid import uuid4

import pytest

from renewal.active import services as unbind
from renewal.deliveries import unbind as coalescer
from renewal.models import Delivery, DeliveryState, UnbindTask
from tests.renewal.helpers_renewal import make_key, make_platform

pytestmark = pytest.mark.django_db


@pytest.fixture
def requested(holder):
    """Two pull-only live platforms with keys, one unbind-all request, coalesced."""
    _, period = holder
    a, b = make_platform(name="Alipay"), make_platform(name="Tag Co", kind="tag_provider", category="number_tags")
    a.key, b.key = make_key(a), make_key(b)
    request = unbind.unbind_request_create(period=period)
    coalescer.unbind_coalesce()
    return a, b, request


def _envelope(response, status, code):
    assert response.status_code == status, response.content
    body = response.json()
    assert set(body) == {"error"} and body["error"]["code"] == code and body["error"]["message"]
    assert isinstance(body["error"]["fields"], dict)
    return body["error"]


def _url(task) -> str:
    return f"/api/v1/unbind-tasks/{task.pk}/result"


def test_a_result_is_recorded_and_the_same_again_is_harmless(api, requested, django_capture_on_commit_callbacks):
    a, _, request = requested
    task = request.tasks.get(platform=a)
    with django_capture_on_commit_callbacks(execute=True):  # the delivery is confirmed after commit
        response = api("post", _url(task), a.key, {"status": "unbound", "accounts": 2, "detail": "2 accounts"})
    assert response.status_code == 200, response.content
    body = response.json()
    assert body["status"] == "unbound" and body["accounts"] == 2 and body["id"] == str(task.pk)
    again = api("post", _url(task), a.key, {"status": "unbound", "accounts": 2, "detail": "2 accounts"})
    assert again.status_code == 200 and again.json() == body
    error = _envelope(api("post", _url(task), a.key, {"status": "nothing_bound"}, HTTP_ACCEPT_LANGUAGE="en"), 409,
                      "already_reported")
    assert "different result" in error["message"]
    task.refresh_from_db()
    assert (task.result, task.accounts) == ("unbound", 2)
    # every task of the delivery has a result: the delivery is confirmed
    assert Delivery.objects.get(pk=task.delivery_id).state == DeliveryState.CONFIRMED


def test_another_platforms_task_is_404_and_unknown_too(api, requested):
    a, b, request = requested
    task = request.tasks.get(platform=a)
    _envelope(api("post", _url(task), b.key, {"status": "unbound", "accounts": 1}), 404, "not_found")
    _envelope(api("post", f"/api/v1/unbind-tasks/{uuid4()}/result", a.key, {"status": "nothing_bound"}), 404,
              "not_found")
    _envelope(api("post", "/api/v1/unbind-tasks/not-a-uuid/result", a.key, {"status": "nothing_bound"}), 404,
              "not_found")
    task.refresh_from_db()
    assert task.result == ""


def test_auth_and_scope(api, requested, operator):
    a, _, request = requested
    task = request.tasks.get(platform=a)
    _envelope(api("post", _url(task), None, {"status": "nothing_bound"}), 401, "not_authenticated")
    _envelope(api("post", _url(task), "nonsense", {"status": "nothing_bound"}), 401, "not_authenticated")
    _envelope(api("post", _url(task), make_key(operator=operator), {"status": "nothing_bound"}), 403, "wrong_scope")
    _envelope(api("get", _url(task), a.key), 405, "method_not_allowed")


@pytest.mark.parametrize("raw,code,field", [
    ("{not json", "invalid_json", None),
    ("[1, 2]", "validation_error", None),
    (json.dumps({"status": "done"}), "validation_error", "status"),
    (json.dumps({}), "validation_error", "status"),
    (json.dumps({"status": "no_answer"}), "validation_error", "status"),
    (json.dumps({"status": "unbound"}), "validation_error", "accounts"),
    (json.dumps({"status": "unbound", "accounts": "3"}), "validation_error", "accounts"),
    (json.dumps({"status": "unbound", "accounts": 1.5}), "validation_error", "accounts"),
    (json.dumps({"status": "unbound", "accounts": -1}), "validation_error", "accounts"),
    (json.dumps({"status": "rejected"}), "validation_error", "reason"),
    (json.dumps({"status": "rejected", "reason": "because"}), "validation_error", "reason"),
    (json.dumps({"status": "unbound", "accounts": 1, "reason": "other"}), "validation_error", "reason"),
    (json.dumps({"status": "rejected", "detail": "x" * 501}), "validation_error", "detail"),
])
def test_bad_bodies_are_400_in_the_envelope_and_change_nothing(api, requested, raw, code, field):
    a, _, request = requested
    task = request.tasks.get(platform=a)
    error = _envelope(api("post", _url(task), a.key, raw=raw), 400, code)
    if field:
        assert field in error["fields"]
    task.refresh_from_db()
    assert task.result == "" and task.reported_at is None


def test_a_too_large_body_is_413(api, requested):
    a, _, request = requested
    task = request.tasks.get(platform=a)
    raw = json.dumps({"status": "rejected", "detail": "x" * 70_000})
    _envelope(api("post", _url(task), a.key, raw=raw), 413, "payload_too_large")


def test_pull_only_platforms_read_unbind_deliveries_and_confirm_is_wrong_event(api, requested, holder):
    _, period = holder
    a, b, request = requested
    response = api("get", "/api/v1/deliveries", b.key)
    assert response.status_code == 200
    (item,) = json.loads(b"".join(response.streaming_content))["results"]
    assert item["event"] == "unbind.request" and item["state"] == "sent"
    (task,) = item["body"]["tasks"]
    assert task["task_id"] == str(request.tasks.get(platform=b).pk) and task["kinds"] == ["tag"]
    assert task["msisdn"] == period.number.msisdn and task["bound_before"].endswith("+08:00")
    _envelope(api("post", f"/api/v1/deliveries/{item['id']}/confirm", b.key, {"unbound": 1, "not_found": 0}), 409,
              "wrong_event")


def test_the_result_endpoint_is_in_the_schema(client):
    schema = client.get("/api/v1/schema", HTTP_ACCEPT="application/json")
    assert schema.status_code == 200
    assert "/api/v1/unbind-tasks/{task_id}/result" in schema.content.decode()


def test_all_answers_finish_the_request(api, requested, django_capture_on_commit_callbacks):
    a, b, request = requested
    for platform in (a, b):
        task = UnbindTask.objects.get(request=request, platform=platform)
        with django_capture_on_commit_callbacks(execute=True):
            assert api("post", _url(task), platform.key, {"status": "nothing_bound"}).status_code == 200
    request.refresh_from_db()
    assert request.finished_at is not None
