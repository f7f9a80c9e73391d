"""The batch-renewal sections of the compliance dashboard: figures on a known data set, on SQLite and PostgreSQL.

The data set is tests/renewal/conftest.py's `known`; the active-renewal sections are tested in
tests/renewal/active/test_dashboard.py.
"""

from datetime import timedelta

import pytest
from django.urls import reverse
from django.utils import timezone

from renewal.deliveries import dashboard
from renewal.models import Delivery
from tests.renewal.helpers_renewal import make_platform

DASHBOARD = reverse("admin:dashboard")
H = timedelta(hours=1)


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


def test_the_page_shows_the_renewal_sections(client, regulator, known):
    client.force_login(regulator)
    response = client.get(DASHBOARD)
    assert response.status_code == 200
    html = response.content.decode()
    for table in ("batch-confirmations", "push-to-confirmation"):
        assert f'<table id="{table}"' in html
    assert html.count("<svg") >= 8  # four numbers sections, four renewal sections
    assert 'id="platforms-overdue"' in html and 'id="platforms-never-confirming"' in html


@pytest.mark.services
def test_renewal_figures_on_postgresql(require_postgres, known):
    test_batches_and_confirmation_rates_per_platform(known)
    test_push_to_confirmation_percentiles_per_platform(known)


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
    batches = {r["platform"]: r for r in dashboard.batch_confirmations(now=start + timedelta(days=4))["rows"]}
    assert (batches["Quick"]["batches"], batches["Quick"]["confirmed"], batches["Quick"]["rate"]) == (1, 1, 100.0)
    assert (batches["Silent"]["confirmed"], batches["Silent"]["overdue"], batches["Silent"]["rate"]) == (0, 1, 0.0)
    assert [(r["platform"], r["count"], r["median"], r["p95"]) for r in dashboard.push_to_confirmation()["rows"]] == [
        ("Quick", 1, 6.0, 6.0)]
