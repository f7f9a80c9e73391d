"""The broker wiped mid-batch (Redis FLUSHALL on a throwaway redis-server): the due sweep recovers all of it."""

import pytest
import redis

from portal.celery import app
from renewal.deliveries import services
from renewal.deliveries.tasks import deliveries_due_task
from renewal.models import Delivery, DeliveryState, Platform
from tests.reliability.helpers import start_redis, stop, use_broker, wait_for
from tests.reliability.invariants import assert_invariants, snapshot
from tests.renewal.helpers_renewal import make_frozen_numbers, make_key, make_platform


@pytest.fixture
def throwaway_redis(tmp_path, settings):
    """A redis-server of the test's own as broker (and the workers' cache): FLUSHALL never touches a shared one."""
    process, url = start_redis(tmp_path)
    before = app.conf.broker_write_url
    settings.CELERY_BROKER_URL = url
    use_broker(url)
    yield url
    use_broker(before)
    stop(process)


def _waiting_messages(r: redis.Redis) -> int:
    return sum(r.llen(q) for q in ("pump", "celery", "interactive")) + r.hlen("unacked")


@pytest.mark.services
@pytest.mark.django_db(transaction=True)
def test_redis_flushed_mid_batch_the_due_sweep_recovers_every_delivery(
        throwaway_redis, operator, start_worker, simulator, api_server, settings):
    # given three platforms taking one POST at a time (answering after 300 ms, confirming after 200 ms)
    settings.RENEWAL_CHUNK_SIZE = 5
    platforms = [make_platform(f"Flushed {i}") for i in range(3)]
    for p in platforms:
        p.raw_key = make_key(p)
    Platform.objects.update(max_in_flight=1)
    sim = simulator(platforms, api_url=api_server, latency_ms=300, confirm_after_ms=200)
    # and one worker process running one pump chain at a time: the other chains' kicks wait in Redis
    start_worker(concurrency=1, RENEWAL_PUMP_TASKS=4, RENEWAL_PUMP_SLICE_SECONDS=1, RENEWAL_DUE_LEASE_SECONDS=3,
                 CACHE_URL=throwaway_redis.replace("/0", "/1"))
    make_frozen_numbers(operator, 60)  # 12 chunks x 3 platforms
    before = snapshot()
    services.batch_sweep()
    total = Delivery.objects.count()
    assert total == 36
    # when Redis is wiped while some deliveries are out and messages wait in the broker
    r = redis.Redis.from_url(throwaway_redis)
    sent = Delivery.objects.exclude(state=DeliveryState.PENDING).count
    assert wait_for(lambda: sent() >= 3 and _waiting_messages(r) > 0, 60), (sent(), _waiting_messages(r))
    waiting, out = _waiting_messages(r), sent()
    r.flushall()
    assert r.dbsize() == 0 and out < total, (out, total)
    # then the due sweep (what beat sends) brings back every delivery: each ends confirmed, none lost
    # (the simulator's count too: it counts a confirmation once its answer is back, after the row is committed)
    confirmed = wait_for(lambda: Delivery.objects.filter(state=DeliveryState.CONFIRMED).count() == total
                         and sim.stats.confirmed >= total, 90, beat=deliveries_due_task.delay)
    assert confirmed, list(Delivery.objects.values_list("state", "attempts", "last_error"))
    assert sim.stats.received == total and sim.stats.confirmed == total and sim.stats.confirm_errors == 0
    for p in platforms:
        assert sim.platforms[p.pk].seen == {str(i) for i in Delivery.objects.filter(platform=p).values_list(
            "id", flat=True)}
    assert_invariants(since=before, deliveries_final=True)
    print(f"flushed with {out}/{total} deliveries out and {waiting} messages waiting; duplicates {sim.stats.repeats}")
