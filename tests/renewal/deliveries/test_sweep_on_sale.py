"""Secondary numbers already on sale that were never pushed (recycled before the portal went live): the batch sweep
takes them too, the number book says their old accounts are being removed, and selling one asks every platform to
unbind for the new holder, through the outbox."""

from datetime import timedelta

import pytest
from django.utils import timezone

from numbers.models import HolderPeriod, PhoneNumber, State
from numbers.services import DisclosureInput, number_allocate
from renewal.deliveries.services import batch_sweep, numbers_due_for_renewal, renewal_statuses
from renewal.models import BatchEntry, Delivery, DeliveryState, RecycleBatch, UnbindRequest
from tests.factories import PhoneNumberFactory
from tests.renewal.helpers_renewal import make_frozen_numbers, make_platform


def on_sale_unpushed(operator, count: int) -> list[PhoneNumber]:
    """Released secondary numbers with the cycle of their last holding and no batch entry (as the demo's)."""
    numbers = make_frozen_numbers(operator, count, cancelled_days_ago=200)
    now = timezone.now()
    PhoneNumber.objects.filter(pk__in=[n.pk for n in numbers]).update(
        state=State.AVAILABLE, is_secondary=True, released_at=now - timedelta(days=100))
    return list(PhoneNumber.objects.filter(pk__in=[n.pk for n in numbers]).order_by("pk"))


@pytest.fixture
def live(db):
    return [make_platform(f"Live {i}") for i in range(3)]


def test_the_sweep_takes_unpushed_numbers_on_sale_in_chunks_and_nothing_else(operator, live, settings, clerk, outlet):
    settings.RENEWAL_CHUNK_SIZE = 2
    on_sale = on_sale_unpushed(operator, 3)
    never_used = PhoneNumberFactory(range_holder=operator)
    frozen_far = make_frozen_numbers(operator, 1, cancelled_days_ago=5)[0]  # due only within the lead time
    assert set(numbers_due_for_renewal(timezone.now()).values_list("pk", flat=True)) == {n.pk for n in on_sale}
    (batch_id,) = batch_sweep()
    batch = RecycleBatch.objects.get(pk=batch_id)
    assert batch.size == 3 and batch.chunks.count() == 2
    assert Delivery.objects.filter(chunk__batch=batch).count() == 2 * len(live)
    assert set(BatchEntry.objects.values_list("number_id", flat=True)) == {n.pk for n in on_sale}
    assert not BatchEntry.objects.filter(number__in=[never_used, frozen_far]).exists()
    assert batch_sweep() == []  # pushed once per cycle


def test_the_book_says_removal_in_progress_until_confirmed_or_the_grace_period_passes(operator, live, settings):
    (number,) = on_sale_unpushed(operator, 1)
    assert renewal_statuses([number])[number.pk]["state"] == "not_started"
    batch_sweep()
    status = renewal_statuses([number])[number.pk]
    assert status["state"] == "in_progress" and "never_confirmed" not in status
    later = timezone.now() + timedelta(days=settings.RELEASE_GRACE_DAYS, hours=1)
    from unittest import mock

    with mock.patch("renewal.deliveries.services.timezone.now", return_value=later):
        status = renewal_statuses([number])[number.pk]
    assert sorted(status["never_confirmed"]) == sorted(p.name for p in live)
    Delivery.objects.update(state=DeliveryState.CONFIRMED)
    from renewal.models import BatchChunk

    BatchChunk.objects.update(deliveries_done=len(live))
    assert renewal_statuses([number])[number.pk]["state"] == "complete"


def test_selling_it_while_removal_runs_asks_every_platform_to_unbind_for_the_new_holder(operator, live, outlet,
                                                                                          clerk):
    (number,) = on_sale_unpushed(operator, 1)
    batch_sweep()
    period = number_allocate(number=number, outlet=outlet, staff=clerk, customer_ref="C-77",
                             disclosure=DisclosureInput(method="spoken", customer_confirmed=True))
    assert period.disclosure.facts["renewal"]["state"] == "in_progress"
    request = UnbindRequest.objects.get(holder_period=period)
    assert request.bound_before == period.started_at
    assert sorted(request.tasks.values_list("platform__name", flat=True)) == sorted(p.name for p in live)


def test_selling_a_number_whose_removal_is_complete_asks_nothing_more(operator, live, outlet, clerk):
    (number,) = on_sale_unpushed(operator, 1)
    batch_sweep()
    from renewal.models import BatchChunk

    Delivery.objects.update(state=DeliveryState.CONFIRMED)
    BatchChunk.objects.update(deliveries_done=len(live))
    period = number_allocate(number=number, outlet=outlet, staff=clerk, customer_ref="C-78",
                             disclosure=DisclosureInput(method="spoken", customer_confirmed=True))
    assert not UnbindRequest.objects.filter(holder_period=period).exists()
    assert HolderPeriod.objects.get(pk=period.pk).disclosure.facts["renewal"]["state"] == "complete"


def test_the_clerk_sees_it_in_the_book_and_the_disclosure_says_so(operator, live, outlet, clerk, settings):
    from django.test import Client
    from django.urls import reverse

    settings.LANGUAGE_CODE = "en"
    (number,) = on_sale_unpushed(operator, 1)
    batch_sweep()
    client = Client(headers={"accept-language": "en"})
    client.force_login(clerk)
    book = client.get(reverse("staff:book"), {"q": number.msisdn[-4:], "match": "ends"}).content.decode()
    assert "Removal of old accounts in progress" in book
    offer = client.get(reverse("staff:offer", args=[number.pk])).content.decode()
    assert "Removal of old accounts in progress" in offer and "asks every app to remove the old accounts" in offer
