"""The operator endpoints: cancellations as JSON items, feed files and their reports, and the scopes both ways."""

from datetime import timedelta

import pytest
from django.core.files.uploadedfile import SimpleUploadedFile
from django.utils import timezone

# The web process enqueues the import by the task's name; importing the task registers it, so that tests run it
# eagerly (a worker finds it by autodiscovery).
import numbers.feeds.tasks  # noqa: F401
from numbers.models import AuditEntry, EventKind, FeedStatus, FeedUpload, PhoneNumber, State
from numbers.services import number_allocate
from tests.factories import PhoneNumberFactory
from tests.numbers.feeds.helpers_feed import FEED_HEADER, local, snapshot
from tests.renewal.helpers_renewal import make_key, make_platform

pytestmark = pytest.mark.django_db


@pytest.fixture
def private(settings, tmp_path):
    settings.PRIVATE_FILES_ROOT = tmp_path / "private"
    return settings.PRIVATE_FILES_ROOT


@pytest.fixture
def op_key(operator):
    return make_key(operator=operator)


@pytest.fixture
def platform_key():
    return make_key(platform=make_platform(name="Alipay"))


def _active(operator, outlet, clerk, days=30):
    number = PhoneNumberFactory(range_holder=operator)
    number_allocate(number=number, outlet=outlet, staff=clerk, customer_ref="C-1", disclosure=None,
                    now=timezone.now() - timedelta(days=days))
    number.refresh_from_db()
    return number


def _error(response, status, code):
    assert response.status_code == status, response.content
    assert response.json()["error"]["code"] == code
    return response.json()["error"]


def test_cancellations_answer_every_item_in_request_order_with_the_feeds_codes(
        api, operator, other_operator, outlet, clerk, op_key):
    # given active numbers of the key's operator, one of another operator, and a port target
    mine, ported, again = (_active(operator, outlet, clerk) for _ in range(3))
    theirs = PhoneNumberFactory(range_holder=other_operator)
    yesterday = local(timezone.now() - timedelta(days=1))
    items = [
        {"msisdn": mine.msisdn, "cancelled_at": yesterday},
        {"msisdn": ported.msisdn[3:], "cancelled_at": yesterday, "reason": "port_out", "to_operator": "CUCC"},
        {"msisdn": "+8613999999999", "cancelled_at": yesterday},
        {"msisdn": theirs.msisdn, "cancelled_at": yesterday},
        {"msisdn": "12", "cancelled_at": yesterday},
        {"msisdn": again.msisdn, "cancelled_at": local(timezone.now() + timedelta(days=2))},
        {"msisdn": mine.msisdn, "cancelled_at": yesterday},
        {"msisdn": again.msisdn},
        "not an object",
        {"msisdn": again.msisdn, "cancelled_at": yesterday, "to_operator": "CU\x00CC"},
    ]
    before = snapshot()

    # when the back office asks for a dry run first
    dry = api("post", "/api/v1/cancellations", op_key, {"items": items, "dry_run": True})

    # then every item is answered in order, and nothing changed
    assert dry.status_code == 200, dry.content
    body = dry.json()
    assert body["dry_run"] is True
    results = body["results"]
    assert [r["index"] for r in results] == list(range(len(items)))
    assert [r.get("outcome") or r["error"]["code"] for r in results] == [
        "applied", "applied", "unknown_number", "wrong_operator", "invalid_msisdn", "future_time", "applied",
        "invalid_line", "invalid_line", "invalid_line"]
    assert results[6]["duplicate_of"] == 0
    assert all(r["error"]["message"] for r in results if "error" in r)
    assert body["counts"] == {"items": 10, "applied": 2, "already_applied": 0, "duplicates": 1, "rejected": 7,
                              "rejected_by_reason": {"future_time": 1, "invalid_line": 3, "invalid_msisdn": 1,
                                                     "unknown_number": 1, "wrong_operator": 1}}
    assert snapshot() == before

    # when it sends them for real, then twice
    real = api("post", "/api/v1/cancellations", op_key, {"items": items[:2]})
    repeat = api("post", "/api/v1/cancellations", op_key, {"items": items[:2]})

    # then the first applies, the second finds them already applied
    assert [r["outcome"] for r in real.json()["results"]] == ["applied", "applied"]
    assert [r["outcome"] for r in repeat.json()["results"]] == ["already_applied", "already_applied"]
    mine.refresh_from_db()
    ported.refresh_from_db()
    assert mine.state == State.FROZEN
    assert (ported.state, ported.serving_operator.code) == (State.ACTIVE, "CUCC")
    cancel = mine.events.get(kind=EventKind.CANCEL)
    assert cancel.actor.startswith("api key rk_")

    # and each call is in the audit trail under the key that made it, the dry run marked as one
    calls = AuditEntry.objects.filter(action="cancellations_report").order_by("id")
    assert [(c.actor_name, c.object_repr, c.detail["dry_run"], c.detail["applied"], c.detail["items"])
            for c in calls] == [(cancel.actor, str(operator), True, 2, 10), (cancel.actor, str(operator), False, 2, 2),
                                (cancel.actor, str(operator), False, 0, 2)]
    assert calls[0].detail["rejected_by_reason"]["unknown_number"] == 1 and calls[0].detail["operator"] == "CMCC"


