"""The dashboard's daily snapshots of stock figures: written at night, back-filled from the events, drawn as trends."""

from datetime import timedelta

import pytest
from django.core.management import call_command
from django.utils import timezone

from numbers.charts import DashboardFilter
from numbers.models import DailySnapshot, State
from numbers.oversight import dashboard
from numbers.services import number_allocate, number_cancel
from numbers.snapshots import snapshots_backfill, snapshots_take
from numbers.tasks import daily_snapshot_task
from tests.factories import PhoneNumberFactory


def _figures(day, operator) -> dict[str, int]:
    return dict(DailySnapshot.objects.filter(day=day, operator=operator).values_list("key", "value"))


def test_the_nightly_task_writes_yesterdays_stock_and_running_it_again_rewrites_it(operator, frozen_number):
    PhoneNumberFactory(range_holder=operator)
    yesterday = timezone.localdate() - timedelta(days=1)
    assert daily_snapshot_task() > 0
    figures = _figures(yesterday, operator)
    assert figures["state:frozen"] == 1 and figures["state:available"] == 1
    assert "renewal:frozen" in figures  # the renewal app's provider, registered in its ready()
    rows = DailySnapshot.objects.count()
    daily_snapshot_task()
    assert DailySnapshot.objects.count() == rows


def test_the_backfill_rebuilds_past_days_from_the_events(operator, outlet, clerk):
    now = timezone.now()
    numbers = [PhoneNumberFactory(range_holder=operator) for _ in range(3)]
    for n in numbers:
        number_allocate(number=n, outlet=outlet, staff=clerk, customer_ref="R1", disclosure=None,
                        now=now - timedelta(days=400))
    number_cancel(number=numbers[0], operator=operator, at=now - timedelta(days=5), actor="test")
    number_cancel(number=numbers[1], operator=operator, at=now - timedelta(days=2), actor="test")
    today = timezone.localdate()
    snapshots_backfill(days=10, today=today)
    six_ago, three_ago, yesterday = (today - timedelta(days=d) for d in (6, 3, 1))
    assert (_figures(six_ago, operator)["state:active"], _figures(six_ago, operator)["state:frozen"]) == (3, 0)
    assert (_figures(three_ago, operator)["state:active"], _figures(three_ago, operator)["state:frozen"]) == (2, 1)
    assert (_figures(yesterday, operator)["state:active"], _figures(yesterday, operator)["state:frozen"]) == (1, 2)
    # and the dashboard draws the trend from them
    data = dashboard.numbers_by_state(DashboardFilter.last_days(10))
    assert data["has_trend"] and data["chart"].count("<rect") > 10


def test_the_backfill_command_checks_its_argument(db):
    from django.core.management.base import CommandError

    with pytest.raises(CommandError):
        call_command("snapshots_backfill", "--days", "0")
    call_command("snapshots_backfill", "--days", "3")


def test_snapshots_take_for_a_given_day(operator, new_number):
    day = timezone.localdate() - timedelta(days=30)
    snapshots_take(day=day)
    assert _figures(day, operator)["state:" + State.AVAILABLE] == 1
