"""The outbox's row locks and claims under real concurrency (PostgreSQL): sweeps, confirmations, the coalescer."""

from unittest import mock

import pytest
from django.db.models import Count
from django.utils import timezone

from renewal.active import services as unbind
from renewal.deliveries import pump, services
from renewal.deliveries import unbind as coalescer
from renewal.models import BatchChunk, BatchEntry, Delivery, DeliveryEvent, Platform, RecycleBatch, UnbindTask
from tests.helpers_threads import run_together
from tests.renewal.helpers_renewal import make_frozen_numbers, make_platform
from tests.renewal.helpers_subscriber import allocated


@pytest.mark.services
@pytest.mark.django_db(transaction=True)
def test_two_sweeps_at_once_batch_each_number_once(require_postgres, operator):
    make_platform()
    make_frozen_numbers(operator, 2500)
    results = run_together(services.batch_sweep, services.batch_sweep)
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

    results = run_together(confirm, confirm, confirm)
    assert results == ["confirmed"] * 3
    assert BatchChunk.objects.get().deliveries_done == 1


@pytest.mark.services
@pytest.mark.django_db(transaction=True)
def test_concurrent_claims_hold_each_platforms_limit_and_lease_each_delivery_once(require_postgres, operator,
                                                                                   settings):
    settings.RENEWAL_CHUNK_SIZE = 10
    for i in range(30):
        make_platform(name=f"P{i}", webhook_url="https://hooks.example.com/x")
    Platform.objects.update(max_in_flight=3)
    make_frozen_numbers(operator, 100)  # 10 deliveries per platform
    with mock.patch("renewal.deliveries.queue.pump_after_commit") as kick:  # no pump: every delivery stays due
        services.batch_sweep()
    kick.assert_called()
    now = timezone.now()
    claims = [lambda: pump.claim(limit=200, now=now)] * 4
    claimed = []
    for _ in range(3):  # rounds: a platform another claim held at that moment is claimed in a later round
        claimed += [c for r in run_together(*claims) for c in r]
    leased = Delivery.objects.filter(claimed_until__gt=now)
    assert len({c.id for c in claimed}) == len(claimed)
    per_platform = dict(leased.values_list("platform_id").annotate(n=Count("id")))
    assert per_platform and max(per_platform.values()) <= 3
    assert set(per_platform.values()) == {3} and len(per_platform) == 30  # every platform full, none over


@pytest.mark.services
def test_concurrent_coalescers_claim_each_task_once(require_postgres, roles_back, operator, outlet, clerk):
    platforms = [make_platform(f"P{i}") for i in range(3)]
    for _ in range(40):
        unbind.unbind_request_create(period=allocated(operator, outlet, clerk)[1])
    results = run_together(*[coalescer.unbind_coalesce] * 4)
    claimed = [d for r in results for d in r]
    assert len(claimed) == len(set(claimed)) == Delivery.objects.filter(event=DeliveryEvent.UNBIND).count()
    assert not UnbindTask.objects.filter(delivery__isnull=True).exists()
    # no empty delivery was left behind by a coalescer that lost every race
    for delivery in Delivery.objects.filter(event=DeliveryEvent.UNBIND):
        assert delivery.unbind_tasks.exists()
    assert UnbindTask.objects.count() == 40 * len(platforms)
