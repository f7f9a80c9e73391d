"""What every dashboard section shares: the Section type and its filter, percentiles computed in the database,
trend buckets, sortable paged tables, links to the admin lists behind a figure, and SVG charts.

A section is a function of a `DashboardFilter` (a date range, an operator) returning its figures (a dict) plus
a template that shows them: its current figure (one query), its trend over the range (one query, by day, or by
week past 60 days), the rows that need attention and a sortable, paged table of the rest. Charts are SVG drawn
here on the server (no CDN, readable in print), with legends laid out for CJK text. The dashboard page
(portal) lists the sections of every feature explicitly.

`percentiles(...)` gives median / 95th-percentile figures per group: PostgreSQL's `percentile_cont`, and on
SQLite the same linear interpolation computed with window functions.
"""

from __future__ import annotations

import math
import unicodedata
from collections.abc import Callable, Iterable, Mapping, Sequence
from dataclasses import dataclass, field, replace
from datetime import date, datetime, time, timedelta
from typing import TYPE_CHECKING, Any, Never
from urllib.parse import urlencode

from django.core.exceptions import EmptyResultSet
from django.db import connections
from django.db.backends.base.base import BaseDatabaseWrapper
from django.db.models import F, FloatField, Func, QuerySet, Value
from django.db.models.expressions import Combinable
from django.db.models.sql.compiler import SQLCompiler
from django.urls import reverse
from django.utils import timezone
from django.utils.html import escape
from django.utils.safestring import SafeString, mark_safe

if TYPE_CHECKING:
    # A str or a lazy translation (gettext_lazy): titles and names are rendered with str().
    from django_stubs_ext import StrOrPromise

DAY = 86400.0


class DurationSeconds(Func):
    """Seconds from `start` to `end` (two datetime expressions), as a float, on PostgreSQL and SQLite."""

    output_field = FloatField()
    arity = 2

    def __init__(self, end: Combinable, start: Combinable, **extra: Any) -> None:
        super().__init__(end, start, **extra)

    def _parts(self, compiler: SQLCompiler) -> tuple[str, str, tuple[str | int, ...]]:
        end_sql, end_params = compiler.compile(self.source_expressions[0])
        start_sql, start_params = compiler.compile(self.source_expressions[1])
        return end_sql, start_sql, (*end_params, *start_params)

    def as_postgresql(
        self, compiler: SQLCompiler, connection: BaseDatabaseWrapper, **extra: Any
    ) -> tuple[str, tuple[str | int, ...]]:
        end, start, params = self._parts(compiler)
        return f"(EXTRACT(EPOCH FROM ({end} - {start})))::double precision", params

    def as_sqlite(
        self, compiler: SQLCompiler, connection: BaseDatabaseWrapper, **extra: Any
    ) -> tuple[str, tuple[str | int, ...]]:
        end, start, params = self._parts(compiler)
        return f"((julianday({end}) - julianday({start})) * 86400.0)", params

    def as_sql(
        self, compiler: SQLCompiler, connection: BaseDatabaseWrapper, function: str | None = None,
        template: str | None = None, arg_joiner: str | None = None, **extra: Any,
    ) -> Never:
        raise NotImplementedError(f"DurationSeconds supports PostgreSQL and SQLite, not {connection.vendor}")


@dataclass(frozen=True)
class PercentileRow:
    group: object
    count: int
    values: dict[float, float]  # fraction -> value


def _fraction_sql(fraction: float) -> str:
    fraction = float(fraction)
    if not 0.0 <= fraction <= 1.0:
        raise ValueError(f"a percentile fraction is between 0 and 1, not {fraction}")
    return repr(fraction)  # a validated float, written into the SQL as a literal


