"""The lifecycle's sections of the compliance dashboard, each aggregated in the database.

Each section is a function of a DashboardFilter (numbers.charts): one query for its current figure and one
for its trend over the range. Flow figures (cancellations, releases, …) count event rows by day; stock
figures (numbers by state) read the daily snapshots (numbers.snapshots). Every figure links to the admin
list of the rows behind it. The page (portal.dashboard) lists these first, then the renewal app's.
"""

from typing import Any

from django.db import connection
from django.db.models import Count, F, QuerySet, Sum, Value
from django.db.models.functions import Coalesce, TruncDate
from django.utils import timezone
from django.utils.translation import gettext as _
from django.utils.translation import gettext_lazy

from numbers.charts import (
    DAY,
    Column,
    DashboardFilter,
    DurationSeconds,
    Section,
    admin_link,
    bar_chart,
    column_chart,
    paged_table,
    percentiles,
    rate,
    trend_series,
)
from numbers.models import (
    DailySnapshot,
    DeclinedOffer,
    Event,
    EventKind,
    HolderPeriod,
    MarkCategory,
    MarkEffect,
    Operator,
    Outlet,
    PhoneNumber,
    RiskMark,
    State,
)
from numbers.staging import db_time

# The flow figures of the lifecycle, from the event log, in the order the section shows them.
FLOW_KINDS = [EventKind.CANCEL, EventKind.PORT_OUT, EventKind.RELEASE, EventKind.ALLOCATE, EventKind.MARK_PLACED]


def _operator_id(f: DashboardFilter) -> int | None:
    return f.operator.pk if f.operator is not None else None


def _events(f: DashboardFilter) -> QuerySet[Event]:
    events = Event.objects.filter(at__gte=f.since, at__lt=f.until, kind__in=FLOW_KINDS)
    if f.operator is not None:
        events = events.filter(number__range_holder=f.operator)
    return events.order_by()


def lifecycle_flow(f: DashboardFilter) -> dict[str, Any]:
    """Cancellations, ports out, releases, allocations and marks placed in the range, with their trend."""
    totals = dict(_events(f).values_list("kind").annotate(n=Count("pk")))
    trend = (_events(f).annotate(day=TruncDate("at", tzinfo=timezone.get_current_timezone()))
             .values_list("day", "kind").annotate(n=Count("pk")))
    op = _operator_id(f)
    figures = [{"kind": k, "label": k.label, "n": totals.get(k.value, 0),
                "link": admin_link("numbers_event", kind=k.value, number__range_holder__id__exact=op,
                                   **f.range_lookups("at"))} for k in FLOW_KINDS]
    series = trend_series(f, trend, [k.value for k in FLOW_KINDS])
    chart = column_chart(title=_("Lifecycle events per day") if not f.weekly else _("Lifecycle events per week"),
                         buckets=f.buckets(), series=[(k.label, s) for k, s in zip(FLOW_KINDS, series, strict=True)],
                         weekly=f.weekly)
    return {"figures": figures, "chart": chart}


def numbers_by_state(f: DashboardFilter) -> dict[str, Any]:
    """Numbers of each operator (range holder) by state now, and the states' trend from the daily snapshots."""
    states = list(State)
    numbers = PhoneNumber.objects.order_by()
    if f.operator is not None:
        numbers = numbers.filter(range_holder=f.operator)
    grouped = numbers.values_list("range_holder_id", "state", "is_secondary").annotate(n=Count("pk"))
    codes = dict(Operator.objects.values_list("pk", "code"))
    per_operator: dict[int, dict[str, Any]] = {}
    for operator_id, state, secondary, n in grouped:
        entry = per_operator.setdefault(operator_id, {"counts": dict.fromkeys(State.values, 0), "secondary": 0})
        entry["counts"][state] += n
        entry["secondary"] += n if secondary else 0
    rows = []
    for op_id, e in sorted(per_operator.items(), key=lambda item: codes[item[0]]):
        cells = [{"n": e["counts"][s.value],
                  "link": admin_link("numbers_phonenumber", range_holder__id__exact=op_id, state=s.value)}
                 for s in states]
        rows.append({"operator": codes[op_id], "counts": [c["n"] for c in cells], "cells": cells,
                     "secondary": e["secondary"], "total": sum(e["counts"].values()),
                     "secondary_link": admin_link("numbers_phonenumber", range_holder__id__exact=op_id,
                                                  is_secondary__exact=1)})
    totals = {"counts": [sum(r["counts"][i] for r in rows) for i in range(len(states))],
              "secondary": sum(r["secondary"] for r in rows), "total": sum(r["total"] for r in rows)}
    snapshots = DailySnapshot.objects.filter(day__gte=f.start, day__lte=f.end, key__startswith="state:").order_by()
    if f.operator is not None:
        snapshots = snapshots.filter(operator=f.operator)
    stock = snapshots.values_list("day", "key").annotate(n=Coalesce(Sum("value"), Value(0)))
    series = _last_of_bucket(f, stock, [f"state:{s.value}" for s in states])
    chart = column_chart(title=_("Numbers by state at the end of each day"), buckets=f.buckets(),
                         series=[(s.label, v) for s, v in zip(states, series, strict=True)], weekly=f.weekly)
    return {"states": [s.label for s in states], "rows": rows, "totals": totals, "chart": chart,
            "has_trend": any(any(v) for v in series)}


