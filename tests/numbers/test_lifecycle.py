"""Every transition of the number lifecycle, and every forbidden one."""

from datetime import timedelta

import pytest
from django.db import IntegrityError, transaction
from django.utils import timezone

from numbers.errors import DisclosureRequired, InvalidTransition, NumberTaken, WrongOperator
from numbers.models import AppendOnlyError, Disclosure, Event, EventKind, HolderPeriod, MarkEffect, RiskMark, State
from numbers.services import (
    DisclosureInput,
    number_allocate,
    number_cancel,
    number_offer_decline,
    number_port,
    release_sweep,
    risk_mark_lift,
    risk_mark_place,
)
from tests.factories import OutletFactory, PhoneNumberFactory

DAY = timedelta(days=1)


@pytest.fixture(autouse=True)
def renewal_gate_open(monkeypatch):
    """These tests are about the freeze; tests/renewal/deliveries/test_release_gating.py tests the renewal gate."""
    from numbers import hooks

    monkeypatch.setattr(hooks, "releasable", hooks._releasable_default)
    monkeypatch.setattr(hooks, "release_detail", hooks._release_detail_default)


def cancel(number, *, at, operator=None):
    number_cancel(number=number, operator=operator or number.serving_operator, at=at, actor="feed")
    number.refresh_from_db()
    return number


def allocate(number, outlet, clerk, disclosure=None):
    period = number_allocate(number=number, outlet=outlet, staff=clerk, customer_ref="REF-1", disclosure=disclosure)
    number.refresh_from_db()
    return period


def mark(number, effect, *, days=None, actor="regulator"):
    m = risk_mark_place(number=number, category="fraud", authority="MIIT", reference="R-1", effect=effect,
                        extra_days=days, actor=actor)
    number.refresh_from_db()
    return m


def lift(m, number):
    risk_mark_lift(mark=m, actor="regulator")
    number.refresh_from_db()


# --- allocation ------------------------------------------------------------------------------


def test_allocating_a_new_number_needs_no_disclosure(new_number, outlet, clerk):
    period = allocate(new_number, outlet, clerk)

    assert new_number.state == State.ACTIVE
    assert period.started_at and period.ended_at is None and period.customer_ref == "REF-1"
    assert period.disclosure is None
    event = new_number.events.get(kind=EventKind.ALLOCATE)
    assert (event.from_state, event.to_state, event.actor) == ("available", "active", "clerk")


def test_a_secondary_number_is_refused_without_disclosure_and_nothing_is_written(
    frozen_number, outlet, clerk, disclosure
):
    now = frozen_number.cancelled_at + 91 * DAY
    release_sweep(now=now)
    frozen_number.refresh_from_db()
    assert frozen_number.state == State.AVAILABLE and frozen_number.is_secondary
    periods_before = HolderPeriod.objects.count()

    with pytest.raises(DisclosureRequired):
        allocate(frozen_number, outlet, clerk, disclosure=None)
    with pytest.raises(DisclosureRequired):
        allocate(frozen_number, outlet, clerk, disclosure=DisclosureInput(method="spoken", customer_confirmed=False))
    with pytest.raises(DisclosureRequired):
        allocate(frozen_number, outlet, clerk, disclosure=DisclosureInput(method="telepathy", customer_confirmed=True))

    frozen_number.refresh_from_db()
    assert frozen_number.state == State.AVAILABLE
    assert HolderPeriod.objects.count() == periods_before
    assert not Disclosure.objects.exists()


def test_a_secondary_number_is_allocated_with_its_disclosure(frozen_number, outlet, clerk, disclosure):
    cancelled_at = frozen_number.cancelled_at
    release_sweep(now=cancelled_at + 91 * DAY)

    period = allocate(frozen_number, outlet, clerk, disclosure=disclosure)

    assert period.requires_disclosure
    assert period.disclosure.method == "spoken"
    assert period.disclosure.facts["disconnected_at"] == cancelled_at.isoformat()
    assert period.disclosure.facts["secondary"] is True


def test_the_database_refuses_a_secondary_holding_without_disclosure(new_number, outlet):
    with pytest.raises(IntegrityError), transaction.atomic():
        HolderPeriod.objects.create(number=new_number, operator=outlet.operator, started_at=timezone.now(),
                                    requires_disclosure=True)


