"""The lifecycle's sections of the regulator's compliance dashboard, each aggregated in the database.

The page (portal.dashboard) lists these after nothing and before the renewal app's; numbers.charts has the
Section type, the percentiles and the charts.
"""

from collections.abc import Mapping
from typing import Any

from django.db.models import Count, F, Q
from django.utils.translation import gettext as _
from django.utils.translation import gettext_lazy

from numbers.charts import DAY, DurationSeconds, Section, bar_chart, percentiles, rate
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


def numbers_by_state() -> dict[str, Any]:
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


def disclosure_by_outlet() -> dict[str, Any]:
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
        s: Mapping[str, Any] = sold.get(outlet.pk, {})
        d: Mapping[str, Any] = declined.get(outlet.pk, {})
        secondary, disclosed = s.get("secondary", 0), s.get("disclosed", 0)
        declined_secondary = d.get("declined_secondary", 0)
        rows.append({
            "operator": outlet.operator.code, "outlet": outlet.code, "name": outlet.name,
            "allocations": s.get("allocations", 0), "secondary": secondary, "disclosed": disclosed,
            "undisclosed": secondary - disclosed, "disclosed_rate": rate(disclosed, secondary),
            "declined": d.get("declined", 0), "declined_secondary": declined_secondary,
            "secondary_declined_rate": rate(declined_secondary, secondary + declined_secondary),
        })
    keys = ("allocations", "secondary", "disclosed", "undisclosed", "declined", "declined_secondary")
    totals = {k: sum(r[k] for r in rows) for k in keys}
    totals["disclosed_rate"] = rate(totals["disclosed"], totals["secondary"])
    totals["secondary_declined_rate"] = rate(totals["declined_secondary"],
                                              totals["secondary"] + totals["declined_secondary"])
    chart = bar_chart(
        title=_("Secondary numbers offered per outlet"), labels=[f"{r['operator']} {r['outlet']}" for r in rows],
        series=[(_("sold with disclosure"), [r["disclosed"] for r in rows]),
                (_("sold without disclosure"), [r["undisclosed"] for r in rows]),
                (_("declined"), [r["declined_secondary"] for r in rows])],
    )
    return {"rows": rows, "totals": totals, "chart": chart}


def risk_marks_in_force() -> dict[str, Any]:
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


def freeze_durations() -> dict[str, Any]:
    """Days from cancellation to release of the numbers released since (median and 95th percentile)."""
    result = percentiles(
        PhoneNumber.objects.filter(released_at__isnull=False, cancelled_at__isnull=False),
        value=DurationSeconds(F("released_at"), F("cancelled_at")), group_by="range_holder__code",
    )
    rows: list[dict[str, Any]] = [{"operator": r.group, "count": r.count, "median": round(r.values[0.5] / DAY, 1),
                                   "p95": round(r.values[0.95] / DAY, 1)} for r in result]
    chart = bar_chart(title=_("Days from cancellation to release"), labels=[r["operator"] for r in rows],
                      series=[(_("median"), [r["median"] for r in rows]), (_("95th percentile"),
                                                                           [r["p95"] for r in rows])],
                      stacked=False, unit=" d")
    return {"rows": rows, "chart": chart}


SECTIONS = (
    Section("numbers_by_state", gettext_lazy("Numbers by state per operator"),
            "admin/numbers/dashboard/numbers_by_state.html", numbers_by_state),
    Section("disclosure", gettext_lazy("Disclosure compliance per outlet"),
            "admin/numbers/dashboard/disclosure.html", disclosure_by_outlet),
    Section("risk_marks", gettext_lazy("Risk marks in force"), "admin/numbers/dashboard/risk_marks.html",
            risk_marks_in_force),
    Section("freeze_durations", gettext_lazy("From cancellation to release"),
            "admin/numbers/dashboard/freeze_durations.html", freeze_durations),
)