def _last_of_bucket(f: DashboardFilter, rows: Any, keys: list[str]) -> list[list[int]]:
    """A stock is not summed over a week: each bucket shows its last day's figure."""
    buckets = f.buckets()
    index = {b: i for i, b in enumerate(buckets)}
    last: dict[tuple[str, int], tuple[Any, int]] = {}
    for day, key, n in rows:
        slot = index.get(f.bucket_of(day))
        if slot is not None and key in keys and ((key, slot) not in last or day >= last[(key, slot)][0]):
            last[(key, slot)] = (day, int(n))
    return [[last.get((k, i), (None, 0))[1] for i in range(len(buckets))] for k in keys]


def _outlet_sql(f: DashboardFilter) -> tuple[str, list[Any]]:
    """Sales and declined offers in the range, per outlet, in one statement (a grouped scan of each table)."""
    since, until = db_time(f.since), db_time(f.until)
    sql = (
        "SELECT o.id, op.code, o.code, o.name, SUM(t.alloc), SUM(t.sec), SUM(t.disc), SUM(t.decl), SUM(t.decl_sec) "
        "FROM (SELECT outlet_id, COUNT(*) AS alloc, COUNT(CASE WHEN requires_disclosure THEN 1 END) AS sec, "
        "COUNT(CASE WHEN requires_disclosure AND disclosure_id IS NOT NULL THEN 1 END) AS disc, 0 AS decl, "
        f"0 AS decl_sec FROM {HolderPeriod._meta.db_table} WHERE outlet_id IS NOT NULL AND started_at >= %s "
        "AND started_at < %s GROUP BY outlet_id "
        "UNION ALL SELECT outlet_id, 0, 0, 0, COUNT(*), COUNT(CASE WHEN was_secondary THEN 1 END) "
        f"FROM {DeclinedOffer._meta.db_table} WHERE declined_at >= %s AND declined_at < %s GROUP BY outlet_id) AS t "
        f"JOIN {Outlet._meta.db_table} AS o ON o.id = t.outlet_id "
        f"JOIN {Operator._meta.db_table} AS op ON op.id = o.operator_id")
    params: list[Any] = [since, until, since, until]
    if f.operator is not None:
        sql += " WHERE o.operator_id = %s"
        params.append(f.operator.pk)
    return sql + " GROUP BY o.id, op.code, o.code, o.name", params


def disclosure_by_outlet(f: DashboardFilter) -> dict[str, Any]:
    """Per outlet, sales and offers in the range: secondary numbers sold with a disclosure, declined offers;
    the lowest disclosure rates first, in a sortable, paged table."""
    sql, params = _outlet_sql(f)
    with connection.cursor() as cursor:
        cursor.execute(sql, params)
        grouped = cursor.fetchall()
    rows = []
    for pk, operator, code, name, allocations, secondary, disclosed, declined, declined_secondary in grouped:
        allocations, secondary, disclosed = int(allocations), int(secondary), int(disclosed)
        declined, declined_secondary = int(declined), int(declined_secondary)
        sales = {"outlet": pk, **f.range_lookups("started_at")}
        rows.append({
            "operator": operator, "outlet": code, "name": name, "allocations": allocations,
            "secondary": secondary, "disclosed": disclosed, "undisclosed": secondary - disclosed,
            "disclosed_rate": rate(disclosed, secondary), "declined": declined,
            "declined_secondary": declined_secondary,
            "secondary_declined_rate": rate(declined_secondary, secondary + declined_secondary),
            "allocations_link": admin_link("numbers_holderperiod", **sales),
            "secondary_link": admin_link("numbers_holderperiod", requires_disclosure__exact=1, **sales),
            "declined_link": admin_link("numbers_declinedoffer", outlet=pk, **f.range_lookups("declined_at")),
        })
    rows.sort(key=lambda r: (r["operator"], r["outlet"]))
    keys = ("allocations", "secondary", "disclosed", "undisclosed", "declined", "declined_secondary")
    totals: dict[str, Any] = {k: sum(r[k] for r in rows) for k in keys}
    totals["disclosed_rate"] = rate(totals["disclosed"], totals["secondary"])
    totals["secondary_declined_rate"] = rate(totals["declined_secondary"],
                                              totals["secondary"] + totals["declined_secondary"])
    table = paged_table(f, "outlets", [
        Column("outlet", gettext_lazy("Outlet"), numeric=False), Column("allocations", gettext_lazy("allocations")),
        Column("secondary", gettext_lazy("secondary sold")), Column("disclosed_rate", gettext_lazy("disclosed %")),
        Column("declined", gettext_lazy("offers declined")),
        Column("secondary_declined_rate", gettext_lazy("secondary declined %")),
    ], rows, default_sort="disclosed_rate")
    return {"rows": rows, "totals": totals, "table": table,
            "attention": [r for r in table.rows if r["undisclosed"]][:5]}