def test_the_database_refuses_two_open_holdings(active_number, outlet):
    with pytest.raises(IntegrityError), transaction.atomic():
        HolderPeriod.objects.create(number=active_number, operator=outlet.operator, started_at=timezone.now())


@pytest.mark.parametrize("state_fixture", ["active_number", "frozen_number"])
def test_only_an_available_number_is_allocated(request, state_fixture, outlet, clerk):
    number = request.getfixturevalue(state_fixture)
    with pytest.raises(NumberTaken):
        allocate(number, outlet, clerk)


def test_a_suspended_number_is_not_allocated(new_number, outlet, clerk):
    mark(new_number, MarkEffect.SUSPEND)
    with pytest.raises(NumberTaken):
        allocate(new_number, outlet, clerk)


def test_another_operators_outlet_cannot_allocate(new_number, other_operator, clerk):
    foreign = OutletFactory(operator=other_operator)
    with pytest.raises(WrongOperator):
        allocate(new_number, foreign, clerk)


@pytest.mark.parametrize("ref", ["", "110101199003077777", "张三", "a b", "x" * 65])
def test_customer_reference_must_be_opaque(new_number, outlet, clerk, ref):
    from django.core.exceptions import ValidationError

    with pytest.raises(ValidationError):
        number_allocate(number=new_number, outlet=outlet, staff=clerk, customer_ref=ref, disclosure=None)
    new_number.refresh_from_db()
    assert new_number.state == State.AVAILABLE


def test_a_declined_offer_is_recorded_and_the_number_stays_available(new_number, outlet, clerk):
    offer = number_offer_decline(number=new_number, outlet=outlet, staff=clerk, reason="wants 8888")
    new_number.refresh_from_db()
    assert new_number.state == State.AVAILABLE
    assert offer.was_secondary is False and offer.reason == "wants 8888"
    assert new_number.events.filter(kind=EventKind.DECLINE).count() == 1


# --- cancellation ----------------------------------------------------------------------------


def test_cancel_freezes_for_90_days_and_clears_the_customer_reference(active_number, operator):
    at = timezone.now() - 2 * DAY
    cancel(active_number, at=at)

    assert active_number.state == State.FROZEN
    assert active_number.cancelled_at == at
    assert active_number.frozen_until == at + 90 * DAY
    period = HolderPeriod.objects.get(number=active_number)
    assert period.ended_at == at and period.customer_ref == ""
    assert active_number.cycle == period
    event = active_number.events.get(kind=EventKind.CANCEL)
    assert (event.from_state, event.to_state, event.at) == ("active", "frozen", at)


@pytest.mark.parametrize("fixture", ["new_number", "frozen_number"])
def test_only_an_active_number_is_cancelled(request, fixture, operator):
    number = request.getfixturevalue(fixture)
    with pytest.raises(InvalidTransition) as err:
        cancel(number, at=timezone.now(), operator=operator)
    assert err.value.code == "not_active"


def test_cancel_refuses_a_future_time_and_a_stale_one(active_number):
    with pytest.raises(InvalidTransition) as future:
        cancel(active_number, at=timezone.now() + timedelta(minutes=5))
    period = HolderPeriod.objects.get(number=active_number)
    with pytest.raises(InvalidTransition) as stale:
        cancel(active_number, at=period.started_at - timedelta(seconds=1))
    assert (future.value.code, stale.value.code) == ("future_time", "stale")
    active_number.refresh_from_db()
    assert active_number.state == State.ACTIVE


def test_only_the_serving_operator_cancels(active_number, other_operator):
    with pytest.raises(WrongOperator):
        cancel(active_number, at=timezone.now(), operator=other_operator)


# --- ports -----------------------------------------------------------------------------------


def test_a_port_keeps_the_holding_and_changes_the_serving_operator(active_number, operator, other_operator):
    period = HolderPeriod.objects.get(number=active_number)
    number_port(number=active_number, from_operator=operator, to_operator=other_operator, at=timezone.now(),
                actor="feed", reported_by=operator)
    active_number.refresh_from_db()

    assert active_number.state == State.ACTIVE
    assert active_number.serving_operator == other_operator
    assert active_number.range_holder == operator
    assert HolderPeriod.objects.get(number=active_number, ended_at__isnull=True) == period
    assert active_number.events.filter(kind=EventKind.PORT_OUT).count() == 1


