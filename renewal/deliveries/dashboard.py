"""Batch renewal's section of the compliance dashboard: the platforms, never a chart of every one of them.

Per platform, for the batch deliveries made in the range: deliveries by state, the confirmation rate, overdue
and dead deliveries, and the 95th-percentile time from push (`sent_at`) to confirmation — one grouped query
(the percentiles in it on PostgreSQL; SQLite computes them in a second one). The page shows the platforms that
need attention (overdue, never confirming, slowest, dead) and a sortable, paged table of all of them; each
figure links to the filtered delivery list. The trend is the confirmations per day (one query).
"""

from datetime import datetime, timedelta
from typing import Any

from django.conf import settings
from django.db import connection
from django.db.models import Count, F, QuerySet, Sum
from django.db.models.functions import TruncDate
from django.utils import timezone
from django.utils.translation import gettext as _
from django.utils.translation import gettext_lazy

from numbers.charts import (
    Column,
    DashboardFilter,
    DurationSeconds,
    Section,
    admin_link,
    column_chart,
    paged_table,
    percentiles,
    rate,
    top,
    trend_series,
)
from numbers.models import DailySnapshot, Operator, PhoneNumber, State
from renewal.models import BatchChunk, BatchEntry, Delivery, DeliveryEvent, DeliveryState, Platform

# A batch delivery sent (2xx) but not confirmed for longer than this is overdue. Three days: well inside
# RENEWAL_LEAD_DAYS (numbers are pushed that long before their freeze ends), so a late platform is named
# while there is still time to chase it before the release sweep's grace period.
CONFIRMATION_OVERDUE_DAYS = getattr(settings, "CONFIRMATION_OVERDUE_DAYS", 3)
HOUR = 3600.0

_STATES = list(DeliveryState.values)


def _current_sql(f: DashboardFilter, cutoff: datetime) -> tuple[str, list[Any]]:
    counts = ", ".join(f"COUNT(CASE WHEN d.state = '{s}' THEN 1 END)" for s in _STATES)
    pct = "NULL, NULL"
    if connection.vendor == "postgresql":
        seconds = "EXTRACT(EPOCH FROM (d.confirmed_at - d.sent_at))"
        pct = ", ".join(f"percentile_cont({q}) WITHIN GROUP (ORDER BY {seconds}) FILTER (WHERE d.confirmed_at IS "
                        "NOT NULL AND d.sent_at IS NOT NULL)" for q in ("0.5", "0.95"))
    sql = (f"SELECT d.platform_id, p.name, COUNT(*), {counts}, "
           "COUNT(CASE WHEN d.state = 'sent' AND d.sent_at < %s THEN 1 END), " + pct + " "
           f"FROM {Delivery._meta.db_table} AS d JOIN {Platform._meta.db_table} AS p ON p.id = d.platform_id "
           "WHERE d.event = %s AND NOT d.test AND d.created_at >= %s AND d.created_at < %s")
    params: list[Any] = [cutoff, DeliveryEvent.BATCH, f.since, f.until]
    if f.operator is not None:
        sql += " AND d.operator_id = %s"
        params.append(f.operator.pk)
    return sql + " GROUP BY d.platform_id, p.name ORDER BY p.name", params