def risk_marks_in_force(f: DashboardFilter) -> dict[str, Any]:
    """Marks in force by category and effect, the numbers they hold back now, and marks placed per day."""
    marks = RiskMark.objects.order_by()
    if f.operator is not None:
        marks = marks.filter(number__range_holder=f.operator)
    counts = {(r["category"], r["effect"]): r["n"] for r in
              marks.in_force().values("category", "effect").annotate(n=Count("pk"))}
    effects = list(MarkEffect)
    rows = [{"category": c.label, "counts": [counts.get((c.value, e.value), 0) for e in effects],
             "cells": [{"n": counts.get((c.value, e.value), 0),
                        "link": admin_link("numbers_riskmark", in_force="yes", category=c.value, effect=e.value)}
                       for e in effects],
             "total": sum(counts.get((c.value, e.value), 0) for e in effects)} for c in MarkCategory]
    totals = {"counts": [sum(r["counts"][i] for r in rows) for i in range(len(effects))],
              "total": sum(r["total"] for r in rows)}
    numbers = PhoneNumber.objects.all() if f.operator is None else PhoneNumber.objects.filter(range_holder=f.operator)
    # Both from indexed sides (the state index, the marks in force), never a scan of every number.
    held = {
        "suspended": numbers.filter(state=State.SUSPENDED).count(),
        "extended": marks.in_force().filter(
            effect=MarkEffect.EXTEND, number__state=State.FROZEN, cycle_id=F("number__cycle_id"),
        ).values("number_id").distinct().count(),
    }
    placed = (marks.filter(placed_at__gte=f.since, placed_at__lt=f.until)
              .annotate(day=TruncDate("placed_at", tzinfo=timezone.get_current_timezone()))
              .values_list("day", "effect").annotate(n=Count("pk")))
    series = trend_series(f, placed, [e.value for e in effects])
    chart = column_chart(title=_("Risk marks placed"), buckets=f.buckets(),
                         series=[(e.label, s) for e, s in zip(effects, series, strict=True)], weekly=f.weekly)
    return {"effects": [e.label for e in effects], "rows": rows, "totals": totals, "held": held, "chart": chart,
            "suspended_link": admin_link("numbers_phonenumber", state=State.SUSPENDED,
                                         range_holder__id__exact=_operator_id(f))}


def freeze_durations(f: DashboardFilter) -> dict[str, Any]:
    """Days from cancellation to release of the numbers released in the range (median and 95th percentile)."""
    released = PhoneNumber.objects.filter(released_at__gte=f.since, released_at__lt=f.until,
                                          cancelled_at__isnull=False)
    if f.operator is not None:
        released = released.filter(range_holder=f.operator)
    result = percentiles(released, value=DurationSeconds(F("released_at"), F("cancelled_at")),
                         group_by="range_holder__code")
    ids = dict(Operator.objects.values_list("code", "pk"))
    rows: list[dict[str, Any]] = [
        {"operator": r.group, "count": r.count, "median": round(r.values[0.5] / DAY, 1),
         "p95": round(r.values[0.95] / DAY, 1),
         "link": admin_link("numbers_phonenumber", range_holder__id__exact=ids.get(str(r.group)),
                            **f.range_lookups("released_at"))} for r in result]
    chart = bar_chart(title=_("Days from cancellation to release"), labels=[r["operator"] for r in rows],
                      series=[(_("median"), [r["median"] for r in rows]),
                              (_("95th percentile"), [r["p95"] for r in rows])], stacked=False, unit=" d")
    return {"rows": rows, "chart": chart}


SECTIONS = (
    Section("flow", gettext_lazy("Lifecycle: cancellations, releases, sales, marks"),
            "admin/numbers/dashboard/flow.html", lifecycle_flow, operator_view=True),
    Section("numbers_by_state", gettext_lazy("Numbers by state per operator"),
            "admin/numbers/dashboard/numbers_by_state.html", numbers_by_state, operator_view=True),
    Section("disclosure", gettext_lazy("Disclosure compliance per outlet"),
            "admin/numbers/dashboard/disclosure.html", disclosure_by_outlet, operator_view=True),
    Section("risk_marks", gettext_lazy("Risk marks in force"), "admin/numbers/dashboard/risk_marks.html",
            risk_marks_in_force),
    Section("freeze_durations", gettext_lazy("From cancellation to release"),
            "admin/numbers/dashboard/freeze_durations.html", freeze_durations),
)