def test_a_ported_number_snaps_back_to_its_range_holder_at_cancellation(active_number, operator, other_operator):
    number_port(number=active_number, from_operator=operator, to_operator=other_operator, at=timezone.now(),
                actor="feed", reported_by=other_operator)
    active_number.refresh_from_db()
    assert active_number.events.filter(kind=EventKind.PORT_IN).count() == 1

    with pytest.raises(WrongOperator):
        cancel(active_number, at=timezone.now(), operator=operator)
    cancel(active_number, at=timezone.now(), operator=other_operator)

    assert active_number.state == State.FROZEN
    assert active_number.serving_operator == operator
    assert active_number.events.get(kind=EventKind.CANCEL).detail["returned_to"] == "CMCC"


def test_a_port_is_refused_for_a_number_that_is_not_active_or_to_the_same_operator(
    frozen_number, active_number, operator, other_operator
):
    with pytest.raises(InvalidTransition):
        number_port(number=frozen_number, from_operator=operator, to_operator=other_operator, at=timezone.now(),
                    actor="feed", reported_by=operator)
    with pytest.raises(InvalidTransition):
        number_port(number=active_number, from_operator=operator, to_operator=operator, at=timezone.now(),
                    actor="feed", reported_by=operator)


# --- release and the 90-day rule -------------------------------------------------------------


def test_release_one_second_before_90_days_is_refused_and_exactly_at_90_days_allowed(active_number):
    at = timezone.now() - 200 * DAY
    cancel(active_number, at=at)

    assert release_sweep(now=at + 90 * DAY - timedelta(seconds=1)) == 0
    active_number.refresh_from_db()
    assert active_number.state == State.FROZEN

    assert release_sweep(now=at + 90 * DAY) == 1
    active_number.refresh_from_db()
    assert active_number.state == State.AVAILABLE and active_number.is_secondary
    assert active_number.released_at == at + 90 * DAY
    assert active_number.events.get(kind=EventKind.RELEASE).actor == "release sweep"


def test_the_database_refuses_a_release_before_90_days(frozen_number):
    from numbers.models import PhoneNumber

    with pytest.raises(IntegrityError), transaction.atomic():
        PhoneNumber.objects.filter(pk=frozen_number.pk).update(
            state=State.AVAILABLE, released_at=frozen_number.cancelled_at + 89 * DAY
        )


def test_the_database_refuses_a_freeze_under_90_days(frozen_number):
    from numbers.models import PhoneNumber

    with pytest.raises(IntegrityError), transaction.atomic():
        PhoneNumber.objects.filter(pk=frozen_number.pk).update(frozen_until=frozen_number.cancelled_at + 30 * DAY)


def test_a_raised_min_freeze_days_holds_back_numbers_already_frozen(active_number, settings):
    at = timezone.now() - 100 * DAY
    cancel(active_number, at=at)
    settings.MIN_FREEZE_DAYS = 120

    assert release_sweep() == 0
    assert release_sweep(now=at + 120 * DAY) == 1


def test_running_the_release_sweep_twice_changes_nothing(active_number):
    at = timezone.now() - 100 * DAY
    cancel(active_number, at=at)
    assert release_sweep() == 1
    assert release_sweep() == 0
    assert active_number.events.filter(kind=EventKind.RELEASE).count() == 1


def test_the_release_sweep_works_in_chunks_with_one_event_each(operator, outlet, clerk):
    at = timezone.now() - 100 * DAY
    numbers = [PhoneNumberFactory(range_holder=operator) for _ in range(7)]
    for n in numbers:
        number_allocate(number=n, outlet=outlet, staff=clerk, customer_ref="REF-1", disclosure=None, now=at - DAY)
    for n in numbers:
        n.refresh_from_db()
        number_cancel(number=n, operator=operator, at=at + timedelta(minutes=1), actor="feed")

    assert release_sweep(chunk_size=3) == 7
    assert Event.objects.filter(kind=EventKind.RELEASE).count() == 7


