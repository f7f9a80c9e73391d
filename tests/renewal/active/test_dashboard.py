"""The active-renewal sections of the compliance dashboard: figures on a known data set, on SQLite and PostgreSQL.

The data set is tests/renewal/conftest.py's `known`; the batch-renewal sections are tested in
tests/renewal/deliveries/test_dashboard.py.
"""

from datetime import timedelta

import pytest
from django.urls import reverse
from django.utils import timezone

from numbers.charts import DashboardFilter
from renewal.active import dashboard as active_dashboard
from renewal.deliveries import unbind as coalescer
from tests.renewal.helpers_renewal import make_platform
from tests.renewal.helpers_subscriber import allocated

DASHBOARD = reverse("admin:dashboard")
H = timedelta(hours=1)


def test_unbind_requests_and_outcomes_per_platform(known):
    data = active_dashboard.unbind_outcomes(DashboardFilter.last_days(30))
    # unbound, nothing bound, rejected, no answer, waiting
    assert [(r["platform"], r["requests"], r["counts"]) for r in data["rows"]] == [
        ("Dead", 3, [0, 0, 0, 1, 2]), ("Good", 3, [2, 1, 0, 0, 0]), ("Late", 2, [0, 1, 1, 0, 0])]
    assert data["totals"] == {"requests": 8, "counts": [2, 2, 1, 1, 2], "dead": 0}
    assert [r["platform"] for r in data["attention"]["rejected"]] == ["Late"]
    assert [r["platform"] for r in data["attention"]["no_answer"]] == ["Dead"]
    assert [r["platform"] for r in data["table"].rows][0] == "Late"  # the most rejections first


def test_harassment_reports_by_category_in_the_range(known):
    data = active_dashboard.harassment_reports(DashboardFilter.last_days(30))
    figures = {f["category"]: f["n"] for f in data["figures"]}
    # this week's three, and the one of three weeks ago; not the one 13 weeks ago
    assert data["total"] == 4
    assert (figures["marketing"], figures["fraud"], figures["debt_collection"], figures["other"]) == (2, 1, 1, 0)
    weekly = active_dashboard.harassment_reports(DashboardFilter.last_days(120))
    assert weekly["total"] == 5 and "≥" in weekly["chart"]


def test_the_page_shows_the_active_renewal_sections(client, regulator, known):
    client.force_login(regulator)
    response = client.get(DASHBOARD)
    assert response.status_code == 200
    html = response.content.decode()
    assert '<table id="unbind-table"' in html and 'id="harassment-figures"' in html
    (harassment,) = [s["data"] for s in response.context["sections"] if s["key"] == "harassment"]
    marketing = next(f for f in harassment["figures"] if f["category"] == "marketing")
    assert client.get(marketing["link"]).context["cl"].queryset.count() == 2


@pytest.mark.services
def test_active_renewal_figures_on_postgresql(require_postgres, known):
    test_unbind_requests_and_outcomes_per_platform(known)
    test_harassment_reports_by_category_in_the_range(known)


def test_figures_follow_the_services(operator, outlet, clerk):
    """Built through the services: an unbind request to two pull-only platforms, one answering after 2 hours."""
    from renewal.active import services as unbind

    # given
    start = timezone.now() - timedelta(days=1)
    quick = make_platform(name="Quick")
    make_platform(name="Silent")
    _number, period = allocated(operator, outlet, clerk)
    request = unbind.unbind_request_create(period=period, now=start)
    coalescer.unbind_coalesce(now=start + timedelta(minutes=1))
    unbind.unbind_task_report(platform=quick, task_id=request.tasks.get(platform=quick).pk, status="unbound",
                              accounts=1, now=start + 2 * H)
    # then
    assert [(r["platform"], r["counts"]) for r in active_dashboard.unbind_outcomes(DashboardFilter.last_days(7))[
        "rows"]] == [
        ("Quick", [1, 0, 0, 0, 0]), ("Silent", [0, 0, 0, 0, 1])]
