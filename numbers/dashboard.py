"""The regulator's compliance dashboard: independent sections, each aggregated in the database.

A section is a function returning its figures (a dict) plus a template that shows a chart (SVG drawn
here on the server: no CDN, readable in print) and the same figures as a table. Other apps add theirs
with `register_section(...)` from their AppConfig.ready(); the numbers app must not import them.

`percentiles(...)` gives median / 95th-percentile figures per group: PostgreSQL's `percentile_cont`,
and on SQLite the same linear interpolation computed with window functions.
"""

from collections.abc import Callable, Sequence
from dataclasses import dataclass

from django.contrib import admin
from django.core.exceptions import EmptyResultSet, PermissionDenied
from django.db import connections
from django.db.models import Count, F, FloatField, Func, Q, QuerySet, Value
from django.template.response import TemplateResponse
from django.utils import timezone
from django.utils.html import escape
from django.utils.safestring import SafeString, mark_safe
from django.utils.translation import gettext as _
from django.utils.translation import gettext_lazy

from numbers.access import ALL_OPERATORS, operator_scope
from numbers.models import (
    DeclinedOffer,
    HolderPeriod,
    MarkCategory,
    MarkEffect,
    Operator,
    Outlet,
    PhoneNumber,
    RiskMark,
    State,
)

DAY = 86400.0

# --- aggregation helpers -----------------------------------------------------------------------


class DurationSeconds(Func):
    """Seconds from `start` to `end` (two datetime expressions), as a float, on PostgreSQL and SQLite."""

    output_field = FloatField()
    arity = 2

    def __init__(self, end, start, **extra):
        super().__init__(end, start, **extra)

    def _parts(self, compiler):
        end_sql, end_params = compiler.compile(self.source_expressions[0])
        start_sql, start_params = compiler.compile(self.source_expressions[1])
        return end_sql, start_sql, [*end_params, *start_params]

    def as_postgresql(self, compiler, connection, **extra):
        end, start, params = self._parts(compiler)
        return f"(EXTRACT(EPOCH FROM ({end} - {start})))::double precision", params

    def as_sqlite(self, compiler, connection, **extra):
        end, start, params = self._parts(compiler)
        return f"((julianday({end}) - julianday({start})) * 86400.0)", params

    def as_sql(self, compiler, connection, **extra):
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
    queryset: QuerySet, *, value, group_by: str | None = None, fractions: Sequence[float] = (0.5, 0.95)
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
        cols = []
        for f in fs:
            pos = f"({f} * (n - 1))"
            lo = f"CAST({pos} AS INTEGER)"
            cols.append(f"SUM(CASE WHEN rn = {lo} THEN v * (1 - ({pos} - {lo})) "
                        f"WHEN rn = {lo} + 1 THEN v * ({pos} - {lo}) ELSE 0 END)")
        sql = (
            f"WITH t(g, v) AS ({inner_sql}), "
            "r AS (SELECT g, v, ROW_NUMBER() OVER (PARTITION BY g ORDER BY v) - 1 AS rn, "
            "COUNT(*) OVER (PARTITION BY g) AS n FROM t WHERE v IS NOT NULL) "
            f"SELECT g, MAX(n), {', '.join(cols)} FROM r GROUP BY g ORDER BY g"
        )
    else:
        raise NotImplementedError(f"percentiles() supports PostgreSQL and SQLite, not {connection.vendor}")
    with connection.cursor() as cursor:
        cursor.execute(sql, params)
        rows = cursor.fetchall()
    return [PercentileRow(group=row[0] if group_by else None, count=row[1],
                          values={float(f): float(v) for f, v in zip(fractions, row[2:], strict=True)})
            for row in rows]


# --- charts (server-side SVG) ------------------------------------------------------------------

# Colours that stay apart in greyscale print (dark to light), each segment outlined.
PALETTE = ["#1f3b4d", "#3f7f8c", "#8cc0b8", "#e3c567", "#f4f1de", "#c8553d"]


def _fmt(value: float) -> str:
    return f"{value:,.0f}" if float(value).is_integer() else f"{value:,.1f}"


