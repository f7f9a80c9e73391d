import pytest
from django.db import IntegrityError
from django.utils import timezone

from numbers.models import State
from numbers.services import DisclosureInput, number_allocate, number_cancel
from renewal.deliveries import services
from renewal.models import BatchChunk, BatchEntry, Delivery, DeliveryState, PlatformStatus, RecycleBatch
from tests.factories import OutletFactory, staff_user
from tests.renewal.helpers_renewal import make_frozen_numbers, make_platform

pytestmark = pytest.mark.django_db


@pytest.mark.parametrize("count, sizes", [(999, [999]), (1000, [1000]), (1001, [1000, 1])])
def test_chunks_on_boundaries(operator, count, sizes, django_capture_on_commit_callbacks):
    make_platform()  # pull-only: nothing is sent
    make_frozen_numbers(operator, count)
    with django_capture_on_commit_callbacks(execute=False) as callbacks:
        [batch_id] = services.batch_sweep()
    batch = RecycleBatch.objects.get(pk=batch_id)
    assert batch.size == count
    assert list(batch.chunks.order_by("seq").values_list("size", flat=True)) == sizes
    assert BatchEntry.objects.filter(chunk__batch=batch).values("number").distinct().count() == count
    assert len(callbacks) == 1  # one dispatch task for the whole batch, after commit


def test_one_batch_per_range_holder_and_one_delivery_per_live_platform_and_chunk(
        operator, other_operator, django_capture_on_commit_callbacks):
    live = [make_platform(webhook_url="https://hooks.example.com/a"), make_platform()]
    make_platform(status=PlatformStatus.SANDBOX)
    make_platform(status=PlatformStatus.SUSPENDED)
    make_frozen_numbers(operator, 1500)
    make_frozen_numbers(other_operator, 10)
    make_frozen_numbers(other_operator, 5, cancelled_days_ago=30)  # freeze ends in 60 days: not yet due
    with django_capture_on_commit_callbacks(execute=False):
        batch_ids = services.batch_sweep()
    batches = RecycleBatch.objects.filter(pk__in=batch_ids).order_by("operator__code")
    assert [(b.operator.code, b.size) for b in batches] == [("CMCC", 1500), ("CUCC", 10)]
    assert Delivery.objects.count() == (2 + 1) * len(live)
    pushed, pull = live
    assert set(Delivery.objects.filter(platform=pushed).values_list("state", flat=True)) == {"pending"}
    assert set(Delivery.objects.filter(platform=pull).values_list("state", flat=True)) == {"sent"}
    assert BatchChunk.objects.filter(deliveries_total=2).count() == 3
    # nothing left to batch: a second sweep does nothing
    with django_capture_on_commit_callbacks(execute=False):
        assert services.batch_sweep() == []


def test_number_recycled_again_is_pushed_again_not_complete_by_old_batch(operator, django_capture_on_commit_callbacks):
    platform = make_platform()
    [number] = make_frozen_numbers(operator, 1, cancelled_days_ago=100)
    with django_capture_on_commit_callbacks(execute=False):
        services.batch_sweep()
    first = Delivery.objects.get()
    services.delivery_confirm(platform=platform, delivery_id=first.pk, unbound=1, not_found=0)
    number.refresh_from_db()
    assert services.renewal_status(number)["state"] == "complete"
    # released, sold, cancelled again: a new cycle
    from numbers.services import release_sweep
    assert release_sweep() == 1
    outlet = OutletFactory(operator=operator)
    clerk = staff_user(role="sales staff", outlet=outlet)
    number.refresh_from_db()
    number_allocate(number=number, outlet=outlet, staff=clerk, customer_ref="C-2",
                    disclosure=DisclosureInput(method="spoken", customer_confirmed=True))
    number_cancel(number=number, operator=operator, at=timezone.now(), actor="test")
    number.refresh_from_db()
    assert number.state == State.FROZEN
    assert services.renewal_status(number)["state"] == "not_started"
    assert not services.renewal_releasable(type(number).objects.filter(pk=number.pk),
                                           number.frozen_until + timezone.timedelta(days=1)).exists()
    with django_capture_on_commit_callbacks(execute=False):
        assert services.batch_sweep(now=timezone.now() + timezone.timedelta(days=70)) != []
    assert BatchEntry.objects.filter(number=number).count() == 2
    assert services.renewal_status(number)["state"] == "in_progress"


def test_batch_and_deliveries_roll_back_together(operator, monkeypatch):
    make_platform(webhook_url="https://hooks.example.com/x")
    make_frozen_numbers(operator, 20)

    def broken(value):
        raise IntegrityError("simulated failure after the deliveries were written")

    monkeypatch.setattr(services.transaction, "on_commit", broken)
    with pytest.raises(IntegrityError):
        services.batch_sweep()
    assert not RecycleBatch.objects.exists()
    assert not BatchChunk.objects.exists()
    assert not BatchEntry.objects.exists()
    assert not Delivery.objects.exists()


def test_pull_only_deliveries_start_sent(operator, django_capture_on_commit_callbacks):
    make_platform()
    make_frozen_numbers(operator, 3)
    with django_capture_on_commit_callbacks(execute=True):
        services.batch_sweep()
    d = Delivery.objects.get()
    assert d.state == DeliveryState.SENT and d.sent_at is not None and d.attempts == 0
