"""RabbitMQ struck mid-batch, on a node of the test's own (the shared one is never restarted or purged).

Restarted: its durable queues keep the waiting messages, the worker reconnects by itself and finishes the batch.
Purged: the waiting messages are gone; the due sweep (what beat sends) brings back every delivery.
"""


import pytest

from renewal.deliveries import services
from renewal.deliveries.tasks import deliveries_due_task
from renewal.models import Delivery, DeliveryState, Platform
from tests.reliability.helpers import ThrowawayRabbitMQ, use_broker, wait_for
from tests.reliability.invariants import assert_invariants, snapshot
from tests.renewal.helpers_renewal import make_frozen_numbers, make_key, make_platform

pytestmark = [pytest.mark.services, pytest.mark.django_db(transaction=True)]

QUEUES = ("pump", "celery", "interactive")


@pytest.fixture
def throwaway_rabbitmq(tmp_path, settings):
    """A RabbitMQ node of the test's own as the broker of this process and of the workers it starts."""
    from portal.celery import app

    node = ThrowawayRabbitMQ(tmp_path / "rabbitmq")
    node.start()
    before = app.conf.broker_write_url
    settings.CELERY_BROKER_URL = node.url
    use_broker(node.url)
    yield node
    use_broker(before)
    node.stop()


@pytest.fixture
def batch_under_way(throwaway_rabbitmq, operator, start_worker, simulator, api_server, settings):
    """36 deliveries (12 chunks × 3 platforms taking one POST at a time) pushed by one worker process that runs
    one pump chain at a time: some deliveries are out and the other chains' kicks wait in the broker."""
    settings.RENEWAL_CHUNK_SIZE = 5
    platforms = [make_platform(f"Rabbit {i}") for i in range(3)]
    for p in platforms:
        p.raw_key = make_key(p)
    Platform.objects.update(max_in_flight=1)
    sim = simulator(platforms, api_url=api_server, latency_ms=300, confirm_after_ms=200)
    worker = start_worker(concurrency=1, RENEWAL_PUMP_TASKS=4, RENEWAL_PUMP_SLICE_SECONDS=1,
                          RENEWAL_DUE_LEASE_SECONDS=3)
    make_frozen_numbers(operator, 60)
    before = snapshot()
    services.batch_sweep()
    assert Delivery.objects.count() == 36
    sent = Delivery.objects.exclude(state=DeliveryState.PENDING).count
    waiting = {}

    def mid_flight() -> bool:
        waiting.update(throwaway_rabbitmq.messages())
        return sent() >= 3 and sum(waiting.get(q, 0) for q in QUEUES) > 0

    assert wait_for(mid_flight, 60), (sent(), waiting)
    return {"sim": sim, "platforms": platforms, "worker": worker, "before": before, "total": 36,
            "out": sent(), "waiting": sum(waiting.get(q, 0) for q in QUEUES)}


def _every_delivery_confirmed_once_per_platform(batch) -> None:
    total, sim = batch["total"], batch["sim"]
    assert sim.stats.received == total and sim.stats.confirmed == total and sim.stats.confirm_errors == 0
    for p in batch["platforms"]:
        assert sim.platforms[p.pk].seen == {str(i) for i in Delivery.objects.filter(platform=p).values_list(
            "id", flat=True)}
    assert_invariants(since=batch["before"], deliveries_final=True)


def test_rabbitmq_restarted_mid_batch_the_worker_reconnects_and_loses_nothing(throwaway_rabbitmq, batch_under_way):
    batch, total = batch_under_way, batch_under_way["total"]
    confirmed = Delivery.objects.filter(state=DeliveryState.CONFIRMED).count
    # when the broker is stopped and started again while deliveries are out and messages wait in it
    throwaway_rabbitmq.stop()
    at_restart = confirmed()
    assert batch["out"] < total and at_restart < total, (batch["out"], at_restart)
    throwaway_rabbitmq.start()
    # then the same worker process reconnects and finishes the batch by itself: no beat, no new worker
    finished = wait_for(lambda: confirmed() == total and batch["sim"].stats.confirmed >= total, 120)
    assert finished, list(Delivery.objects.values_list("state", "attempts", "last_error"))
    assert batch["worker"].poll() is None
    _every_delivery_confirmed_once_per_platform(batch)
    print(f"restarted with {batch['out']}/{total} deliveries out, {batch['waiting']} messages waiting, "
          f"{at_restart} confirmed; duplicates {batch['sim'].stats.repeats}")


def test_rabbitmq_queues_purged_mid_batch_the_due_sweep_recovers_every_delivery(throwaway_rabbitmq,
                                                                               batch_under_way):
    batch, total = batch_under_way, batch_under_way["total"]
    # when every queue is purged (rabbitmqctl purge_queue) while deliveries are out and messages wait
    for queue in QUEUES:
        throwaway_rabbitmq.ctl("purge_queue", queue)
    assert batch["out"] < total
    # then the due sweep (what beat sends) brings back every delivery: each ends confirmed, none lost
    confirmed = wait_for(lambda: Delivery.objects.filter(state=DeliveryState.CONFIRMED).count() == total
                         and batch["sim"].stats.confirmed >= total, 120,
                         beat=deliveries_due_task.delay)
    assert confirmed, list(Delivery.objects.values_list("state", "attempts", "last_error"))
    _every_delivery_confirmed_once_per_platform(batch)
    print(f"purged with {batch['out']}/{total} deliveries out and {batch['waiting']} messages waiting; "
          f"duplicates {batch['sim'].stats.repeats}")
