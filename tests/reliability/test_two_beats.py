"""Two beat processes running every sweep at once end where one would: each number batched once, released once
with one event, each unbind task claimed once."""

from datetime import timedelta

import pytest
from django.utils import timezone

from numbers.models import Event, EventKind, PhoneNumber, State
from numbers.services import release_sweep
from renewal.deliveries import services
from renewal.deliveries.unbind import unbind_coalesce
from renewal.models import BatchEntry, Delivery, DeliveryEvent, RecycleBatch, UnbindRequest, UnbindTask
from tests.helpers_threads import run_together
from tests.reliability.invariants import assert_invariants, snapshot
from tests.renewal.helpers_renewal import make_frozen_numbers, make_platform
from tests.renewal.helpers_subscriber import allocated


def _beat() -> tuple:
    """What one beat's schedule runs (each on its own connection, as in its own process)."""
    return services.batch_sweep(), release_sweep(chunk_size=20), unbind_coalesce()


@pytest.mark.services
@pytest.mark.django_db(transaction=True)
def test_two_beats_running_the_sweeps_at_once_end_as_one(require_postgres, roles_back, operator, outlet, clerk):
    # given 100 numbers whose freeze is over and whose renewal is complete (batched before any platform)
    releasable = {n.pk for n in make_frozen_numbers(operator, 100, cancelled_days_ago=91)}
    services.batch_sweep()
    # and two live pull-only platforms, 150 numbers due for renewal and three unbind requests
    platforms = [make_platform(f"Beat {i}") for i in range(2)]
    due = {n.pk for n in make_frozen_numbers(operator, 150)}
    now = timezone.now()
    for _ in range(3):
        number, period = allocated(operator, outlet, clerk)
        request = UnbindRequest.objects.create(number=number, holder_period=period, bound_before=period.started_at,
                                               created_at=now)
        for p in platforms:
            UnbindTask.objects.create(request=request, platform=p, created_at=now, deadline_at=now + timedelta(hours=1))
    before = snapshot()
    # when two beats run every sweep at the same moment
    first, second = run_together(_beat, _beat)
    # then the due numbers were batched once, in one batch
    assert len(first[0]) + len(second[0]) == 1
    batch = RecycleBatch.objects.latest("id")
    assert set(BatchEntry.objects.filter(chunk__batch=batch).values_list("number_id", flat=True)) == due
    assert BatchEntry.objects.count() == 250 and Delivery.objects.filter(event=DeliveryEvent.BATCH).count() == 2
    # the releasable ones released once, each with one event
    assert first[1] + second[1] == 100
    assert set(PhoneNumber.objects.filter(state=State.AVAILABLE).values_list("id", flat=True)) == releasable
    assert Event.objects.filter(kind=EventKind.RELEASE).count() == 100
    # each unbind task claimed once, in one delivery per platform
    assert len(first[2]) + len(second[2]) == 2
    for p in platforms:
        assert UnbindTask.objects.filter(platform=p).values("delivery_id").distinct().count() == 1
    assert not UnbindTask.objects.filter(delivery__isnull=True).exists()
    assert_invariants(since=before)
    # and a third run finds nothing left to do
    assert _beat() == ([], 0, [])
