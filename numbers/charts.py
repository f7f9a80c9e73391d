"""What every dashboard section shares: the Section type, percentiles computed in the database, SVG bar charts.

A section is a function returning its figures (a dict) plus a template that shows a chart (SVG drawn here on
the server: no CDN, readable in print) and the same figures as a table. The dashboard page (portal) lists the
sections of every feature explicitly.

`percentiles(...)` gives median / 95th-percentile figures per group: PostgreSQL's `percentile_cont`, and on
SQLite the same linear interpolation computed with window functions.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any, Never

from django.core.exceptions import EmptyResultSet
from django.db import connections
from django.db.backends.base.base import BaseDatabaseWrapper
from django.db.models import F, FloatField, Func, QuerySet, Value
from django.db.models.expressions import Combinable
from django.db.models.sql.compiler import SQLCompiler
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
    legend_h = 22
    height = legend_h + len(labels) * (band + gap) + 10
    width = label_w + bar_w + 90
    if stacked:
        peak = max((sum(vals[i] for _n, vals in series) for i in range(len(labels))), default=0)
    else:
        peak = max((v for _n, vals in series for v in vals), default=0)
    scale = bar_w / peak if peak else 0
    out = [f'<svg xmlns="http://www.w3.org/2000/svg" viewBox="0 0 {width} {height}" width="100%" '
           f'role="img" aria-label="{escape(title)}" class="chart"><title>{escape(title)}</title>']
    x = label_w
    for k, (name, _vals) in enumerate(series):
        colour = PALETTE[k % len(PALETTE)]
        out.append(f'<rect x="{x}" y="4" width="12" height="12" fill="{colour}" stroke="#000" stroke-width="0.6"/>'
                   f'<text x="{x + 16}" y="14" font-size="11">{escape(name)}</text>')
        x += 24 + 7 * len(str(name))
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


@dataclass(frozen=True)
class Section:
    key: str
    title: StrOrPromise
    template: str
    compute: Callable[[], dict[str, Any]]


def rate(part: int, whole: int) -> float | None:
    return round(100.0 * part / whole, 1) if whole else None
