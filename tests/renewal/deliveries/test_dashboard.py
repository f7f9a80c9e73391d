"""The renewal sections of the compliance dashboard: figures on a known data set, on SQLite and PostgreSQL.

Rows are written explicitly where their times must be controlled (sent_at, confirmed_at, created_at).
"""

from datetime import datetime, time, timedelta

import pytest
from django.urls import reverse
from django.utils import timezone

from renewal.active import dashboard as active_dashboard
from renewal.deliveries import dashboard
from renewal.deliveries import unbind as coalescer
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
from tests.renewal.helpers_renewal import make_platform
from tests.renewal.helpers_subscriber import allocated

DASHBOARD = reverse("admin:dashboard")
H = timedelta(hours=1)


@pytest.fixture
def known(operator, outlet, clerk):
    """Platforms Good (always confirms), Late (one overdue, one cancelled), Dead (dead and pending)."""
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
                                      result=result)

    number, period = allocated(operator, outlet, clerk)
    today = timezone.localdate(now)
    monday = timezone.make_aware(datetime.combine(today - timedelta(days=today.weekday()), time.min))
    for category, at in (("marketing", monday + H), ("marketing", monday + 2 * H), ("fraud", monday + 3 * H),
                         ("debt_collection", monday - timedelta(weeks=3) + timedelta(days=1)),
                         ("other", monday - timedelta(weeks=13))):
        HarassmentReport.objects.create(number=number, holder_period=period, category=category, sender="95xxx",
                                        occurred_at=at, description="calls", created_at=at)
    return {"now": now, "monday": monday.date()}


def test_batches_and_confirmation_rates_per_platform(known):
    data = dashboard.batch_confirmations(now=known["now"])
    rows = {r["platform"]: r for r in data["rows"]}
    assert list(rows) == ["Dead", "Good", "Late"]
    # states in DeliveryState order: pending, sent, confirmed, dead, cancelled
    assert (rows["Good"]["batches"], rows["Good"]["total"], rows["Good"]["counts"]) == (2, 4, [0, 0, 4, 0, 0])
    assert (rows["Good"]["rate"], rows["Good"]["overdue"], rows["Good"]["never_confirmed"]) == (100.0, 0, False)
    assert (rows["Late"]["batches"], rows["Late"]["total"], rows["Late"]["counts"]) == (2, 4, [0, 2, 1, 0, 1])
    assert (rows["Late"]["rate"], rows["Late"]["overdue"], rows["Late"]["never_confirmed"]) == (33.3, 1, False)
    assert (rows["Dead"]["batches"], rows["Dead"]["total"], rows["Dead"]["counts"]) == (1, 2, [1, 0, 0, 1, 0])
    assert (rows["Dead"]["rate"], rows["Dead"]["dead"], rows["Dead"]["never_confirmed"]) == (0.0, 1, True)
    assert data["overdue"] == ["Late"]
    assert data["never_confirming"] == ["Dead"]


def test_push_to_confirmation_percentiles_per_platform(known):
    rows = {r["platform"]: r for r in dashboard.push_to_confirmation()["rows"]}
    assert sorted(rows) == ["Good", "Late"]  # Dead never confirmed
    # Good: 1, 2, 3, 10 hours: median 2.5; 95th: position 0.95·3 = 2.85 → 3 + 0.85·7 = 8.95
    assert rows["Good"]["count"] == 4 and rows["Good"]["median"] == 2.5
    assert rows["Good"]["p95"] == pytest.approx(8.95, abs=0.051)  # rounded to 0.1 h
    assert (rows["Late"]["count"], rows["Late"]["median"], rows["Late"]["p95"]) == (1, 4.0, 4.0)


def test_unbind_requests_and_outcomes_per_platform(known):
    data = active_dashboard.unbind_outcomes()
    # unbound, nothing bound, rejected, no answer, waiting
    assert [(r["platform"], r["requests"], r["counts"]) for r in data["rows"]] == [
        ("Dead", 3, [0, 0, 0, 1, 2]), ("Good", 3, [2, 1, 0, 0, 0]), ("Late", 2, [0, 1, 1, 0, 0])]
    assert data["totals"] == {"requests": 8, "counts": [2, 2, 1, 1, 2]}


def test_harassment_reports_by_category_per_week(known):
    data = active_dashboard.harassment_by_week(now=known["now"])
    weeks = [r["week"] for r in data["rows"]]
    assert len(weeks) == 12 and weeks[-1] == known["monday"]
    assert weeks[0] == known["monday"] - timedelta(weeks=11)
    by_week = {r["week"]: r["counts"] for r in data["rows"]}
    # debt collection, marketing, fraud, other
    assert by_week[known["monday"]] == [0, 2, 1, 0]
    assert by_week[known["monday"] - timedelta(weeks=3)] == [1, 0, 0, 0]
    assert data["totals"] == {"counts": [1, 2, 1, 0], "total": 4}  # the report 13 weeks ago is out of range


def test_the_page_shows_the_renewal_sections(client, regulator, known):
    client.force_login(regulator)
    response = client.get(DASHBOARD)
    assert response.status_code == 200
    html = response.content.decode()
    for table in ("batch-confirmations", "push-to-confirmation", "unbind-outcomes", "harassment-by-week"):
        assert f'<table id="{table}"' in html
    assert html.count("<svg") >= 8  # four numbers sections, four renewal sections
    assert 'id="platforms-overdue"' in html and 'id="platforms-never-confirming"' in html


@pytest.mark.services
def test_renewal_figures_on_postgresql(require_postgres, known):
    test_batches_and_confirmation_rates_per_platform(known)
    test_push_to_confirmation_percentiles_per_platform(known)
    test_unbind_requests_and_outcomes_per_platform(known)
    test_harassment_reports_by_category_per_week(known)


def test_figures_follow_the_services(operator, outlet, clerk):
    """Built through the services: a pushed batch to two pull-only platforms, one confirming after 6 hours."""
    from renewal.active import services as unbind
    from renewal.deliveries import services
    from tests.renewal.helpers_renewal import make_frozen_numbers

    # given
    start = timezone.now() - timedelta(days=1)
    quick = make_platform(name="Quick")
    make_platform(name="Silent")
    make_frozen_numbers(operator, 3, now=start)
    services.batch_sweep(now=start)
    delivery = Delivery.objects.get(platform=quick)
    services.delivery_confirm(platform=quick, delivery_id=delivery.pk, unbound=2, not_found=1, now=start + 6 * H)
    _number, period = allocated(operator, outlet, clerk)
    request = unbind.unbind_request_create(period=period, now=start)
    coalescer.unbind_coalesce(now=start + timedelta(minutes=1))
    unbind.unbind_task_report(platform=quick, task_id=request.tasks.get(platform=quick).pk, status="unbound",
                              accounts=1, now=start + 2 * H)
    # then
    batches = {r["platform"]: r for r in dashboard.batch_confirmations(now=start + timedelta(days=4))["rows"]}
    assert (batches["Quick"]["batches"], batches["Quick"]["confirmed"], batches["Quick"]["rate"]) == (1, 1, 100.0)
    assert (batches["Silent"]["confirmed"], batches["Silent"]["overdue"], batches["Silent"]["rate"]) == (0, 1, 0.0)
    assert [(r["platform"], r["count"], r["median"], r["p95"]) for r in dashboard.push_to_confirmation()["rows"]] == [
        ("Quick", 1, 6.0, 6.0)]
    assert [(r["platform"], r["counts"]) for r in active_dashboard.unbind_outcomes()["rows"]] == [
        ("Quick", [1, 0, 0, 0, 0]), ("Silent", [0, 0, 0, 0, 1])]
