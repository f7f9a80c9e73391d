"""The simulator behaves like a careful platform: signatures (verified with `standardwebhooks`) and their age,
each delivery counted once, 5xx, POSTs in flight counted, unbind results answered in one call."""

import json
import threading
import time
from io import StringIO

import pytest
import requests
from django.core.management import CommandError, call_command

from renewal.models import ApiKey, Platform
from renewal.platforms.crypto import new_signing_secret
from renewal.platforms.signing import secret_key, signature_headers
from renewal.simulator import unbind as unbind_simulator
from renewal.simulator.server import SimPlatform, Simulator
from tests.renewal.helpers_renewal import free_port

BODY = json.dumps({"event": "recycled_numbers.batch", "delivery_id": "d-1", "operator": "CMCC",
                   "numbers": [{"msisdn": "+8613800138000"}]}).encode()
SECRET = new_signing_secret()


@pytest.fixture
def sim():
    s = Simulator(port=free_port(), platforms=[SimPlatform(platform_id=7, name="p", secrets=[SECRET])]).start()
    yield s
    s.stop()


def _post(sim, body=BODY, secret=SECRET, t=None, delivery="d-1", event="recycled_numbers.batch"):
    return requests.post(sim.url_for(7), data=body, timeout=5, headers={
        "X-Renewal-Event": event, **signature_headers(keys=[secret_key(secret)], msg_id=delivery, body=body,
                                                      timestamp=t)})


def test_bad_or_old_signatures_get_401(sim):
    assert _post(sim, secret=new_signing_secret()).status_code == 401
    assert _post(sim, t=int(time.time()) - 301).status_code == 401
    assert _post(sim, t=int(time.time()) + 301).status_code == 401
    unsigned = requests.post(sim.url_for(7), data=BODY, timeout=5, headers={"webhook-id": "d-1"})
    assert unsigned.status_code == 401
    assert sim.stats.bad_signature == 4 and sim.stats.received == 0


def test_during_a_rotation_either_secret_verifies(sim):
    new = new_signing_secret()
    sim.platforms[7].secrets = [new, SECRET]
    both = signature_headers(keys=[secret_key(new), secret_key(SECRET)], msg_id="d-1", body=BODY)
    assert requests.post(sim.url_for(7), data=BODY, headers=both, timeout=5).status_code == 200
    assert _post(sim, delivery="d-2").status_code == 200  # a portal still signing with the old one
    assert sim.stats.received == 2 and sim.stats.bad_signature == 0