def platform_deliveries(f: DashboardFilter, now: datetime | None = None) -> dict[str, Any]:
    """Per platform: batch deliveries by state, confirmation rate, overdue, dead, push-to-confirmation hours."""
    now = now or timezone.now()
    cutoff = now - timedelta(days=CONFIRMATION_OVERDUE_DAYS)
    sql, params = _current_sql(f, cutoff)
    with connection.cursor() as cursor:
        cursor.execute(sql, [connection.ops.adapt_datetimefield_value(p) if isinstance(p, datetime) else p
                             for p in params])
        grouped = cursor.fetchall()
    hours = {}
    if connection.vendor != "postgresql" and grouped:
        for r in percentiles(_batch_deliveries(f).filter(sent_at__isnull=False, confirmed_at__isnull=False),
                             value=DurationSeconds(F("confirmed_at"), F("sent_at")), group_by="platform_id"):
            hours[r.group] = (r.values[0.5], r.values[0.95])
    rows = [_row(f, r, hours, cutoff) for r in grouped]
    table = paged_table(f, "platforms", [
        Column("platform", gettext_lazy("Platform"), numeric=False), Column("total", gettext_lazy("deliveries")),
        Column("rate", gettext_lazy("confirmed (%)")), Column("overdue", gettext_lazy("overdue")),
        Column("dead", gettext_lazy("dead")), Column("p95", gettext_lazy("p95 hours to confirm")),
    ], rows, default_sort="rate")
    confirmed = (_batch_deliveries(f, by="confirmed_at")
                 .annotate(day=TruncDate("confirmed_at", tzinfo=timezone.get_current_timezone()))
                 .values_list("day").annotate(n=Count("pk")))
    series = trend_series(f, ((day, 1, n) for day, n in confirmed), [1])
    chart = column_chart(title=_("Batch deliveries confirmed"), buckets=f.buckets(),
                         series=[(_("confirmed"), series[0])], weekly=f.weekly)
    return {
        "states": [s.label for s in DeliveryState], "rows": rows, "table": table, "chart": chart,
        "overdue_days": CONFIRMATION_OVERDUE_DAYS,
        "attention": {
            "overdue": top(rows, "overdue"),
            "never_confirming": top([r for r in rows if r["never_confirmed"]], "expected"),
            "slowest": top(rows, "p95"),
            "dead": top(rows, "dead"),
        },
        "overdue": [r["platform"] for r in rows if r["overdue"]],
        "never_confirming": [r["platform"] for r in rows if r["never_confirmed"] or r["dead"]],
        "totals": {"total": sum(r["total"] for r in rows), "confirmed": sum(r["confirmed"] for r in rows),
                   "dead": sum(r["dead"] for r in rows), "overdue": sum(r["overdue"] for r in rows)},
    }


def _batch_deliveries(f: DashboardFilter, by: str = "created_at") -> QuerySet[Delivery]:
    deliveries = Delivery.objects.real().filter(event=DeliveryEvent.BATCH,
                                                **{f"{by}__gte": f.since, f"{by}__lt": f.until})
    if f.operator is not None:
        deliveries = deliveries.filter(operator=f.operator)
    return deliveries.order_by()


def _row(f: DashboardFilter, r: tuple[Any, ...], hours: dict[Any, tuple[float, float]],
         cutoff: datetime) -> dict[str, Any]:
    platform_id, name, total, *rest = r
    counts, overdue, median, p95 = rest[:len(_STATES)], rest[len(_STATES)], rest[-2], rest[-1]
    if platform_id in hours:
        median, p95 = hours[platform_id]
    by_state = dict(zip(_STATES, counts, strict=True))
    expected = total - by_state[DeliveryState.CANCELLED]  # a cancelled delivery is never owed a confirmation
    scope = {"platform": platform_id, "event": DeliveryEvent.BATCH, "operator__id__exact": _op(f),
             **f.range_lookups("created_at")}
    return {
        "platform": name, "total": total, "counts": counts, "confirmed": by_state[DeliveryState.CONFIRMED],
        "expected": expected, "rate": rate(by_state[DeliveryState.CONFIRMED], expected), "overdue": overdue,
        "dead": by_state[DeliveryState.DEAD], "never_confirmed": expected > 0 and not by_state[DeliveryState.CONFIRMED],
        "median": round(median / HOUR, 1) if median is not None else None,
        "p95": round(p95 / HOUR, 1) if p95 is not None else None,
        "link": admin_link("renewal_delivery", **scope),
        "dead_link": admin_link("renewal_delivery", state=DeliveryState.DEAD, **scope),
        "overdue_link": admin_link("renewal_delivery", state=DeliveryState.SENT, sent_at__lt=cutoff.isoformat(),
                                   **scope),
        "confirmed_link": admin_link("renewal_delivery", state=DeliveryState.CONFIRMED, **scope),
    }


