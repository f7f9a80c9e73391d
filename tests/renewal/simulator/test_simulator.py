"""The simulator behaves like a careful platform: signatures and their age, each delivery counted once, 5xx."""

import json
import time
from io import StringIO

import pytest
import requests
from django.core.management import CommandError, call_command

from renewal.models import ApiKey, Platform
from renewal.platforms.signing import signature_header
from renewal.simulator.server import SimPlatform, Simulator
from tests.renewal.helpers_renewal import free_port

BODY = json.dumps({"event": "recycled_numbers.batch", "delivery_id": "d-1", "operator": "CMCC",
                   "numbers": [{"msisdn": "+8613800138000"}]}).encode()


@pytest.fixture
def sim():
    s = Simulator(port=free_port(), platforms=[SimPlatform(platform_id=7, name="p", secrets=["whsec_x"])]).start()
    yield s
    s.stop()


def _post(sim, body=BODY, secret="whsec_x", t=None, delivery="d-1"):
    return requests.post(sim.url_for(7), data=body, timeout=5, headers={
        "X-Renewal-Event": "recycled_numbers.batch", "X-Renewal-Delivery": delivery,
        "X-Renewal-Signature": signature_header(secrets=[secret], body=body, t=t)})


def test_bad_or_old_signatures_get_401(sim):
    assert _post(sim, secret="whsec_wrong").status_code == 401
    assert _post(sim, t=int(time.time()) - 301).status_code == 401
    assert _post(sim, t=int(time.time()) + 301).status_code == 401
    assert sim.stats.bad_signature == 3 and sim.stats.received == 0


def test_each_delivery_counted_once(sim):
    assert _post(sim).status_code == 200
    repeat = _post(sim)
    assert repeat.status_code == 200 and repeat.json()["repeat"] is True
    assert (sim.stats.received, sim.stats.repeats) == (1, 1)


def test_fail_rate_answers_5xx():
    s = Simulator(port=free_port(), platforms=[SimPlatform(platform_id=7, name="p", secrets=["whsec_x"])],
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