def percentiles(
    queryset: QuerySet[Any], *, value: Combinable, group_by: str | None = None, fractions: Sequence[float] = (0.5, 0.95)
) -> list[PercentileRow]:
    """Return, per group, the count and the continuous percentiles of `value` (NULLs ignored), in the database.

    PostgreSQL: `percentile_cont(f) WITHIN GROUP (ORDER BY v)`. SQLite has no such aggregate: the same
    definition (linear interpolation at position f·(n−1) of the sorted values) with window functions.
    """
    inner = queryset.order_by().annotate(
        _pct_group=F(group_by) if group_by else Value(""), _pct_value=value
    ).values_list("_pct_group", "_pct_value")
    try:
        inner_sql, params = inner.query.get_compiler(using=queryset.db).as_sql()
    except EmptyResultSet:  # e.g. queryset.none()
        return []
    connection = connections[queryset.db]
    fs = [_fraction_sql(f) for f in fractions]
    if connection.vendor == "postgresql":
        cols = ", ".join(f"percentile_cont({f}) WITHIN GROUP (ORDER BY v)" for f in fs)
        sql = (f"SELECT g, COUNT(*), {cols} FROM ({inner_sql}) AS t(g, v) "
               "WHERE v IS NOT NULL GROUP BY g ORDER BY g")
    elif connection.vendor == "sqlite":
        sums = []
        for f in fs:
            pos = f"({f} * (n - 1))"
            lo = f"CAST({pos} AS INTEGER)"
            sums.append(f"SUM(CASE WHEN rn = {lo} THEN v * (1 - ({pos} - {lo})) "
                        f"WHEN rn = {lo} + 1 THEN v * ({pos} - {lo}) ELSE 0 END)")
        sql = (
            f"WITH t(g, v) AS ({inner_sql}), "
            "r AS (SELECT g, v, ROW_NUMBER() OVER (PARTITION BY g ORDER BY v) - 1 AS rn, "
            "COUNT(*) OVER (PARTITION BY g) AS n FROM t WHERE v IS NOT NULL) "
            f"SELECT g, MAX(n), {', '.join(sums)} FROM r GROUP BY g ORDER BY g"
        )
    else:
        raise NotImplementedError(f"percentiles() supports PostgreSQL and SQLite, not {connection.vendor}")
    with connection.cursor() as cursor:
        cursor.execute(sql, params)
        rows = cursor.fetchall()
    return [PercentileRow(group=row[0] if group_by else None, count=row[1],
                          values={float(f): float(v) for f, v in zip(fractions, row[2:], strict=True)})
            for row in rows]


# Colours that stay apart in greyscale print (dark to light), each segment outlined.
PALETTE = ["#1f3b4d", "#3f7f8c", "#8cc0b8", "#e3c567", "#f4f1de", "#c8553d"]


def _fmt(value: float) -> str:
    return f"{value:,.0f}" if float(value).is_integer() else f"{value:,.1f}"


def bar_chart(*, title: StrOrPromise, labels: Sequence[StrOrPromise],
              series: Sequence[tuple[StrOrPromise, Sequence[float]]],
              stacked: bool = True, unit: str = "") -> SafeString:
    """Return a horizontal bar chart as inline SVG: one row per label, series stacked or side by side."""
    label_w, bar_w, gap = 170, 460, 8
    band = 22 if stacked else 12 * len(series) + 6
    width = label_w + bar_w + 90
    legend, legend_h = _legend([name for name, _vals in series], x0=label_w, width=width - label_w)
    height = legend_h + len(labels) * (band + gap) + 10
    if stacked:
        peak = max((sum(vals[i] for _n, vals in series) for i in range(len(labels))), default=0)
    else:
        peak = max((v for _n, vals in series for v in vals), default=0)
    scale = bar_w / peak if peak else 0
    out = [f'<svg xmlns="http://www.w3.org/2000/svg" viewBox="0 0 {width} {height}" width="100%" '
           f'role="img" aria-label="{escape(title)}" class="chart"><title>{escape(title)}</title>', legend]
    for i, label in enumerate(labels):
        y = legend_h + i * (band + gap)
        out.append(f'<text x="{label_w - 6}" y="{y + band / 2 + 4}" font-size="11" text-anchor="end">'
                   f'{escape(label)}</text>')
        offset = 0.0
        for k, (name, vals) in enumerate(series):
            value = float(vals[i] or 0)
            w = value * scale
            colour = PALETTE[k % len(PALETTE)]
            if stacked:
                bx, by, bh = label_w + offset, y, band
                offset += w
            else:
                bx, by, bh = label_w, y + k * 12, 11
            if w > 0:
                out.append(f'<rect x="{bx:.1f}" y="{by}" width="{w:.1f}" height="{bh}" fill="{colour}" '
                           f'stroke="#000" stroke-width="0.6"><title>{escape(label)} · {escape(name)}: '
                           f'{_fmt(value)}{escape(unit)}</title></rect>')
            if not stacked:
                out.append(f'<text x="{bx + w + 4:.1f}" y="{by + 9}" font-size="10">{_fmt(value)}{escape(unit)}</text>')
        if stacked:
            total = sum(float(vals[i] or 0) for _n, vals in series)
            out.append(f'<text x="{label_w + offset + 4:.1f}" y="{y + band / 2 + 4}" font-size="11">'
                       f'{_fmt(total)}{escape(unit)}</text>')
    out.append("</svg>")
    return mark_safe("".join(out))  # every label and name above is escaped