def test_a_number_recycled_twice_starts_a_fresh_cycle_each_time(active_number, outlet, clerk, disclosure):
    first_at = timezone.now() - 300 * DAY
    HolderPeriod.objects.filter(number=active_number).update(started_at=first_at - DAY)
    cancel(active_number, at=first_at)
    first_cycle = active_number.cycle
    extend = mark(active_number, MarkEffect.EXTEND, days=10)
    release_sweep(now=first_at + 101 * DAY)
    active_number.refresh_from_db()
    HolderPeriod.objects.filter(number=active_number)  # history kept

    second = number_allocate(number=active_number, outlet=outlet, staff=clerk, customer_ref="REF-2",
                             disclosure=disclosure, now=first_at + 102 * DAY)
    extend.refresh_from_db()
    assert extend.ended_at is not None  # the mark ended with its cycle
    cancel(active_number, at=first_at + 150 * DAY)

    assert active_number.cycle == second
    assert active_number.cycle != first_cycle
    assert active_number.frozen_until == first_at + 240 * DAY  # the old extension no longer counts
    assert HolderPeriod.objects.filter(number=active_number).count() == 2
    release_sweep(now=first_at + 240 * DAY)
    active_number.refresh_from_db()
    assert active_number.state == State.AVAILABLE
    assert active_number.events.filter(kind=EventKind.RELEASE).count() == 2


# --- risk marks ------------------------------------------------------------------------------


def test_frozen_until_follows_the_longest_extend_mark_in_force(frozen_number):
    base = frozen_number.cancelled_at
    m10 = mark(frozen_number, MarkEffect.EXTEND, days=10)
    assert frozen_number.frozen_until == base + 100 * DAY
    m30 = mark(frozen_number, MarkEffect.EXTEND, days=30)
    mark(frozen_number, MarkEffect.EXTEND, days=20)
    assert frozen_number.frozen_until == base + 120 * DAY

    lift(m30, frozen_number)
    assert frozen_number.frozen_until == base + 110 * DAY
    lift(m10, frozen_number)
    assert frozen_number.frozen_until == base + 110 * DAY
    assert frozen_number.state == State.FROZEN


def test_lifting_all_extend_marks_returns_to_the_90_day_freeze(frozen_number):
    m = mark(frozen_number, MarkEffect.EXTEND, days=45)
    lift(m, frozen_number)
    assert frozen_number.frozen_until == frozen_number.cancelled_at + 90 * DAY
    with pytest.raises(InvalidTransition):
        risk_mark_lift(mark=m, actor="regulator")


def test_suspend_from_frozen_and_lift_back_with_frozen_until_recomputed(frozen_number):
    s = mark(frozen_number, MarkEffect.SUSPEND)
    assert (frozen_number.state, frozen_number.suspended_from) == (State.SUSPENDED, State.FROZEN)
    mark(frozen_number, MarkEffect.EXTEND, days=15)
    assert frozen_number.state == State.SUSPENDED

    lift(s, frozen_number)
    assert (frozen_number.state, frozen_number.suspended_from) == (State.FROZEN, "")
    assert frozen_number.frozen_until == frozen_number.cancelled_at + 105 * DAY


def test_a_suspended_number_is_not_released_even_after_its_freeze(frozen_number):
    mark(frozen_number, MarkEffect.SUSPEND)
    assert release_sweep(now=frozen_number.cancelled_at + 200 * DAY) == 0


def test_suspend_a_never_used_number_and_lift_it_back_to_available(new_number):
    s = mark(new_number, MarkEffect.SUSPEND)
    assert (new_number.state, new_number.suspended_from) == (State.SUSPENDED, State.AVAILABLE)
    assert s.cycle is None
    lift(s, new_number)
    assert (new_number.state, new_number.suspended_from) == (State.AVAILABLE, "")


def test_an_extend_mark_on_a_never_used_number_is_refused(new_number):
    with pytest.raises(InvalidTransition) as err:
        mark(new_number, MarkEffect.EXTEND, days=10)
    assert err.value.code == "no_freeze"
    assert not RiskMark.objects.exists()


def test_only_the_last_suspend_mark_lifted_ends_the_suspension(new_number):
    first = mark(new_number, MarkEffect.SUSPEND)
    second = mark(new_number, MarkEffect.SUSPEND)
    lift(first, new_number)
    assert new_number.state == State.SUSPENDED
    lift(second, new_number)
    assert new_number.state == State.AVAILABLE


