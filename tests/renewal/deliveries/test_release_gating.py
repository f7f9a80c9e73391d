"""The release sweep waits for renewal: complete, or the grace period passed (then non-confirmers are named)."""

from datetime import timedelta

import pytest

from numbers.models import Event, EventKind, State
from numbers.services import release_sweep
from renewal.deliveries import services
from renewal.models import Delivery
from renewal.platforms import services as platform_services
from tests.renewal.helpers_renewal import make_frozen_numbers, make_platform

pytestmark = pytest.mark.django_db


@pytest.fixture
def batch(operator, django_capture_on_commit_callbacks):
    """Two live pull-only platforms; 3 numbers whose freeze ended a day ago, batched."""
    a, b = make_platform(name="Alipay"), make_platform(name="Weibo")
    numbers = make_frozen_numbers(operator, 3, cancelled_days_ago=91)
    with django_capture_on_commit_callbacks(execute=False):
        services.batch_sweep()
    return a, b, numbers


def _states(numbers):
    return {type(numbers[0]).objects.get(pk=n.pk).state for n in numbers}


def test_not_released_before_every_platform_confirmed(batch):
    a, b, numbers = batch
    assert release_sweep() == 0
    services.delivery_confirm(platform=a, delivery_id=Delivery.objects.get(platform=a).pk, unbound=3, not_found=0)
    assert release_sweep() == 0
    status = services.renewal_status(numbers[0])
    assert status == {"state": "in_progress", "confirmed": 1, "total": 2}
    services.delivery_confirm(platform=b, delivery_id=Delivery.objects.get(platform=b).pk, unbound=1, not_found=2)
    assert services.renewal_status(numbers[0]) == {"state": "complete", "confirmed": 2, "total": 2}
    assert release_sweep() == 3
    assert _states(numbers) == {State.AVAILABLE}
    event = Event.objects.filter(number=numbers[0], kind=EventKind.RELEASE).get()
    assert event.detail == {"renewal": "complete", "confirmed": 2, "total": 2}


def test_released_after_the_grace_period_with_non_confirmers_named(batch, monkeypatch):
    a, b, numbers = batch
    services.delivery_confirm(platform=a, delivery_id=Delivery.objects.get(platform=a).pk, unbound=3, not_found=0)
    Delivery.objects.filter(platform=b).update(state="dead")  # dead waits for the grace period like the rest
    frozen_until = numbers[0].frozen_until
    assert release_sweep(now=frozen_until + timedelta(days=7) - timedelta(seconds=1)) == 0
    assert release_sweep(now=frozen_until + timedelta(days=7)) == 3
    event = Event.objects.filter(number=numbers[0], kind=EventKind.RELEASE).get()
    assert event.detail == {"renewal": "incomplete", "confirmed": 1, "total": 2, "never_confirmed": ["Weibo"]}
    numbers[0].refresh_from_db()
    assert services.renewal_status(numbers[0])["never_confirmed"] == ["Weibo"]


def test_cancelled_deliveries_do_not_block(batch):
    a, b, numbers = batch
    services.delivery_confirm(platform=a, delivery_id=Delivery.objects.get(platform=a).pk, unbound=3, not_found=0)
    Delivery.objects.filter(platform=b).update(state="pending")
    platform_services.platform_set_status(platform=b, status="suspended")
    assert release_sweep() == 3


def test_a_number_never_batched_waits_for_the_grace_period(operator):
    make_platform()
    [number] = make_frozen_numbers(operator, 1, cancelled_days_ago=91)
    assert release_sweep() == 0
    assert release_sweep(now=number.frozen_until + timedelta(days=7)) == 1
    assert Event.objects.get(number=number, kind=EventKind.RELEASE).detail == {"renewal": "not_started"}


def test_renewal_statuses_are_batched(batch, django_assert_max_num_queries, operator):
    _, _, numbers = batch
    fresh = make_frozen_numbers(operator, 2, cancelled_days_ago=10)
    with django_assert_max_num_queries(4):
        statuses = services.renewal_statuses(numbers + fresh)
    assert [statuses[n.pk]["state"] for n in numbers + fresh] == ["in_progress"] * 3 + ["not_started"] * 2