def text_width(text: str, size: float = 11.0) -> float:
    """The width of `text` in px at `size`: a CJK (wide) character takes a full em, other characters ~0.6."""
    return sum(size if unicodedata.east_asian_width(ch) in "WF" else size * 0.6 for ch in text)


def _legend(names: Sequence[StrOrPromise], *, x0: float, width: float, y0: float = 4) -> tuple[str, int]:
    """A legend of coloured keys that wraps onto more rows when the names (Chinese ones too) do not fit."""
    out, x, y = [], x0, y0
    for k, name in enumerate(names):
        label = str(name)
        w = 16 + text_width(label) + 12
        if x > x0 and x + w > x0 + width:
            x, y = x0, y + 18
        colour = PALETTE[k % len(PALETTE)]
        out.append(f'<rect x="{x:.0f}" y="{y}" width="12" height="12" fill="{colour}" stroke="#000" '
                   f'stroke-width="0.6"/><text x="{x + 16:.0f}" y="{y + 10}" font-size="11">{escape(label)}</text>')
        x += w
    return "".join(out), int(y - y0 + 22)


def column_chart(*, title: StrOrPromise, buckets: Sequence[date],
                 series: Sequence[tuple[StrOrPromise, Sequence[float]]], weekly: bool = False) -> SafeString:
    """Return a small stacked column chart of a trend, one column per day (or week), as inline SVG."""
    plot_w, plot_h, left = 640.0, 90.0, 44.0
    legend, legend_h = _legend([name for name, _v in series], x0=left, width=plot_w)
    height = legend_h + plot_h + 22
    n = max(len(buckets), 1)
    step = plot_w / n
    totals = [sum(float(vals[i] or 0) for _name, vals in series) for i in range(len(buckets))]
    peak = max(totals, default=0) or 1
    out = [f'<svg xmlns="http://www.w3.org/2000/svg" viewBox="0 0 {left + plot_w + 10:.0f} {height:.0f}" '
           f'width="100%" role="img" aria-label="{escape(title)}" class="chart trend"><title>{escape(title)}</title>',
           legend,
           f'<text x="{left - 4}" y="{legend_h + 8}" font-size="10" text-anchor="end">{_fmt(peak)}</text>'
           f'<text x="{left - 4}" y="{legend_h + plot_h}" font-size="10" text-anchor="end">0</text>'
           f'<line x1="{left}" y1="{legend_h + plot_h}" x2="{left + plot_w}" y2="{legend_h + plot_h}" stroke="#000" '
           'stroke-width="0.6"/>']
    for i, bucket in enumerate(buckets):
        x, base = left + i * step, legend_h + plot_h
        for k, (name, vals) in enumerate(series):
            h = float(vals[i] or 0) / peak * plot_h
            if h > 0:
                base -= h
                out.append(f'<rect x="{x + 0.5:.1f}" y="{base:.1f}" width="{max(step - 1, 0.5):.1f}" height="{h:.1f}" '
                           f'fill="{PALETTE[k % len(PALETTE)]}" stroke="#000" stroke-width="0.3"><title>'
                           f'{bucket.isoformat()} · {escape(name)}: {_fmt(float(vals[i] or 0))}</title></rect>')
    for i in _tick_positions(len(buckets)):
        label = buckets[i].strftime("%m-%d")
        out.append(f'<text x="{left + i * step + step / 2:.1f}" y="{legend_h + plot_h + 14}" font-size="10" '
                   f'text-anchor="middle">{"≥" if weekly else ""}{label}</text>')
    out.append("</svg>")
    return mark_safe("".join(out))  # every name above is escaped; dates and numbers are formatted here