def test_suspend_a_released_number_and_lift_it_back_to_available(active_number):
    cancel(active_number, at=timezone.now() - 100 * DAY)
    release_sweep()
    active_number.refresh_from_db()
    s = mark(active_number, MarkEffect.SUSPEND)
    assert (active_number.state, active_number.suspended_from) == (State.SUSPENDED, State.AVAILABLE)
    lift(s, active_number)
    assert active_number.state == State.AVAILABLE and active_number.is_secondary


def test_an_extend_mark_takes_a_released_number_back_to_frozen(active_number):
    at = timezone.now() - 95 * DAY
    cancel(active_number, at=at)
    release_sweep()
    active_number.refresh_from_db()
    assert active_number.state == State.AVAILABLE

    mark(active_number, MarkEffect.EXTEND, days=30)
    assert active_number.state == State.FROZEN
    assert active_number.frozen_until == at + 120 * DAY
    assert active_number.released_at is None


def test_an_extend_mark_whose_freeze_is_already_over_leaves_a_released_number_available(active_number):
    at = timezone.now() - 200 * DAY
    cancel(active_number, at=at)
    release_sweep()
    active_number.refresh_from_db()
    mark(active_number, MarkEffect.EXTEND, days=10)
    assert active_number.state == State.AVAILABLE


def test_marks_on_an_active_number_wait_for_its_cancellation(active_number):
    extend = mark(active_number, MarkEffect.EXTEND, days=60)
    assert active_number.state == State.ACTIVE and active_number.frozen_until is None
    at = timezone.now() - DAY
    cancel(active_number, at=at)
    assert active_number.frozen_until == at + 150 * DAY
    assert extend.cycle == active_number.cycle


def test_a_suspend_mark_waiting_on_an_active_number_suspends_it_at_cancellation(active_number):
    s = mark(active_number, MarkEffect.SUSPEND)
    cancel(active_number, at=timezone.now())
    assert (active_number.state, active_number.suspended_from) == (State.SUSPENDED, State.FROZEN)
    assert active_number.events.get(kind=EventKind.CANCEL).to_state == State.SUSPENDED
    lift(s, active_number)
    assert active_number.state == State.FROZEN


def test_a_mark_lifted_while_active_does_not_count_at_cancellation(active_number):
    s = mark(active_number, MarkEffect.SUSPEND)
    lift(s, active_number)
    cancel(active_number, at=timezone.now())
    assert active_number.state == State.FROZEN


def test_every_mark_change_is_an_event_with_the_regulators_name(frozen_number, regulator):
    m = mark(frozen_number, MarkEffect.SUSPEND, actor=regulator)
    risk_mark_lift(mark=m, actor=regulator)
    events = frozen_number.events.filter(kind__in=[EventKind.MARK_PLACED, EventKind.MARK_LIFTED]).order_by("id")
    assert [(e.kind, e.from_state, e.to_state, e.actor) for e in events] == [
        ("mark_placed", "frozen", "suspended", "regulator"),
        ("mark_lifted", "suspended", "frozen", "regulator"),
    ]


@pytest.mark.parametrize("kwargs", [
    {"effect": "extend", "extra_days": 0},
    {"effect": "extend", "extra_days": None},
    {"effect": "extend", "extra_days": 4000},
    {"effect": "destroy"},
    {"effect": "suspend", "category": "gossip"},
    {"effect": "suspend", "authority": "  "},
])
def test_bad_marks_are_refused_with_nothing_written(frozen_number, kwargs):
    from django.core.exceptions import ValidationError

    args = {"category": "fraud", "authority": "MIIT", "extra_days": None, **kwargs}
    with pytest.raises(ValidationError):
        risk_mark_place(number=frozen_number, actor="r", **args)
    assert not RiskMark.objects.exists()


# --- the event log ---------------------------------------------------------------------------


def test_events_are_append_only(active_number):
    event = active_number.events.first()
    event.reason = "rewritten"
    with pytest.raises(AppendOnlyError):
        event.save()
    with pytest.raises(AppendOnlyError):
        event.delete()


def test_the_database_refuses_to_rewrite_an_event(active_number):
    from django.db import DatabaseError

    with pytest.raises(DatabaseError), transaction.atomic():
        Event.objects.filter(number=active_number).update(actor="someone else")
