"""Whatever marks are placed and lifted, the freeze and the suspension follow docs/lifecycle.md's arithmetic."""

from datetime import timedelta

from django.utils import timezone
from hypothesis import given
from hypothesis import strategies as st

from numbers.models import MarkEffect, RiskMark, State
from numbers.services import number_allocate, number_cancel, risk_mark_lift, risk_mark_place
from tests.factories import PhoneNumberFactory

place_extend = st.tuples(st.just("extend"), st.integers(min_value=1, max_value=400))
place_suspend = st.tuples(st.just("suspend"), st.none())
lift_one = st.tuples(st.just("lift"), st.integers(min_value=0, max_value=50))
steps = st.lists(st.one_of(place_extend, place_suspend, lift_one), min_size=1, max_size=12)


@given(steps=steps)
def test_frozen_until_and_suspension_follow_the_marks_in_force(steps, operator, outlet, clerk):
    number = PhoneNumberFactory(range_holder=operator)
    now = timezone.now()
    number_allocate(number=number, outlet=outlet, staff=clerk, customer_ref="P-1", disclosure=None,
                    now=now - timedelta(days=30))
    number_cancel(number=number, operator=operator, at=now - timedelta(days=5), actor="feed")
    number.refresh_from_db()
    placed: list[RiskMark] = []

    for action, value in steps:
        if action == "lift":
            in_force = [m for m in placed if m.lifted_at is None]
            if not in_force:
                continue
            mark = in_force[value % len(in_force)]
            risk_mark_lift(mark=mark, actor="regulator")
            mark.refresh_from_db()
        else:
            placed.append(risk_mark_place(number=number, category="fraud", authority="MIIT", effect=action,
                                          extra_days=value, actor="regulator"))
        number.refresh_from_db()

        in_force = [m for m in placed if m.lifted_at is None]
        extra = max((m.extra_days for m in in_force if m.effect == MarkEffect.EXTEND), default=0)
        assert number.frozen_until == number.cancelled_at + timedelta(days=90 + extra)
        if any(m.effect == MarkEffect.SUSPEND for m in in_force):
            assert (number.state, number.suspended_from) == (State.SUSPENDED, State.FROZEN)
        else:
            assert (number.state, number.suspended_from) == (State.FROZEN, "")