def test_cancellations_refuse_malformed_calls_as_a_whole(api, op_key):
    msisdn = {"msisdn": "+8613800000000", "cancelled_at": "2026-01-01T00:00:00+08:00"}
    _error(api("post", "/api/v1/cancellations", op_key, {"items": [msisdn] * 1001}), 400, "too_many_items")
    _error(api("post", "/api/v1/cancellations", op_key, {"items": []}), 400, "validation_error")
    _error(api("post", "/api/v1/cancellations", op_key, [msisdn]), 400, "validation_error")
    _error(api("post", "/api/v1/cancellations", op_key, {"items": [msisdn], "dry_run": "yes"}), 400,
           "validation_error")
    _error(api("post", "/api/v1/cancellations", op_key, raw="{nope"), 400, "invalid_json")


def test_a_thousand_items_are_one_call(api, operator, op_key):
    items = [{"msisdn": f"+86139{i:08d}", "cancelled_at": "2026-01-01T00:00:00+08:00"} for i in range(1000)]
    response = api("post", "/api/v1/cancellations", op_key, {"items": items, "dry_run": True})
    assert response.status_code == 200
    assert response.json()["counts"]["rejected_by_reason"] == {"unknown_number": 1000}


def test_scopes_both_ways(api, operator, op_key, platform_key):
    # A platform key cannot report cancellations or upload feeds.
    item = {"items": [{"msisdn": "+8613800000000", "cancelled_at": "2026-01-01T00:00:00+08:00"}]}
    _error(api("post", "/api/v1/cancellations", platform_key, item), 403, "wrong_scope")
    _error(api("post", "/api/v1/feeds", platform_key), 403, "wrong_scope")
    _error(api("get", "/api/v1/feeds/1", platform_key), 403, "wrong_scope")
    _error(api("get", "/api/v1/feeds/1/report", platform_key), 403, "wrong_scope")
    # An operator key cannot pull, confirm or report results of deliveries.
    some = "0b6f1c2e-3d4a-4b5c-8d6e-7f8091a2b3c4"
    _error(api("get", "/api/v1/deliveries", op_key), 403, "wrong_scope")
    _error(api("get", "/api/v1/recycled-numbers", op_key), 403, "wrong_scope")
    _error(api("post", f"/api/v1/deliveries/{some}/confirm", op_key, {"unbound": 1, "not_found": 0}), 403,
           "wrong_scope")
    _error(api("post", f"/api/v1/deliveries/{some}/results", op_key, {"items": []}), 403, "wrong_scope")
    _error(api("post", f"/api/v1/unbind-tasks/{some}/result", op_key, {"status": "nothing_bound"}), 403,
           "wrong_scope")
    # Without a key: 401.
    _error(api("post", "/api/v1/cancellations", None, item), 401, "not_authenticated")


def _upload(client, key, content: bytes, **fields):
    data = {"kind": "cancellations", "file": SimpleUploadedFile("feed.csv", content, "text/csv"), **fields}
    return client.post("/api/v1/feeds", data, HTTP_AUTHORIZATION=f"Bearer {key}")


