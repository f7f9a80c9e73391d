"""End to end with real processes: a Celery worker on Redis, the simulator's HTTP receivers, the API over HTTP."""

import time

import pytest
from django.db import connection

from renewal.deliveries import services
from renewal.deliveries.tasks import deliveries_due_task
from renewal.models import Delivery, DeliveryState
from tests.renewal.helpers_renewal import make_frozen_numbers, make_key, make_platform


@pytest.fixture
def worker(start_worker):
    """A real worker with retries and the due sweep's lease shortened for the test."""
    return start_worker(RENEWAL_RETRY_BASE_SECONDS="0.5", RENEWAL_RETRY_MAX_SECONDS="1", RENEWAL_DUE_LEASE_SECONDS="5")


@pytest.mark.services
@pytest.mark.django_db(transaction=True)
def test_real_worker_pushes_a_batch_and_every_delivery_is_confirmed_exactly_once(
        operator, api_server, worker, not_eager, simulator):
    # given five live platforms behind real receivers, one failing its first two requests
    platforms = [make_platform(name=f"E2E platform {i}") for i in range(5)]
    for p in platforms:
        p.raw_key = make_key(p)
    platforms[0].fail_first = 2
    sim = simulator(platforms, api_url=api_server, confirm_after_ms=50)
    make_frozen_numbers(operator, 2500)
    # when the sweep commits a batch (3 chunks x 5 platforms); the dispatch goes to the worker through Redis
    [batch_id] = services.batch_sweep()
    expected = Delivery.objects.filter(chunk__batch_id=batch_id).count()
    assert expected == 15
    deadline = time.monotonic() + 90
    while time.monotonic() < deadline:
        # (the simulator's count too: it counts a confirmation once its answer is back, after the commit)
        if Delivery.objects.filter(state=DeliveryState.CONFIRMED).count() == expected and \
                sim.stats.confirmed >= expected:
            break
        deliveries_due_task.delay()  # what beat does: retries of the failing platform come due
        time.sleep(1)
    # then every delivery was received once, confirmed once, and is confirmed in the database
    states = dict(Delivery.objects.values_list("id", "state"))
    assert set(states.values()) == {DeliveryState.CONFIRMED}, (states, worker.poll())
    assert sim.stats.received == expected and sim.stats.confirmed == expected
    assert sim.stats.confirm_errors == 0 and sim.stats.bad_signature == 0
    assert sim.stats.failed == 2  # the failing platform's first two answers
    for p in platforms:
        mine = {str(i) for i in Delivery.objects.filter(platform=p).values_list("id", flat=True)}
        assert sim.platforms[p.pk].seen == mine
    retried = Delivery.objects.filter(platform=platforms[0]).order_by("-attempts").first()
    assert retried.attempts >= 2
    assert connection.vendor == "postgresql"
