"""Active renewal's sections of the compliance dashboard.

* unbind requests (one task per platform) made in the range, by outcome per platform: the platforms with the
  most rejections and the most unanswered tasks first, then a sortable, paged table; results per day;
* harassment reports received in the range, by category, per day (or week).
Each is one grouped query for its current figure and one for its trend.
"""

from collections.abc import Mapping
from typing import Any

from django.db.models import Count, Q, QuerySet
from django.db.models.functions import TruncDate
from django.utils import timezone
from django.utils.translation import gettext as _
from django.utils.translation import gettext_lazy

from numbers.charts import Column, DashboardFilter, Section, admin_link, column_chart, paged_table, top, trend_series
from renewal.models import DeliveryEvent, DeliveryState, HarassmentCategory, HarassmentReport, UnbindResult, UnbindTask

# Table order of the outcomes; "waiting" is a task with no result yet.
UNBIND_OUTCOMES = [UnbindResult.UNBOUND, UnbindResult.NOTHING_BOUND, UnbindResult.REJECTED, UnbindResult.NO_ANSWER,
                   UnbindResult.PENDING]


def _tasks(f: DashboardFilter, by: str = "created_at") -> QuerySet[UnbindTask]:
    tasks = UnbindTask.objects.filter(**{f"{by}__gte": f.since, f"{by}__lt": f.until})
    if f.operator is not None:
        # The operator's numbers: the ones it serves now or whose number block it holds.
        tasks = tasks.filter(Q(request__number__serving_operator=f.operator)
                             | Q(request__number__range_holder=f.operator))
    return tasks.order_by()


def unbind_outcomes(f: DashboardFilter) -> dict[str, Any]:
    """Per platform: unbind tasks by outcome, and how many sit in a dead delivery."""
    counts = {f"o{i}": Count("pk", filter=Q(result=o)) for i, o in enumerate(UNBIND_OUTCOMES)}
    # Rows with a count per outcome too, which the stubs cannot see in **counts.
    grouped: QuerySet[UnbindTask, Mapping[str, Any]] = (_tasks(f).values("platform_id", "platform__name")
               .annotate(requests=Count("pk"), dead=Count("pk", filter=Q(delivery__state=DeliveryState.DEAD)),
                         **counts).order_by("platform__name"))
    rows = []
    for r in grouped:
        outcome = [r[f"o{i}"] for i in range(len(UNBIND_OUTCOMES))]
        link = {"platform": r["platform_id"], "event": DeliveryEvent.UNBIND, **f.range_lookups("created_at")}
        rows.append({"platform": r["platform__name"], "requests": r["requests"], "counts": outcome,
                     "rejected": outcome[2], "no_answer": outcome[3], "dead": r["dead"],
                     "rejected_rate": round(100.0 * outcome[2] / r["requests"], 1) if r["requests"] else None,
                     "link": admin_link("renewal_delivery", **link),
                     "dead_link": admin_link("renewal_delivery", state=DeliveryState.DEAD, **link)})
    totals = {"requests": sum(r["requests"] for r in rows),
              "counts": [sum(r["counts"][i] for r in rows) for i in range(len(UNBIND_OUTCOMES))],
              "dead": sum(r["dead"] for r in rows)}
    labels = [o.label if o != UnbindResult.PENDING else _("waiting") for o in UNBIND_OUTCOMES]
    table = paged_table(f, "unbind", [
        Column("platform", gettext_lazy("Platform"), numeric=False), Column("requests", gettext_lazy("requests")),
        Column("rejected", gettext_lazy("rejected")), Column("rejected_rate", gettext_lazy("rejected %")),
        Column("no_answer", gettext_lazy("no answer")), Column("dead", gettext_lazy("in a dead delivery")),
    ], rows, default_sort="rejected", descending=True)
    results = (_tasks(f, by="reported_at").exclude(result=UnbindResult.PENDING)
               .annotate(day=TruncDate("reported_at", tzinfo=timezone.get_current_timezone()))
               .values_list("day", "result").annotate(n=Count("pk")))
    final = UNBIND_OUTCOMES[:4]
    series = trend_series(f, results, [o.value for o in final])
    chart = column_chart(title=_("Unbind results reported"), buckets=f.buckets(),
                         series=[(o.label, s) for o, s in zip(final, series, strict=True)], weekly=f.weekly)
    return {"outcomes": [str(label) for label in labels], "rows": rows, "totals": totals, "table": table,
            "chart": chart, "attention": {"rejected": top(rows, "rejected"), "no_answer": top(rows, "no_answer"),
                                          "dead": top(rows, "dead")}}


def harassment_reports(f: DashboardFilter) -> dict[str, Any]:
    """Harassment reports received in the range by category, with their trend per day (or week)."""
    reports = HarassmentReport.objects.filter(created_at__gte=f.since, created_at__lt=f.until).order_by()
    if f.operator is not None:
        reports = reports.filter(number__range_holder=f.operator)
    totals = dict(reports.values_list("category").annotate(n=Count("pk")))
    categories = list(HarassmentCategory)
    figures = [{"category": c.value, "label": c.label, "n": totals.get(c.value, 0),
                "link": admin_link("renewal_harassmentreport", category=c.value, **f.range_lookups("created_at"))}
               for c in categories]
    trend = (reports.annotate(day=TruncDate("created_at", tzinfo=timezone.get_current_timezone()))
             .values_list("day", "category").annotate(n=Count("pk")))
    series = trend_series(f, trend, [c.value for c in categories])
    chart = column_chart(title=_("Harassment reports received"), buckets=f.buckets(),
                         series=[(c.label, s) for c, s in zip(categories, series, strict=True)], weekly=f.weekly)
    return {"figures": figures, "total": sum(totals.values()), "chart": chart,
            "link": admin_link("renewal_harassmentreport", **f.range_lookups("created_at"))}


SECTIONS = (
    Section("unbind", gettext_lazy("Active renewal: unbind requests per platform"),
            "admin/renewal/dashboard/unbind.html", unbind_outcomes, operator_view=True),
    Section("harassment", gettext_lazy("Harassment reports"), "admin/renewal/dashboard/harassment.html",
            harassment_reports),
)
