"""The pump with real processes: Celery workers on Redis and PostgreSQL, the simulator's receivers, the API over HTTP.

The per-platform limit holds across worker processes and workers; a worker killed mid-slice loses nothing.
"""

import os
import re
import signal
import time
from pathlib import Path

import pytest
from django.db.models import Count

from renewal.deliveries import services
from renewal.deliveries.tasks import deliveries_due_task
from renewal.models import BatchChunk, Delivery, DeliveryAttempt, DeliveryState, Platform
from tests.reliability.invariants import assert_invariants, snapshot
from tests.renewal.helpers_renewal import make_frozen_numbers, make_key, make_platform

_CLAIMED = re.compile(r"pump slice: claimed [1-9]\d*.* pid=(\d+)")


def _wait(predicate, timeout: float, beat=None) -> bool:
    deadline = time.monotonic() + timeout
    last_beat = 0.0
    while time.monotonic() < deadline:
        if predicate():
            return True
        if beat and time.monotonic() - last_beat >= 1:
            beat()  # what beat does: the due sweep
            last_beat = time.monotonic()
        time.sleep(0.2)
    return predicate()


def _pumping_processes(log_dir: Path) -> set[tuple[str, str]]:
    """(worker log, pool process) pairs whose pump slices claimed something."""
    found = set()
    for log in log_dir.glob("worker-*.log"):
        found |= {(log.name, m.group(1)) for m in _CLAIMED.finditer(log.read_text())}
    return found


@pytest.mark.services
@pytest.mark.django_db(transaction=True)
def test_the_per_platform_limit_holds_across_two_workers_of_two_processes(operator, start_worker, simulator,
                                                                          settings, tmp_path):
    # given three platforms that take two POSTs at once, answering after 200 ms
    settings.RENEWAL_CHUNK_SIZE, settings.RENEWAL_PUMP_TASKS = 5, 4
    platforms = [make_platform(f"Limited {i}") for i in range(3)]
    Platform.objects.update(max_in_flight=2)
    sim = simulator(platforms, latency_ms=200)
    # and two workers of two pool processes each, four pump chains between them
    for _ in range(2):
        start_worker(concurrency=2, RENEWAL_PUMP_TASKS=4, RENEWAL_PUMP_SLICE_SECONDS=2)
    make_frozen_numbers(operator, 150)  # 30 chunks x 3 platforms
    # when the batch commits, the pump is kicked through Redis
    services.batch_sweep()
    total = Delivery.objects.count()
    assert total == 90
    sent = _wait(lambda: Delivery.objects.filter(state=DeliveryState.SENT).count() == total, 90,
                 beat=deliveries_due_task.delay)
    # then each was received once, and no platform ever had more than two POSTs open at once
    assert sent, dict(Delivery.objects.values_list("state").annotate(n=Count("id")))
    assert sim.stats.received == total and sim.stats.repeats == 0 and sim.stats.bad_signature == 0
    assert {p.pk: sim.platforms[p.pk].max_in_flight for p in platforms} == {p.pk: 2 for p in platforms}
    # more than one process was pumping
    assert len(_pumping_processes(tmp_path)) >= 2, _pumping_processes(tmp_path)
    assert DeliveryAttempt.objects.count() == total


@pytest.mark.services
@pytest.mark.django_db(transaction=True)
def test_a_worker_killed_mid_slice_loses_nothing(operator, start_worker, simulator, api_server, settings):
    # given two platforms that answer after 1.5 s and confirm 7 s after a delivery first arrives
    settings.RENEWAL_CHUNK_SIZE = 5
    platforms = [make_platform(f"Killed {i}") for i in range(2)]
    for p in platforms:
        p.raw_key = make_key(p)
    Platform.objects.update(max_in_flight=4)
    sim = simulator(platforms, api_url=api_server, latency_ms=1500, confirm_after_ms=7000)
    # a lease of 5.5 s: a one-second slice, its timeouts and a margin
    leases = {"RENEWAL_PUMP_SLICE_SECONDS": 1, "RENEWAL_CONNECT_TIMEOUT": 0.5, "RENEWAL_READ_TIMEOUT": 2,
              "RENEWAL_DUE_LEASE_SECONDS": 1}
    worker = start_worker(**leases)
    make_frozen_numbers(operator, 30)  # 6 chunks x 2 platforms: 8 in flight at once, 4 waiting
    before = snapshot()
    services.batch_sweep()
    total = Delivery.objects.count()
    # when the worker is killed while its POSTs are in flight (none of their outcomes recorded)
    assert _wait(lambda: sum(p.in_flight for p in sim.platforms.values()) >= 6, 60)
    os.killpg(worker.pid, signal.SIGKILL)
    worker.wait(10)
    assert not Delivery.objects.filter(state__in=[DeliveryState.SENT, DeliveryState.CONFIRMED]).exists()
    # and another worker takes over
    start_worker(**leases)
    # (the simulator's count too: it counts a confirmation once its answer is back, after the row is committed)
    confirmed = _wait(lambda: Delivery.objects.filter(state=DeliveryState.CONFIRMED).count() == total
                      and sim.stats.confirmed >= total, 120,
                      beat=deliveries_due_task.delay)
    # then every delivery ends confirmed, once: the simulator counted duplicates and confirmed one copy of each
    assert confirmed, list(Delivery.objects.values_list("state", "attempts", "last_error"))
    assert sim.stats.received == total and sim.stats.confirmed == total and sim.stats.confirm_errors == 0
    posts = sum(p.requests for p in sim.platforms.values())
    assert posts == sim.stats.received + sim.stats.repeats
    for p in platforms:
        assert sim.platforms[p.pk].seen == {str(i) for i in Delivery.objects.filter(platform=p).values_list("id",
                                                                                                           flat=True)}
    assert all(c.deliveries_done == c.deliveries_total == 2 for c in BatchChunk.objects.all())
    assert_invariants(since=before, deliveries_final=True)
    print(f"killed mid-slice: {total} deliveries, {posts} POSTs received, {sim.stats.repeats} duplicates")
