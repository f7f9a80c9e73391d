"""A risk list applies, set-based, exactly what `risk_mark_place` does to one number: checked on twins.

For each starting state, two numbers are made the same way; one gets the mark from the service, the other
from a list; their state, suspension, freeze and release must end equal, and so must their events.
"""

from datetime import timedelta

import pytest
from django.utils import timezone

from numbers.models import Event, EventKind, MarkEffect, PhoneNumber, RiskMark
from numbers.oversight.services import marks_place_from_lines
from numbers.services import number_allocate, number_cancel, risk_mark_place
from tests.factories import PhoneNumberFactory


def _twin(kind: str, operator, outlet, clerk, now) -> PhoneNumber:
    number = PhoneNumberFactory(range_holder=operator)
    if kind == "never used":
        return number
    number_allocate(number=number, outlet=outlet, staff=clerk, customer_ref="R1", disclosure=None,
                    now=now - timedelta(days=800))
    if kind == "active":
        return number
    cancelled = now - timedelta(days={"frozen": 10, "released": 95, "released long ago": 400}.get(kind, 10))
    number_cancel(number=number, operator=operator, at=cancelled, actor="test")
    if kind.startswith("released"):
        PhoneNumber.objects.filter(pk=number.pk).update(state="available", is_secondary=True,
                                                        released_at=cancelled + timedelta(days=91))
    if kind == "suspended":
        risk_mark_place(number=number, category="other", authority="X", effect=MarkEffect.SUSPEND, actor="test",
                        now=now)
    if kind == "extended":
        risk_mark_place(number=number, category="other", authority="X", effect=MarkEffect.EXTEND, extra_days=60,
                        actor="test", now=now)
    number.refresh_from_db()
    return number


FIELDS = ("state", "suspended_from", "frozen_until", "released_at", "cycle_id")


@pytest.mark.parametrize("kind", ["never used", "active", "frozen", "released", "released long ago", "suspended",
                                  "extended"])
@pytest.mark.parametrize("effect,extra", [(MarkEffect.SUSPEND, None), (MarkEffect.EXTEND, 30),
                                          (MarkEffect.EXTEND, 200)])
def test_a_list_does_what_the_service_does(kind, effect, extra, operator, outlet, clerk, regulator):
    now = timezone.now()
    by_service, by_list = _twin(kind, operator, outlet, clerk, now), _twin(kind, operator, outlet, clerk, now)
    terms = {"category": "fraud", "authority": "MPS", "reference": "L1", "effect": effect, "extra_days": extra}
    try:
        risk_mark_place(number=by_service, actor=regulator, now=now, **terms)
        refused = None
    except Exception as exc:  # noqa: BLE001 - the service's refusal is what the list must report
        refused = getattr(exc, "code", type(exc).__name__)
    summary = marks_place_from_lines(rows=[(1, by_list.msisdn)], actor=regulator, now=now, **terms)
    if refused:
        assert summary.rejected == {refused: 1}
        return
    assert summary.applied == 1
    by_service.refresh_from_db()
    by_list.refresh_from_db()
    assert [getattr(by_list, f) for f in FIELDS[:4]] == [getattr(by_service, f) for f in FIELDS[:4]]
    mark_s, mark_l = (RiskMark.objects.filter(number=n, reference="L1").get() for n in (by_service, by_list))
    assert (mark_l.cycle_id is None) == (mark_s.cycle_id is None) and mark_l.placed_by == regulator
    event_s, event_l = (Event.objects.filter(number=n, kind=EventKind.MARK_PLACED, reason__isnull=False)
                        .order_by("-id").first() for n in (by_service, by_list))
    assert (event_l.from_state, event_l.to_state, event_l.actor) == (event_s.from_state, event_s.to_state,
                                                                     event_s.actor)
    assert event_l.detail["extra_days"] == event_s.detail["extra_days"] and event_l.detail["mark"] == mark_l.pk
    if by_list.frozen_until:
        assert event_l.detail["frozen_until"][:19] == by_list.frozen_until.isoformat()[:19]


@pytest.mark.services
@pytest.mark.django_db
@pytest.mark.parametrize("kind", ["released", "suspended", "extended", "never used"])
def test_a_list_does_what_the_service_does_on_postgresql(require_postgres, kind, operator, outlet, clerk, regulator):
    for effect, extra in ((MarkEffect.SUSPEND, None), (MarkEffect.EXTEND, 30)):
        test_a_list_does_what_the_service_does(kind, effect, extra, operator, outlet, clerk, regulator)


def test_chunks_of_a_long_list_lock_and_apply_in_id_order(operator, regulator):
    numbers = [PhoneNumberFactory(range_holder=operator) for _ in range(25)]
    progress = []
    summary = marks_place_from_lines(rows=[(i + 1, n.msisdn) for i, n in enumerate(reversed(numbers))],
                                     category="fraud", authority="MPS", effect=MarkEffect.SUSPEND, extra_days=None,
                                     actor=regulator, chunk_size=10, progress=lambda d, t: progress.append((d, t)))
    assert summary.applied == 25
    assert [d for d, _t in progress] == [0, 10, 20, 25] and {t for _d, t in progress} == {25}
    events = list(Event.objects.filter(kind=EventKind.MARK_PLACED).order_by("id").values_list("number_id", flat=True))
    assert events == sorted(events)  # written chunk by chunk, in id order