def test_posts_in_flight_are_counted_per_platform(sim):
    sim.platforms[7].latency_ms = 300
    threads = [threading.Thread(target=_post, kwargs={"sim": sim, "delivery": f"d-{i}"}) for i in range(3)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    assert sim.platforms[7].max_in_flight == 3 and sim.platforms[7].in_flight == 0
    assert sim.stats.max_in_flight == 3 and sim.stats.received == 3


def test_unbind_requests_are_answered_in_one_call_with_reason_codes(sim):
    unbind_simulator.configure(sim, {"rejected": 1.0})
    tasks = [{"task_id": f"t-{i}", "msisdn": "+8613800138000", "bound_before": "2026-11-02T10:15:00+08:00",
              "kinds": ["account"]} for i in range(5)]
    path, payload = unbind_simulator.answer_unbind(sim, sim.platforms[7], {"delivery_id": "d-9", "tasks": tasks})
    assert path == "/api/v1/deliveries/d-9/results"
    assert [item["task_id"] for item in payload["items"]] == [t["task_id"] for t in tasks]
    codes = {"enterprise_account", "legal_hold", "identity_check_required", "assets_or_balance", "active_contract",
             "other"}
    assert all(item["status"] == "rejected" and item["reason"] in codes for item in payload["items"])
    unbind_simulator.configure(sim, {None: 1.0})
    assert unbind_simulator.answer_unbind(sim, sim.platforms[7], {"delivery_id": "d-9", "tasks": tasks}) is None


def test_each_delivery_counted_once(sim):
    assert _post(sim).status_code == 200
    repeat = _post(sim)
    assert repeat.status_code == 200 and repeat.json()["repeat"] is True
    assert (sim.stats.received, sim.stats.repeats) == (1, 1)


def test_fail_rate_answers_5xx():
    s = Simulator(port=free_port(), platforms=[SimPlatform(platform_id=7, name="p", secrets=[SECRET])],
                  fail_rate=1.0).start()
    try:
        assert _post(s).status_code == 503 and s.stats.failed == 1 and s.stats.received == 0
    finally:
        s.stop()


@pytest.mark.django_db
def test_command_creates_or_reuses_platforms_and_keys(settings):
    out = StringIO()
    port = free_port()
    call_command("simulate_platforms", port=port, count=3, duration=0.1, quiet=True, stdout=out)
    call_command("simulate_platforms", port=port, count=3, duration=0.1, quiet=True, stdout=out)
    platforms = Platform.objects.filter(name__startswith="Simulated platform")
    assert platforms.count() == 3 and set(platforms.values_list("status", flat=True)) == {"live"}
    assert all(p.webhook_url == f"http://127.0.0.1:{port}/p/{p.pk}" for p in platforms)
    # one active simulator key per platform: the previous run's keys were revoked
    assert ApiKey.objects.filter(revoked_at__isnull=True).count() == 3
    assert ApiKey.objects.count() == 6
    settings.RENEWAL_WEBHOOK_ALLOW_LOOPBACK = False
    with pytest.raises(CommandError):
        call_command("simulate_platforms", port=port, count=1, duration=0.1)


@pytest.mark.django_db
def test_the_demo_simulator_plays_a_sandbox_platform_registered_after_it_started():
    from renewal.management.commands.simulate_platforms import Command
    from renewal.models import PlatformStatus
    from renewal.platforms import services as platform_services

    base = "http://127.0.0.1:8090/p"
    sim = Simulator(port=free_port(), platforms=[])
    newcomer = platform_services.platform_create(name="Newcomer", category="travel", status=PlatformStatus.SANDBOX,
                                                 webhook_url=f"{base}/mine")
    elsewhere = platform_services.platform_create(name="Elsewhere", category="travel",
                                                  status=PlatformStatus.SANDBOX,
                                                  webhook_url="https://hooks.elsewhere.example/x")
    command = Command(stdout=StringIO())
    assert command._adopt(sim, base) == [newcomer.pk]
    newcomer.refresh_from_db()
    assert newcomer.webhook_url == f"{base}/{newcomer.pk}" and newcomer.pk in sim.platforms
    assert sim.platforms[newcomer.pk].secrets == platform_services.platform_secrets(newcomer)
    assert ApiKey.objects.filter(platform=newcomer, revoked_at__isnull=True).count() == 1
    assert elsewhere.pk not in sim.platforms
    assert command._adopt(sim, base) == []  # once


def test_a_refused_answer_is_sent_again_when_the_portal_says():
    """A 429 with Retry-After: the simulator waits that long (not its own shorter backoff) and sends it again."""
    from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

    seen: list[float] = []

    class Api(BaseHTTPRequestHandler):
        def do_POST(self):  # noqa: N802 (http.server's name)
            self.rfile.read(int(self.headers["Content-Length"]))
            seen.append(time.monotonic())
            refused = len(seen) == 1
            self.send_response(429 if refused else 200)
            self.send_header("Content-Type", "application/json")
            if refused:
                self.send_header("Retry-After", "2")
            self.end_headers()
            self.wfile.write(b"{}")

        def log_message(self, *args):
            pass

    api = ThreadingHTTPServer(("127.0.0.1", free_port()), Api)
    threading.Thread(target=api.serve_forever, daemon=True).start()
    s = Simulator(port=free_port(), platforms=[SimPlatform(platform_id=7, name="p", secrets=[SECRET], api_key="k")],
                  api_url=f"http://127.0.0.1:{api.server_port}").start()
    try:
        s._schedule(s.platforms[7], "/api/v1/deliveries/d-1/confirm", {})
        deadline = time.monotonic() + 10
        while s.stats.confirmed == 0 and time.monotonic() < deadline:
            time.sleep(0.05)
        assert s.stats.confirmed == 1 and len(seen) == 2
        assert seen[1] - seen[0] >= 1.9  # its own first backoff is 0.5 s
    finally:
        s.stop()
        api.shutdown()