def test_a_feed_file_uploaded_is_imported_and_reported(
        client, api, operator, other_operator, outlet, clerk, op_key, private, django_capture_on_commit_callbacks):
    # given a file with one good line and 120 unknown numbers
    number = _active(operator, outlet, clerk)
    when = local(timezone.now() - timedelta(days=1))
    unknown = "".join(f"+86139{i:08d},{when},,\n" for i in range(120))
    content = f"{FEED_HEADER}\n{number.msisdn},{when},,\n{unknown}".encode()

    # when the back office uploads it
    with django_capture_on_commit_callbacks(execute=True) as callbacks:
        response = _upload(client, op_key, content)

    # then it is accepted (202 with its id) and imported in the background
    assert response.status_code == 202, response.content
    assert len(callbacks) == 1
    feed_id = response.json()["id"]
    assert response["Location"] == f"/api/v1/feeds/{feed_id}"
    upload = FeedUpload.objects.get(pk=feed_id)
    assert (upload.operator, upload.uploaded_by, upload.status) == (operator, None, FeedStatus.DONE)
    audit = AuditEntry.objects.get(action="feed_upload")
    assert audit.actor_name.startswith("api key rk_") and audit.detail["kind"] == "cancellations"
    number.refresh_from_db()
    assert number.state == State.FROZEN

    status = api("get", f"/api/v1/feeds/{feed_id}", op_key).json()
    assert (status["state"], status["kind"], status["dry_run"]) == ("done", "cancellations", False)
    assert status["progress"] == {"processed": 121, "lines": 121}
    assert status["counts"] == {"applied": 1, "already_applied": 0, "duplicates": 0, "rejected": 120,
                                "rejected_by_reason": {"unknown_number": 120}}
    assert len(status["rejected_lines"]) == 100  # the first hundred; the report has them all
    assert status["rejected_lines"][0] == {"line": 3, "msisdn": "+8613900000000", "reason": "unknown_number",
                                           "message": status["rejected_lines"][0]["message"]}
    assert status["report_url"] == f"http://testserver/api/v1/feeds/{feed_id}/report"

    report = client.get(status["report_url"], HTTP_AUTHORIZATION=f"Bearer {op_key}")
    assert report.status_code == 200 and report["Content-Type"].startswith("text/csv")
    lines = b"".join(report.streaming_content).decode().splitlines()
    assert sum(",rejected,unknown_number," in line for line in lines) == 120

    # another operator's key sees none of it (404, never 403)
    theirs = make_key(operator=other_operator)
    _error(api("get", f"/api/v1/feeds/{feed_id}", theirs), 404, "not_found")
    _error(api("get", f"/api/v1/feeds/{feed_id}/report", theirs), 404, "not_found")
    assert client.get(status["report_url"]).status_code == 401


def test_a_dry_run_upload_changes_nothing(client, api, operator, outlet, clerk, op_key, private,
                                          django_capture_on_commit_callbacks):
    number = _active(operator, outlet, clerk)
    content = f"{FEED_HEADER}\n{number.msisdn},{local(timezone.now())},,\n".encode()
    with django_capture_on_commit_callbacks(execute=True):
        response = _upload(client, op_key, content, dry_run="true")
    assert response.status_code == 202
    status = api("get", f"/api/v1/feeds/{response.json()['id']}", op_key).json()
    assert status["dry_run"] is True and status["counts"]["applied"] == 1
    assert PhoneNumber.objects.get(pk=number.pk).state == State.ACTIVE


def test_feed_uploads_refused(client, operator, op_key, private, settings):
    _error(_upload(client, op_key, b"number,when\n1,2\n"), 400, "unreadable_file")
    _error(_upload(client, op_key, b""), 400, "validation_error")
    _error(_upload(client, op_key, f"{FEED_HEADER}\n".encode(), kind="risks"), 400, "validation_error")
    _error(client.post("/api/v1/feeds", {"kind": "cancellations"}, HTTP_AUTHORIZATION=f"Bearer {op_key}"), 400,
           "validation_error")
    settings.FEED_UPLOAD_MAX_BYTES = 1000
    big = (FEED_HEADER + "\n" + "+8613800000000,2026-01-01T00:00:00+08:00,,\n" * 100).encode()
    _error(_upload(client, op_key, big), 413, "payload_too_large")
    assert not FeedUpload.objects.exists()


def test_the_upload_handler_stops_a_body_without_a_length(client, operator, op_key, private, settings):
    """A body sent without Content-Length (chunked) is stopped by the handler, not read whole."""
    from renewal.api.errors import PayloadTooLarge
    from renewal.api.operators import LimitedDiskUploadHandler

    settings.FEED_UPLOAD_MAX_BYTES = 10
    handler = LimitedDiskUploadHandler()
    handler.new_file("file", "feed.csv", "text/csv", None)
    handler.receive_data_chunk(b"x" * 10, 0)
    with pytest.raises(PayloadTooLarge):
        handler.receive_data_chunk(b"y", 10)


def test_a_feed_still_queued_has_no_report(api, operator, op_key, private, client):
    response = _upload(client, op_key, f"{FEED_HEADER}\n".encode())  # on-commit callbacks not run: still queued
    assert response.status_code == 202
    status = api("get", f"/api/v1/feeds/{response.json()['id']}", op_key).json()
    assert (status["state"], status["report_url"], status["rejected_lines"]) == ("queued", None, [])
    _error(api("get", f"/api/v1/feeds/{response.json()['id']}/report", op_key), 404, "not_found")
