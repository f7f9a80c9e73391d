"""The dashboard's daily snapshots of stock figures: numbers by state, renewal completion, coverage, per operator.

A stock figure (how many numbers are frozen) cannot be read back from a day in the past the way a flow figure
(how many were cancelled that day) can be counted from its event rows, and counting it from the number table on
every page view would scan millions of rows per day of the range. So a beat task writes each day's figures
shortly after midnight (`snapshots_take`), and the dashboard draws the trends from these small rows.

Providers give the figures: this core's numbers by state, and whatever other apps register through
`register_stock` (the renewal app: renewal completion), so the core never imports them. `snapshots_backfill`
writes the past days of the numbers-by-state figures once, from the events: today's counts minus each later
day's transitions.
"""

from __future__ import annotations

from collections import defaultdict
from collections.abc import Callable, Iterable
from datetime import date, datetime, time, timedelta

from django.db import transaction
from django.db.models import Count, F, Q
from django.db.models.functions import TruncDate
from django.utils import timezone

from numbers.models import DailySnapshot, Event, PhoneNumber, State

# (operator id, key, value) rows of one provider, for the day being written.
StockRows = Iterable[tuple[int, str, int]]
StockProvider = Callable[[], StockRows]

_providers: list[StockProvider] = []


def register_stock(provider: StockProvider) -> None:
    """Add a provider of stock figures (called from an app's ready(); registering twice is harmless)."""
    if provider not in _providers:
        _providers.append(provider)


def numbers_by_state_stock() -> StockRows:
    """Numbers per range holder by state (`state:<state>`) and how many are secondary: one grouped scan."""
    grouped = (PhoneNumber.objects.order_by().values_list("range_holder_id", "state")
               .annotate(n=Count("pk"), secondary=Count("pk", filter=Q(is_secondary=True))))
    secondary: dict[int, int] = defaultdict(int)
    for operator_id, state, n, sec in grouped:
        secondary[operator_id] += sec
        yield operator_id, f"state:{state}", n
    for operator_id, n in secondary.items():
        yield operator_id, "secondary", n


def snapshots_take(*, day: date | None = None) -> int:
    """Write the stock figures as they are now under `day` (default: yesterday, the day that just ended)."""
    day = day or timezone.localdate() - timedelta(days=1)
    rows = [DailySnapshot(day=day, operator_id=op, key=key, value=value)
            for provider in (numbers_by_state_stock, *_providers) for op, key, value in provider()]
    with transaction.atomic():
        DailySnapshot.objects.filter(day=day).delete()
        DailySnapshot.objects.bulk_create(rows, batch_size=1000)
    return len(rows)


def snapshots_backfill(*, days: int, today: date | None = None) -> int:
    """Write the numbers-by-state figures of the `days` days before today from the events; return the rows.

    The stock at the end of day D is today's stock minus the transitions of every later day: one grouped
    query of today's counts, one grouped query of the events since D. Days already written are replaced.
    """
    today = today or timezone.localdate()
    first = today - timedelta(days=days)
    since = timezone.make_aware(datetime.combine(first + timedelta(days=1), time.min))
    stock: dict[tuple[int, str], int] = defaultdict(int)
    for op, key, value in numbers_by_state_stock():
        if key.startswith("state:"):
            stock[(op, key)] = value
    moves: dict[date, list[tuple[int, str, str, int]]] = defaultdict(list)
    grouped = (Event.objects.filter(at__gte=since).exclude(from_state=F("to_state")).order_by()
               .annotate(day=TruncDate("at", tzinfo=timezone.get_current_timezone()))
               .values_list("day", "number__range_holder_id", "from_state", "to_state").annotate(n=Count("pk")))
    for day, op, from_state, to_state, n in grouped:
        moves[day].append((op, from_state, to_state, n))
    rows = []
    day = today
    while day > first:
        # Undo the day's transitions: what remains is the stock at the end of the day before.
        for op, from_state, to_state, n in moves.get(day, []):
            if to_state in State.values:
                stock[(op, f"state:{to_state}")] -= n
            if from_state in State.values:
                stock[(op, f"state:{from_state}")] += n
        day -= timedelta(days=1)
        rows += [DailySnapshot(day=day, operator_id=op, key=key, value=max(value, 0))
                 for (op, key), value in stock.items()]
    with transaction.atomic():
        DailySnapshot.objects.filter(day__gte=first, day__lt=today, key__startswith="state:").delete()
        DailySnapshot.objects.bulk_create(rows, batch_size=1000)
    return len(rows)