def _tick_positions(n: int, most: int = 8) -> list[int]:
    if n <= 0:
        return []
    every = max(1, math.ceil(n / most))
    return list(range(0, n, every))


@dataclass(frozen=True)
class DashboardFilter:
    """What the dashboard shows: local days `start`..`end` (inclusive), one operator or all, sort and page keys."""

    start: date
    end: date
    operator: Any = None  # an Operator, or None for all
    params: Mapping[str, str] = field(default_factory=dict)

    # Past this many days the trends count by week (Monday to Sunday) instead of by day.
    WEEKLY_AFTER = 60

    @classmethod
    def last_days(cls, days: int = 30, *, operator: Any = None, today: date | None = None) -> DashboardFilter:
        today = today or timezone.localdate()
        return cls(start=today - timedelta(days=days - 1), end=today, operator=operator)

    @classmethod
    def everything(cls, *, operator: Any = None) -> DashboardFilter:
        """From the first day the portal can hold to today: every row (for tests and the monthly report's totals)."""
        return cls(start=date(2000, 1, 1), end=timezone.localdate(), operator=operator)

    @property
    def since(self) -> datetime:
        return timezone.make_aware(datetime.combine(self.start, time.min))

    @property
    def until(self) -> datetime:
        """The first moment after the range (exclusive bound)."""
        return timezone.make_aware(datetime.combine(self.end + timedelta(days=1), time.min))

    @property
    def weekly(self) -> bool:
        return (self.end - self.start).days + 1 > self.WEEKLY_AFTER

    def buckets(self) -> list[date]:
        """The first day of each day (or week) of the range, in order."""
        if not self.weekly:
            return [self.start + timedelta(days=i) for i in range((self.end - self.start).days + 1)]
        first = self.start - timedelta(days=self.start.weekday())
        return [first + timedelta(weeks=i) for i in range((self.end - first).days // 7 + 1)]

    def bucket_of(self, day: date) -> date:
        return day - timedelta(days=day.weekday()) if self.weekly else day

    def param(self, name: str, default: str = "") -> str:
        return str(self.params.get(name, default))

    def with_params(self, **params: str) -> DashboardFilter:
        return replace(self, params={**self.params, **params})

    def range_lookups(self, field_name: str) -> dict[str, str]:
        """Admin list lookups for the range on a datetime field (ISO times with the offset)."""
        return {f"{field_name}__gte": self.since.isoformat(), f"{field_name}__lt": self.until.isoformat()}


def trend_series(f: DashboardFilter, rows: Iterable[tuple[Any, Any, int]], keys: Sequence[Any]) -> list[list[int]]:
    """Sum (day, key, n) rows into one list per key of counts per bucket of the filter's range."""
    buckets = f.buckets()
    index = {b: i for i, b in enumerate(buckets)}
    series = [[0] * len(buckets) for _key in keys]
    where = {k: i for i, k in enumerate(keys)}
    for day, key, n in rows:
        if key not in where or day is None:
            continue
        local = day.date() if isinstance(day, datetime) else day
        slot = index.get(f.bucket_of(local))
        if slot is not None:
            series[where[key]][slot] += int(n)
    return series


def admin_link(name: str, **lookups: Any) -> str:
    """The URL of an admin list (`app_model`) filtered by `lookups`: where a figure's rows are."""
    query = urlencode({k: v for k, v in lookups.items() if v is not None and v != ""})
    return reverse(f"admin:{name}_changelist") + (f"?{query}" if query else "")


@dataclass(frozen=True)
class Column:
    key: str
    label: StrOrPromise
    numeric: bool = True


@dataclass
class Table:
    """A sortable, paged table of rows (dicts): the section's rows, sorted by one column, one page shown."""

    prefix: str
    columns: list[Column]
    rows: list[dict[str, Any]]
    sort: str
    descending: bool
    page: int
    per_page: int
    pages: int

    @property
    def shown(self) -> list[dict[str, Any]]:
        start = (self.page - 1) * self.per_page
        return self.rows[start:start + self.per_page]

    def cells(self) -> list[list[dict[str, Any]]]:
        """The page's rows as cells: value, the link to its rows (`<key>_link`, the row's `link` first), numeric."""
        return [[{"value": r.get(c.key), "numeric": c.numeric,
                  "link": r.get(f"{c.key}_link") or (r.get("link") if i == 0 else None)}
                 for i, c in enumerate(self.columns)] for r in self.shown]

    def headers(self, params: Mapping[str, str], anchor: str = "") -> list[dict[str, Any]]:
        """Each column's label and the link that sorts by it (the current column's link reverses the order)."""
        out = []
        for c in self.columns:
            current = c.key == self.sort
            wanted = ("" if current and self.descending else "-") + c.key if current else (
                "-" + c.key if c.numeric else c.key)
            out.append({"label": c.label, "numeric": c.numeric,
                        "sort": ("descending" if self.descending else "ascending") if current else None,
                        "href": query_link(params, anchor, **{f"{self.prefix}_sort": wanted,
                                                              f"{self.prefix}_page": None})})
        return out

    def pager(self, params: Mapping[str, str], anchor: str = "") -> dict[str, Any]:
        def page(n: int) -> str | None:
            return query_link(params, anchor, **{f"{self.prefix}_page": str(n)}) if 1 <= n <= self.pages else None

        return {"page": self.page, "pages": self.pages, "previous": page(self.page - 1), "next": page(self.page + 1),
                "rows": len(self.rows)}


def query_link(params: Mapping[str, str], anchor: str = "", **changes: str | None) -> str:
    """The current page's query string with `changes` (None removes a key), and an anchor."""
    merged = {**params, **changes}
    query = urlencode({k: v for k, v in merged.items() if v is not None and v != ""})
    return f"?{query}" + (f"#{anchor}" if anchor else "")


def paged_table(f: DashboardFilter, prefix: str, columns: list[Column], rows: list[dict[str, Any]], *,
                default_sort: str, descending: bool = False, per_page: int = 10) -> Table:
    """Sort the rows by the filter's `<prefix>_sort` column (`-` first for descending) and pick its page."""
    wanted = f.param(f"{prefix}_sort", ("-" if descending else "") + default_sort)
    desc = wanted.startswith("-")
    key = wanted.lstrip("-")
    if key not in {c.key for c in columns}:
        key, desc = default_sort, descending
    present = [r for r in rows if r.get(key) is not None]
    missing = [r for r in rows if r.get(key) is None]  # rows without the figure go last either way
    ordered = sorted(present, key=lambda r: (r[key], str(r.get(columns[0].key, ""))), reverse=desc) + missing
    pages = max(1, math.ceil(len(ordered) / per_page))
    try:
        page = min(max(1, int(f.param(f"{prefix}_page", "1"))), pages)
    except ValueError:
        page = 1
    return Table(prefix=prefix, columns=columns, rows=ordered, sort=key, descending=desc, page=page,
                 per_page=per_page, pages=pages)


def top(rows: Iterable[dict[str, Any]], key: str, *, n: int = 5, minimum: float = 0) -> list[dict[str, Any]]:
    """The rows with the largest `key` (above `minimum`), largest first: who needs attention."""
    ranked = [r for r in rows if r.get(key) is not None and r[key] > minimum]
    return sorted(ranked, key=lambda r: r[key], reverse=True)[:n]


@dataclass(frozen=True)
class Section:
    key: str
    title: StrOrPromise
    template: str
    compute: Callable[[DashboardFilter], dict[str, Any]]
    # Shown on an operator administrator's own dashboard (filtered to its operator).
    operator_view: bool = False


# A selector the dashboard renders as a plain table: {"columns": [labels], "rows": [[cells]]}, or None (empty).
TableSelector = Callable[[DashboardFilter], Mapping[str, Any] | None]


def selector_section(key: str, title: StrOrPromise, selector: TableSelector | None) -> Section:
    """A section that renders a feature's selector as a plain table (an empty state until one is given)."""

    def compute(f: DashboardFilter) -> dict[str, Any]:
        table = selector(f) if selector is not None else None
        return {"available": selector is not None, "columns": list((table or {}).get("columns", [])),
                "rows": list((table or {}).get("rows", []))}

    return Section(key, title, "admin/numbers/dashboard/selector_table.html", compute)


def rate(part: int, whole: int) -> float | None:
    return round(100.0 * part / whole, 1) if whole else None
