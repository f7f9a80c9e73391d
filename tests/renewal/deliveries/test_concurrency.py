"""Row locks and claims under real concurrency (PostgreSQL, two connections)."""

import threading

import pytest
from django.db import connection

from renewal.deliveries import services
from renewal.models import BatchChunk, BatchEntry, Delivery, RecycleBatch
from tests.renewal.helpers_renewal import make_frozen_numbers, make_platform


def _together(*calls):
    barrier = threading.Barrier(len(calls))
    results, errors = [None] * len(calls), []

    def run(i, fn):
        try:
            barrier.wait()
            results[i] = fn()
        except Exception as exc:  # noqa: BLE001  (reported below)
            errors.append(exc)
        finally:
            connection.close()

    threads = [threading.Thread(target=run, args=(i, fn)) for i, fn in enumerate(calls)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    return results, errors


@pytest.mark.services
@pytest.mark.django_db(transaction=True)
def test_two_sweeps_at_once_batch_each_number_once(require_postgres, operator):
    make_platform()
    make_frozen_numbers(operator, 2500)
    results, errors = _together(services.batch_sweep, services.batch_sweep)
    assert errors == []
    assert sorted(len(r) for r in results) == [0, 1]
    assert RecycleBatch.objects.count() == 1 and BatchEntry.objects.count() == 2500


@pytest.mark.services
@pytest.mark.django_db(transaction=True)
def test_concurrent_confirmations_count_once(require_postgres, operator):
    platform = make_platform()
    make_frozen_numbers(operator, 10)
    services.batch_sweep()
    delivery = Delivery.objects.get()

    def confirm():
        return services.delivery_confirm(platform=platform, delivery_id=delivery.pk, unbound=4, not_found=6).state

    results, errors = _together(confirm, confirm, confirm)
    assert errors == [] and results == ["confirmed"] * 3
    assert BatchChunk.objects.get().deliveries_done == 1


@pytest.mark.services
@pytest.mark.django_db(transaction=True)
def test_concurrent_claims_enqueue_each_delivery_once(require_postgres, operator, settings):
    settings.RENEWAL_CHUNK_SIZE = 10
    for i in range(30):
        make_platform(name=f"P{i}", webhook_url="https://hooks.example.com/x")
    make_frozen_numbers(operator, 100)
    from unittest import mock

    with mock.patch("renewal.deliveries.queue.after_commit") as enqueue:  # no dispatch: every delivery stays due
        services.batch_sweep()
    enqueue.assert_called()
    claim = lambda: services.deliveries_claim_due(limit=200)  # noqa: E731
    results, errors = _together(claim, claim, claim)
    assert errors == []
    claimed = [i for r in results for i in r]
    assert len(claimed) == len(set(claimed)) == 300
