"""The conformance check against the real simulator over real HTTP, both ways: a conforming platform passes every
step, each broken kind fails the step it breaks (and the check names it), pull-only platforms run the pull variant.

The API is served for real (the simulator confirms and answers through it), so these need PostgreSQL.
"""

import pytest
from django.db import connection
from django.utils import translation

from renewal.conformance import selectors, services
from renewal.models import ConformanceState, Delivery, DeliveryState, Platform, PlatformStatus
from renewal.platforms import services as platforms
from renewal.simulator.server import SimPlatform
from tests.renewal.helpers_renewal import make_key, make_platform

pytestmark = [pytest.mark.services, pytest.mark.django_db(transaction=True)]


@pytest.fixture
def fast(settings, require_postgres):
    """A short time limit and read timeout, so a slow platform is slow within seconds."""
    settings.CONFORMANCE_TIME_LIMIT_SECONDS = 5
    settings.CONFORMANCE_SETTLE_SECONDS = 1.0
    settings.CONFORMANCE_BATCH_NUMBERS = 7
    settings.CONFORMANCE_UNBIND_TASKS = 4
    settings.RENEWAL_READ_TIMEOUT = 1.0
    settings.RENEWAL_MAX_ATTEMPTS = 1  # a failed step's delivery is not retried behind the check's back


def checked(simulator, api_server, *, broken=frozenset(), latency_ms=None, pull=False):
    platform = make_platform(f"Sandboxed {sorted(broken)} {pull}", status="sandbox")
    platform.raw_key = make_key(platform)
    if pull:  # no webhook: the simulator reads GET /api/v1/deliveries with the platform's key
        sim = simulator([], api_url=api_server, confirm_after_ms=100, poll_seconds=0.3, pull=[SimPlatform(
            platform_id=platform.pk, name=platform.name, secrets=platforms.platform_secrets(platform),
            api_key=platform.raw_key)])
    else:
        sim = simulator([platform], api_url=api_server, confirm_after_ms=100)
        sim.platforms[platform.pk].broken = frozenset(broken)
        sim.platforms[platform.pk].latency_ms = latency_ms
    platform.refresh_from_db()
    check = services.run_conformance_check(platform, "engineer")  # eager: runs once committed (no outer atomic)
    check.refresh_from_db()
    return platform, check, sim


def failed_steps(check) -> list[int]:
    return [s["step"] for s in check.steps if s["passed"] is False]


def test_a_conforming_platform_passes_every_step_with_evidence_and_may_go_live(fast, simulator, api_server):
    platform, check, sim = checked(simulator, api_server)
    assert check.state == ConformanceState.PASSED, check.steps
    assert [s["passed"] for s in check.steps] == [True, True, True, True]
    step1, step2, step3, step4 = check.steps
    assert step1["evidence"][0]["status_code"] == 200 and step1["evidence"][0]["latency_ms"] is not None
    assert [e["status_code"] for e in step2["evidence"]] == [401, 401]  # forged, stale
    assert step3["evidence"][0]["status_code"] == 200 and sim.stats.repeats >= 1
    assert all(e["error"] == "" for e in step4["evidence"])
    assert [s["name"] for s in selectors.last_check_steps(platform)] == [
        "valid_batch", "bad_signatures", "repeat", "api_answers"]
    platforms.platform_set_status(platform=platform, status=PlatformStatus.LIVE, actor="platform-admin")
    assert Platform.objects.get(pk=platform.pk).status == PlatformStatus.LIVE
    # the check's traffic never reached a number: no real deliveries, and nothing left to send
    assert not Delivery.objects.real().exists()
    assert not Delivery.objects.filter(state=DeliveryState.PENDING).exists()


@pytest.mark.parametrize(("broken", "latency_ms", "first", "failed"), [
    ({"accepts_bad_signatures"}, None, 2, [2]),
    ({"double_counts"}, None, 3, [3]),
    ({"never_confirms"}, None, 3, [3, 4]),
    ({"bad_reasons"}, None, 4, [4]),
    ({"slow"}, 1500, 1, None),  # a timeout also leaves the signature probes unanswered
])
def test_each_broken_platform_fails_the_step_it_breaks(fast, simulator, api_server, broken, latency_ms, first,
                                                       failed):
    platform, check, _ = checked(simulator, api_server, broken=broken, latency_ms=latency_ms)
    assert check.state == ConformanceState.FAILED
    assert check.first_failed_step["step"] == first, check.steps
    if failed is not None:
        assert failed_steps(check) == failed, check.steps
    else:
        assert check.steps[0]["evidence"][0]["error"].startswith("timeout")
    with translation.override("en"), pytest.raises(Exception, match=f"failed at step {first}"):
        platforms.platform_set_status(platform=platform, status=PlatformStatus.LIVE)
    assert Platform.objects.get(pk=platform.pk).status == PlatformStatus.SANDBOX


def test_a_pull_only_platform_runs_the_pull_variant(fast, simulator, api_server):
    _, check, _ = checked(simulator, api_server, pull=True)
    assert check.variant == "pull" and check.state == ConformanceState.PASSED, check.steps
    assert [s["passed"] for s in check.steps] == [None, None, True, True]
    assert check.steps[2]["name"] == "pull_confirm"
    assert connection.vendor == "postgresql"
