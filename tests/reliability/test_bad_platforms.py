"""Platforms that answer 500, time out, answer slowly, close the connection or answer 200 with garbage, beside a
good one, pushed by a real worker: the failing ones are retried and then dead-lettered; nobody else waits.

A 2xx is the webhook contract's acknowledgement (docs/platform-guide.md): its body is not read, so a 200 with
garbage counts as sent, and the delivery waits for the platform's confirmation like any other.
"""

import threading
import time
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

import pytest
from django.db.models import Max, Min

from renewal.deliveries import services
from renewal.deliveries.tasks import deliveries_due_task
from renewal.models import Delivery, DeliveryAttempt, DeliveryState, Platform
from tests.reliability.helpers import free_port
from tests.reliability.invariants import assert_invariants, snapshot
from tests.renewal.helpers_renewal import make_frozen_numbers, make_platform

READ_TIMEOUT = 1.0


class _Handler(BaseHTTPRequestHandler):
    def do_POST(self):  # noqa: N802 (http.server's name)
        self.rfile.read(int(self.headers.get("Content-Length", 0)))
        mode = self.path.rsplit("/", 1)[-1]
        self.server.hits[mode] = self.server.hits.get(mode, 0) + 1
        if mode == "close":
            self.close_connection = True  # no status line at all
            return
        if mode == "timeout":
            time.sleep(READ_TIMEOUT * 2.5)
        if mode == "slow":
            time.sleep(READ_TIMEOUT / 2)
        if mode == "error":
            self.send_response(500)
            body = b"internal error"
        elif mode == "garbage":
            self.send_response(200)
            body = b"\x00\xff<html>not json at all" * 50
        else:
            self.send_response(204)
            body = b""
        self.send_header("Content-Length", str(len(body)))
        self.end_headers()
        self.wfile.write(body)

    def log_message(self, *args):
        pass


@pytest.fixture
def receiver():
    server = ThreadingHTTPServer(("127.0.0.1", free_port()), _Handler)
    server.daemon_threads = True
    server.hits = {}
    threading.Thread(target=server.serve_forever, daemon=True).start()
    yield server
    server.shutdown()
    server.server_close()


@pytest.mark.services
@pytest.mark.django_db(transaction=True)
def test_failing_platforms_are_retried_then_dead_lettered_and_hold_up_no_one(operator, start_worker, receiver,
                                                                            settings):
    # given one platform per behaviour, each taking two POSTs at once
    settings.RENEWAL_CHUNK_SIZE = 5
    url = f"http://127.0.0.1:{receiver.server_address[1]}/p/"
    modes = ["good", "error", "timeout", "slow", "close", "garbage"]
    platform = {m: make_platform(f"Behaves {m}", webhook_url=url + m) for m in modes}
    Platform.objects.update(max_in_flight=2)
    # and a worker that tries each delivery three times, 0.2-0.5 s apart, waiting 1 s for an answer
    start_worker(RENEWAL_MAX_ATTEMPTS=3, RENEWAL_RETRY_BASE_SECONDS=0.2, RENEWAL_RETRY_MAX_SECONDS=0.5,
                 RENEWAL_READ_TIMEOUT=READ_TIMEOUT, RENEWAL_CONNECT_TIMEOUT=0.5, RENEWAL_PUMP_SLICE_SECONDS=1,
                 RENEWAL_DUE_LEASE_SECONDS=1)
    make_frozen_numbers(operator, 10)  # 2 chunks x 6 platforms
    before = snapshot()
    services.batch_sweep()
    # when the pump has had its way with them
    deadline = time.monotonic() + 90
    while time.monotonic() < deadline and Delivery.objects.filter(state=DeliveryState.PENDING).exists():
        deliveries_due_task.delay()  # what beat does: the retries come due
        time.sleep(1)
    # then the failing platforms' deliveries were tried three times each and dead-lettered, with the reason kept
    states = {m: set(Delivery.objects.filter(platform=p).values_list("state", flat=True)) for m, p in
              platform.items()}
    assert states == {"good": {"sent"}, "slow": {"sent"}, "garbage": {"sent"},
                      "error": {"dead"}, "timeout": {"dead"}, "close": {"dead"}}, states
    # (a busy machine may make a slow answer miss the 1 s read timeout once: sent on a retry, still sent)
    for m in ("error", "timeout", "close"):
        assert set(Delivery.objects.filter(platform=platform[m]).values_list("attempts", flat=True)) == {3}
    errors = {m: set(Delivery.objects.filter(platform=platform[m]).values_list("last_error", flat=True))
              for m in ("error", "timeout", "close")}
    assert errors["error"] == {"HTTP 500: internal error"}
    assert all(e.startswith("timeout:") for e in errors["timeout"]), errors
    assert all("Disconnected" in e or "Connection" in e for e in errors["close"]), errors
    for m in ("error", "timeout", "close"):
        assert DeliveryAttempt.objects.filter(platform=platform[m]).count() == 6
        assert receiver.hits[m] == 6
    # and the others were not held up: every good delivery was sent before the slow failures were done retrying
    good_done = Delivery.objects.filter(platform=platform["good"]).aggregate(t=Max("sent_at"))["t"]
    last_timeouts = DeliveryAttempt.objects.filter(platform=platform["timeout"]).aggregate(t=Max("started_at"))["t"]
    first_timeout = DeliveryAttempt.objects.filter(platform=platform["timeout"]).aggregate(t=Min("started_at"))["t"]
    assert good_done < last_timeouts, (good_done, first_timeout, last_timeouts)
    assert receiver.hits["good"] >= 2
    assert_invariants(since=before)
