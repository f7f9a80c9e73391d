"""Data sets more than one feature's tests read: dead deliveries, the renewal dashboard's known figures."""

from datetime import datetime, time, timedelta

import pytest
from django.utils import timezone

from renewal.deliveries import services
from renewal.models import (
    BatchChunk,
    Delivery,
    DeliveryEvent,
    DeliveryState,
    HarassmentReport,
    RecycleBatch,
    UnbindRequest,
    UnbindTask,
)
from tests.renewal.helpers_renewal import make_frozen_numbers, make_platform
from tests.renewal.helpers_subscriber import allocated


@pytest.fixture
def dead(operator, other_operator, django_capture_on_commit_callbacks):
    """A platform with a webhook and its deliveries of two operators' batches, all dead after a 503."""
    platform = make_platform(webhook_url="https://hooks.example.com/x")
    make_frozen_numbers(operator, 2)
    make_frozen_numbers(other_operator, 2)
    with django_capture_on_commit_callbacks(execute=False):
        services.batch_sweep()
    Delivery.objects.update(state=DeliveryState.DEAD, last_error="HTTP 503: down", next_attempt_at=None)
    return platform


@pytest.fixture
def known(operator, outlet, clerk):
    """The renewal dashboard's known data set (rows written where their times matter): platforms Good (always
    confirms), Late (one overdue, one cancelled), Dead (dead and pending); their unbind tasks; harassment reports."""
    H = timedelta(hours=1)
    now = timezone.now()
    good, late, dead = (make_platform(n) for n in ("Good", "Late", "Dead"))
    b1 = RecycleBatch.objects.create(operator=operator, created_at=now - timedelta(days=6), size=3000)
    b2 = RecycleBatch.objects.create(operator=operator, created_at=now - timedelta(days=6), size=10)
    c1, c2, c3 = (BatchChunk.objects.create(batch=b1, seq=i, size=1000) for i in range(3))
    c4 = BatchChunk.objects.create(batch=b2, seq=0, size=10)
    base = now - timedelta(days=6)

    def delivery(platform, chunk, state, sent=None, confirmed_after=None, event=DeliveryEvent.BATCH):
        Delivery.objects.create(event=event, platform=platform, operator=operator, chunk=chunk, state=state,
                                created_at=base, sent_at=sent,
                                confirmed_at=sent + confirmed_after if confirmed_after else None)

    for chunk, hours in ((c1, 1), (c2, 2), (c3, 3), (c4, 10)):
        delivery(good, chunk, DeliveryState.CONFIRMED, base, hours * H)
    delivery(good, None, DeliveryState.CONFIRMED, base, 100 * H, event=DeliveryEvent.UNBIND)  # not a batch
    delivery(late, c1, DeliveryState.CONFIRMED, base, 4 * H)
    delivery(late, c2, DeliveryState.SENT, now - timedelta(days=5))
    delivery(late, c3, DeliveryState.SENT, now - timedelta(days=1))
    delivery(late, c4, DeliveryState.CANCELLED)
    delivery(dead, c1, DeliveryState.DEAD)
    delivery(dead, c2, DeliveryState.PENDING)

    outcomes = [{good: "unbound", late: "nothing_bound", dead: ""},
                {good: "unbound", late: "rejected", dead: "no_answer"},
                {good: "nothing_bound", dead: ""}]
    for answers in outcomes:
        number, period = allocated(operator, outlet, clerk)
        request = UnbindRequest.objects.create(number=number, holder_period=period, bound_before=period.started_at,
                                               created_at=now)
        for platform, result in answers.items():
            UnbindTask.objects.create(request=request, platform=platform, created_at=now, deadline_at=now + H,
                                      result=result, reason="legal_hold" if result == "rejected" else "")

    number, period = allocated(operator, outlet, clerk)
    today = timezone.localdate(now)
    monday = timezone.make_aware(datetime.combine(today - timedelta(days=today.weekday()), time.min))
    for category, at in (("marketing", monday + H), ("marketing", monday + 2 * H), ("fraud", monday + 3 * H),
                         ("debt_collection", monday - timedelta(weeks=3) + timedelta(days=1)),
                         ("other", monday - timedelta(weeks=13))):
        HarassmentReport.objects.create(number=number, holder_period=period, category=category, sender="95xxx",
                                        occurred_at=at, description="calls", created_at=at)
    return {"now": now, "monday": monday.date()}