def _op(f: DashboardFilter) -> int | None:
    return f.operator.pk if f.operator is not None else None


# --- renewal completion: a stock figure, with its trend from the daily snapshots --------------------------------

COMPLETION_KEYS = ("renewal:frozen", "renewal:pushed", "renewal:complete")


def _completion_sql(operator_id: int | None) -> tuple[str, list[Any]]:
    sql = (f"SELECT n.range_holder_id, COUNT(*), COUNT(e.id), "
           "COUNT(CASE WHEN c.deliveries_done >= c.deliveries_total THEN 1 END) "
           f"FROM {PhoneNumber._meta.db_table} AS n "
           f"LEFT JOIN {BatchEntry._meta.db_table} AS e ON e.cycle_id = n.cycle_id "
           f"LEFT JOIN {BatchChunk._meta.db_table} AS c ON c.id = e.chunk_id WHERE n.state = %s")
    params: list[Any] = [State.FROZEN]
    if operator_id is not None:
        sql += " AND n.range_holder_id = %s"
        params.append(operator_id)
    return sql + " GROUP BY n.range_holder_id", params


def renewal_completion_stock() -> list[tuple[int, str, int]]:
    """Frozen numbers per range holder, how many of their current cycles are pushed, and how many complete."""
    sql, params = _completion_sql(None)
    with connection.cursor() as cursor:
        cursor.execute(sql, params)
        return [(op, key, int(n)) for op, *counts in cursor.fetchall()
                for key, n in zip(COMPLETION_KEYS, counts, strict=True)]


def renewal_completion(f: DashboardFilter) -> dict[str, Any]:
    """Frozen numbers whose renewal is complete, in progress or not started, per operator, and the trend."""
    sql, params = _completion_sql(_op(f))
    with connection.cursor() as cursor:
        cursor.execute(sql, params)
        grouped = cursor.fetchall()
    codes = dict(Operator.objects.values_list("pk", "code"))
    rows = []
    for op, frozen, pushed, complete in sorted(grouped, key=lambda r: codes.get(r[0], "")):
        rows.append({"operator": codes.get(op, op), "frozen": frozen, "pushed": pushed, "complete": complete,
                     "not_started": frozen - pushed, "rate": rate(complete, frozen),
                     "link": admin_link("numbers_phonenumber", state=State.FROZEN, range_holder__id__exact=op)})
    snapshots = DailySnapshot.objects.filter(day__gte=f.start, day__lte=f.end, key__in=COMPLETION_KEYS).order_by()
    if f.operator is not None:
        snapshots = snapshots.filter(operator=f.operator)
    stock = [(day, key, n) for day, key, n in snapshots.values_list("day", "key").annotate(n=Sum("value"))]
    buckets = f.buckets()
    index = {b: i for i, b in enumerate(buckets)}
    complete_series, open_series = [0] * len(buckets), [0] * len(buckets)
    for day, key, n in stock:  # the last day of each bucket wins: a stock is not summed over a week
        slot = index.get(f.bucket_of(day))
        if slot is not None and key == "renewal:complete":
            complete_series[slot] = n
        elif slot is not None and key == "renewal:frozen":
            open_series[slot] = n
    open_series = [max(o - c, 0) for o, c in zip(open_series, complete_series, strict=True)]
    chart = column_chart(title=_("Frozen numbers at the end of each day"), buckets=buckets,
                         series=[(_("renewal complete"), complete_series), (_("renewal not complete"), open_series)],
                         weekly=f.weekly)
    return {"rows": rows, "chart": chart, "has_trend": any(complete_series) or any(open_series),
            "totals": {k: sum(r[k] for r in rows) for k in ("frozen", "pushed", "complete", "not_started")}}


SECTIONS = (
    Section("renewal_completion", gettext_lazy("Batch renewal: completion of frozen numbers"),
            "admin/renewal/dashboard/renewal_completion.html", renewal_completion, operator_view=True),
    Section("platforms", gettext_lazy("Batch renewal: the platforms"),
            "admin/renewal/dashboard/platforms.html", platform_deliveries, operator_view=True),
)