def bar_chart(*, title: str, labels: Sequence[str], series: Sequence[tuple[str, Sequence[float]]],
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


# --- sections ----------------------------------------------------------------------------------


@dataclass(frozen=True)
class Section:
    key: str
    title: str
    template: str
    compute: Callable[[], dict]


SECTIONS: list[Section] = []


def register_section(section: Section, *, before: str | None = None) -> None:
    """Add a dashboard section (again under the same key replaces it), optionally before another one."""
    SECTIONS[:] = [s for s in SECTIONS if s.key != section.key]
    keys = [s.key for s in SECTIONS]
    SECTIONS.insert(keys.index(before) if before in keys else len(SECTIONS), section)


def _rate(part: int, whole: int) -> float | None:
    return round(100.0 * part / whole, 1) if whole else None


def numbers_by_state() -> dict:
    """Numbers of each operator (range holder) by state, with how many are secondary; one grouped scan."""
    states = list(State)
    codes = dict(Operator.objects.values_list("pk", "code"))
    grouped = PhoneNumber.objects.order_by().values_list("range_holder_id", "state", "is_secondary").annotate(
        n=Count("pk"))
    per_operator: dict[int, dict] = {}
    for operator_id, state, secondary, n in grouped:
        entry = per_operator.setdefault(operator_id, {"counts": dict.fromkeys(State.values, 0), "secondary": 0})
        entry["counts"][state] += n
        entry["secondary"] += n if secondary else 0
    table = sorted(
        ({"operator": codes[op], "counts": [e["counts"][s.value] for s in states], "secondary": e["secondary"],
          "total": sum(e["counts"].values())} for op, e in per_operator.items()),
        key=lambda r: r["operator"],
    )
    totals = {"counts": [sum(r["counts"][i] for r in table) for i in range(len(states))],
              "secondary": sum(r["secondary"] for r in table), "total": sum(r["total"] for r in table)}
    chart = bar_chart(
        title=_("Numbers by state per operator"), labels=[r["operator"] for r in table],
        series=[(s.label, [r["counts"][i] for r in table]) for i, s in enumerate(states)],
    )
    return {"states": [s.label for s in states], "rows": table, "totals": totals, "chart": chart}


def disclosure_by_outlet() -> dict:
    """Per outlet: allocations, secondary numbers sold and how many with a disclosure, declined offers."""
    sold = {
        r["outlet"]: r for r in HolderPeriod.objects.filter(outlet__isnull=False).order_by().values("outlet").annotate(
            allocations=Count("pk"), secondary=Count("pk", filter=Q(requires_disclosure=True)),
            disclosed=Count("pk", filter=Q(requires_disclosure=True, disclosure__isnull=False)),
        )
    }
    declined = {
        r["outlet"]: r for r in DeclinedOffer.objects.order_by().values("outlet").annotate(
            declined=Count("pk"), declined_secondary=Count("pk", filter=Q(was_secondary=True)),
        )
    }
    outlets = Outlet.objects.filter(pk__in=set(sold) | set(declined)).select_related("operator").order_by(
        "operator__code", "code")
    rows = []
    for outlet in outlets:
        s, d = sold.get(outlet.pk, {}), declined.get(outlet.pk, {})
        secondary, disclosed = s.get("secondary", 0), s.get("disclosed", 0)
        declined_secondary = d.get("declined_secondary", 0)
        rows.append({
            "operator": outlet.operator.code, "outlet": outlet.code, "name": outlet.name,
            "allocations": s.get("allocations", 0), "secondary": secondary, "disclosed": disclosed,
            "undisclosed": secondary - disclosed, "disclosed_rate": _rate(disclosed, secondary),
            "declined": d.get("declined", 0), "declined_secondary": declined_secondary,
            "secondary_declined_rate": _rate(declined_secondary, secondary + declined_secondary),
        })
    keys = ("allocations", "secondary", "disclosed", "undisclosed", "declined", "declined_secondary")
    totals = {k: sum(r[k] for r in rows) for k in keys}
    totals["disclosed_rate"] = _rate(totals["disclosed"], totals["secondary"])
    totals["secondary_declined_rate"] = _rate(totals["declined_secondary"],
                                              totals["secondary"] + totals["declined_secondary"])
    chart = bar_chart(
        title=_("Secondary numbers offered per outlet"), labels=[f"{r['operator']} {r['outlet']}" for r in rows],
        series=[(_("sold with disclosure"), [r["disclosed"] for r in rows]),
                (_("sold without disclosure"), [r["undisclosed"] for r in rows]),
                (_("declined"), [r["declined_secondary"] for r in rows])],
    )
    return {"rows": rows, "totals": totals, "chart": chart}


def risk_marks_in_force() -> dict:
    """Marks in force by category and effect, and the numbers they hold back now."""
    counts = {(r["category"], r["effect"]): r["n"] for r in
              RiskMark.objects.in_force().order_by().values("category", "effect").annotate(n=Count("pk"))}
    effects = list(MarkEffect)
    rows = [{"category": c.label, "counts": [counts.get((c.value, e.value), 0) for e in effects],
             "total": sum(counts.get((c.value, e.value), 0) for e in effects)} for c in MarkCategory]
    totals = {"counts": [sum(r["counts"][i] for r in rows) for i in range(len(effects))],
              "total": sum(r["total"] for r in rows)}
    # Both from indexed sides (the state index, the marks in force), never a scan of every number.
    held = {
        "suspended": PhoneNumber.objects.filter(state=State.SUSPENDED).count(),
        "extended": RiskMark.objects.in_force().filter(
            effect=MarkEffect.EXTEND, number__state=State.FROZEN, cycle_id=F("number__cycle_id"),
        ).values("number_id").distinct().count(),
    }
    chart = bar_chart(title=_("Risk marks in force by category"), labels=[r["category"] for r in rows],
                      series=[(e.label, [r["counts"][i] for r in rows]) for i, e in enumerate(effects)])
    return {"effects": [e.label for e in effects], "rows": rows, "totals": totals, "held": held, "chart": chart}


def freeze_durations() -> dict:
    """Days from cancellation to release of the numbers released since (median and 95th percentile)."""
    result = percentiles(
        PhoneNumber.objects.filter(released_at__isnull=False, cancelled_at__isnull=False),
        value=DurationSeconds(F("released_at"), F("cancelled_at")), group_by="range_holder__code",
    )
    rows = [{"operator": r.group, "count": r.count, "median": round(r.values[0.5] / DAY, 1),
             "p95": round(r.values[0.95] / DAY, 1)} for r in result]
    chart = bar_chart(title=_("Days from cancellation to release"), labels=[r["operator"] for r in rows],
                      series=[(_("median"), [r["median"] for r in rows]), (_("95th percentile"),
                                                                           [r["p95"] for r in rows])],
                      stacked=False, unit=" d")
    return {"rows": rows, "chart": chart}


for _section in (
    Section("numbers_by_state", gettext_lazy("Numbers by state per operator"),
            "admin/numbers/dashboard/numbers_by_state.html", numbers_by_state),
    Section("disclosure", gettext_lazy("Disclosure compliance per outlet"),
            "admin/numbers/dashboard/disclosure.html", disclosure_by_outlet),
    Section("risk_marks", gettext_lazy("Risk marks in force"), "admin/numbers/dashboard/risk_marks.html",
            risk_marks_in_force),
    Section("freeze_durations", gettext_lazy("From cancellation to release"),
            "admin/numbers/dashboard/freeze_durations.html", freeze_durations),
):
    register_section(_section)


# --- the page ----------------------------------------------------------------------------------


def can_view_dashboard(user) -> bool:
    """The dashboard shows every operator's figures: for the regulator (or a superuser) only."""
    return user.has_perm("numbers.view_dashboard") and operator_scope(user) == ALL_OPERATORS


def dashboard_view(request):
    if not can_view_dashboard(request.user):
        raise PermissionDenied
    sections = [{"key": s.key, "title": s.title, "template": s.template, "data": s.compute()} for s in SECTIONS]
    context = {
        **admin.site.each_context(request),
        "title": _("Compliance dashboard"),
        "sections": sections,
        "generated_at": timezone.localtime(),
    }
    return TemplateResponse(request, "admin/numbers/dashboard.html", context)
