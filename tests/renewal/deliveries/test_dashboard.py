"""The batch-renewal sections of the compliance dashboard: figures on a known data set, on SQLite and PostgreSQL.

The data set is tests/renewal/conftest.py's `known`; the active-renewal sections are tested in
tests/renewal/active/test_dashboard.py.
"""

from datetime import date, timedelta

import pytest
from django.urls import reverse
from django.utils import timezone

from numbers.charts import DashboardFilter
from renewal.deliveries import dashboard
from renewal.models import Delivery
from tests.factories import OperatorFactory
from tests.renewal.helpers_renewal import make_platform

DASHBOARD = reverse("admin:dashboard")
H = timedelta(hours=1)


def test_batches_and_confirmation_rates_per_platform(known):
    data = dashboard.platform_deliveries(DashboardFilter.last_days(30), now=known["now"])
    rows = {r["platform"]: r for r in data["rows"]}
    assert list(rows) == ["Dead", "Good", "Late"]
    # states in DeliveryState order: pending, sent, confirmed, dead, cancelled
    assert (rows["Good"]["total"], rows["Good"]["counts"]) == (4, [0, 0, 4, 0, 0])
    assert (rows["Good"]["rate"], rows["Good"]["overdue"], rows["Good"]["never_confirmed"]) == (100.0, 0, False)
    assert (rows["Late"]["total"], rows["Late"]["counts"]) == (4, [0, 2, 1, 0, 1])
    assert (rows["Late"]["rate"], rows["Late"]["overdue"], rows["Late"]["never_confirmed"]) == (33.3, 1, False)
    assert (rows["Dead"]["total"], rows["Dead"]["counts"]) == (2, [1, 0, 0, 1, 0])
    assert (rows["Dead"]["rate"], rows["Dead"]["dead"], rows["Dead"]["never_confirmed"]) == (0.0, 1, True)
    assert data["overdue"] == ["Late"]
    assert data["never_confirming"] == ["Dead"]
    attention = {k: [r["platform"] for r in v] for k, v in data["attention"].items()}
    assert attention == {"overdue": ["Late"], "never_confirming": ["Dead"], "slowest": ["Good", "Late"],
                         "dead": ["Dead"]}
    # Good: 1, 2, 3, 10 hours: median 2.5; 95th: position 0.95·3 = 2.85 → 3 + 0.85·7 = 8.95
    assert rows["Good"]["median"] == 2.5 and rows["Good"]["p95"] == pytest.approx(8.95, abs=0.051)
    assert (rows["Late"]["median"], rows["Late"]["p95"]) == (4.0, 4.0)
    assert rows["Dead"]["p95"] is None
    # the lowest confirmation rates first, ten to a page
    assert [r["platform"] for r in data["table"].rows] == ["Dead", "Late", "Good"]


def test_a_range_before_the_batches_shows_nothing(known):
    f = DashboardFilter(start=date(2020, 1, 1), end=date(2020, 1, 31))
    assert dashboard.platform_deliveries(f, now=known["now"])["rows"] == []


def test_the_page_shows_the_platforms_and_their_links(client, regulator, known):
    client.force_login(regulator)
    response = client.get(DASHBOARD)
    assert response.status_code == 200
    html = response.content.decode()
    assert '<table id="platforms-table"' in html
    assert 'id="platforms-overdue"' in html and 'id="platforms-never-confirming"' in html
    (platforms,) = [s["data"] for s in response.context["sections"] if s["key"] == "platforms"]
    dead = next(r for r in platforms["rows"] if r["platform"] == "Dead")
    listed = client.get(dead["dead_link"])
    assert listed.status_code == 200 and [d.state for d in listed.context["cl"].queryset] == ["dead"]
    late = next(r for r in platforms["rows"] if r["platform"] == "Late")
    assert [d.state for d in client.get(late["overdue_link"]).context["cl"].queryset] == ["sent"]


def test_240_platforms_are_a_page_of_ten_not_a_chart(client, regulator, operator, known):
    from renewal.models import BatchChunk, Delivery, DeliveryEvent, DeliveryState, RecycleBatch

    batch = RecycleBatch.objects.create(operator=operator, created_at=known["now"], size=1)
    chunk = BatchChunk.objects.create(batch=batch, seq=0, size=1)
    Delivery.objects.bulk_create(
        Delivery(event=DeliveryEvent.BATCH, platform=make_platform(f"P{i:03d}"), operator=operator, chunk=chunk,
                 state=DeliveryState.SENT, created_at=known["now"], sent_at=known["now"]) for i in range(240))
    client.force_login(regulator)
    response = client.get(DASHBOARD, {"platforms_page": "3"})
    (platforms,) = [s["data"] for s in response.context["sections"] if s["key"] == "platforms"]
    assert len(platforms["table"].shown) == 10 and platforms["pager"]["pages"] == 25
    assert platforms["pager"]["page"] == 3 and "platforms_page=4" in platforms["pager"]["next"]
    assert response.content.decode().count("P0") <= 20  # never a bar per platform


@pytest.mark.services
def test_renewal_figures_on_postgresql(require_postgres, known):
    test_batches_and_confirmation_rates_per_platform(known)


def test_figures_follow_the_services(operator):
    """Built through the services: a pushed batch to two pull-only platforms, one confirming after 6 hours."""
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
    # then
    data = dashboard.platform_deliveries(DashboardFilter.last_days(7), now=start + timedelta(days=4))
    rows = {r["platform"]: r for r in data["rows"]}
    assert (rows["Quick"]["confirmed"], rows["Quick"]["rate"], rows["Quick"]["p95"]) == (1, 100.0, 6.0)
    assert (rows["Silent"]["confirmed"], rows["Silent"]["overdue"], rows["Silent"]["rate"]) == (0, 1, 0.0)
    # an operator's own view counts its own batches only
    assert dashboard.platform_deliveries(DashboardFilter.last_days(7, operator=OperatorFactory(code="ZZ")))[
        "rows"] == []
