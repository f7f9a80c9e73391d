"""The invariant checker finds each kind of broken row (so a fault test that passes means the rows hold)."""

import pytest
from django.utils import timezone

from numbers.models import HolderPeriod, PhoneNumber, State
from numbers.services import number_cancel
from renewal.deliveries import services
from renewal.models import BatchChunk, Delivery, DeliveryState, RecycleBatch
from tests.reliability.invariants import check_invariants, snapshot
from tests.renewal.helpers_renewal import make_frozen_numbers, make_platform

pytestmark = [pytest.mark.services, pytest.mark.django_db]


@pytest.fixture
def batched(require_postgres, operator, active_number, django_capture_on_commit_callbacks):
    make_platform("Checked")
    make_frozen_numbers(operator, 3)
    with django_capture_on_commit_callbacks(execute=False):
        services.batch_sweep()
    assert check_invariants() == []
    return active_number


def _found(text: str) -> bool:
    return any(text in problem for problem in check_invariants())


def test_holder_periods_out_of_step_with_the_state(batched):
    # (two open periods are refused by the database's own constraint before the checker could see them)
    HolderPeriod.objects.filter(number=batched).update(ended_at=timezone.now(), customer_ref="")
    assert _found(f"number {batched.pk} is active with 0 open holder periods")
    HolderPeriod.objects.filter(number=batched).update(ended_at=None)
    PhoneNumber.objects.filter(pk=batched.pk).update(state=State.AVAILABLE)
    assert _found("is available with 1 open holder periods")


def test_frozen_without_a_cycle(batched):
    PhoneNumber.objects.filter(state=State.FROZEN).update(cycle=None)
    assert _found("no cycle")


def test_batch_entries_and_counts(batched):
    BatchChunk.objects.update(size=7)
    assert _found("size 7, 3 entries")
    RecycleBatch.objects.update(size=1)
    assert _found("its chunks hold")
    Delivery.objects.update(state=DeliveryState.CONFIRMED, confirmed_at=timezone.now(), sent_at=timezone.now())
    assert _found("final")


def test_a_change_without_an_event(batched, operator):
    before = snapshot()
    PhoneNumber.objects.filter(pk=batched.pk).update(state=State.SUSPENDED, suspended_from=State.AVAILABLE)
    assert _found(f"number {batched.pk} is suspended, but its newest event")
    assert any("with no event" in p for p in check_invariants(since=before))


def test_a_change_with_its_event_is_fine(batched, operator):
    before = snapshot()
    number_cancel(number=batched, operator=operator, at=timezone.now(), actor="t")
    assert check_invariants(since=before) == []


def test_deliveries_not_final(batched):
    assert check_invariants(deliveries_final=False) == []
    assert any("not final" in p for p in check_invariants(deliveries_final=True))
    Delivery.objects.update(state=DeliveryState.CONFIRMED)
    assert _found("confirmed without confirmed_at")
