"""Active renewal's sections of the regulator's dashboard: one grouped query each.

* unbind requests and their outcomes per platform;
* harassment reports by category per week (the last 12 weeks).
"""

from collections.abc import Mapping
from datetime import datetime, time, timedelta
from typing import Any

from django.db.models import Count, Q, QuerySet
from django.db.models.functions import TruncWeek
from django.utils import timezone
from django.utils.translation import gettext as _
from django.utils.translation import gettext_lazy

from numbers.charts import Section, bar_chart
from renewal.models import HarassmentCategory, HarassmentReport, UnbindResult, UnbindTask

HARASSMENT_WEEKS = 12


# Table order of the outcomes; "waiting" is a task with no result yet.
UNBIND_OUTCOMES = [UnbindResult.UNBOUND, UnbindResult.NOTHING_BOUND, UnbindResult.REJECTED, UnbindResult.NO_ANSWER,
                   UnbindResult.PENDING]


def unbind_outcomes() -> dict[str, Any]:
    """Per platform: unbind requests (one task each) by outcome."""
    counts = {f"o{i}": Count("pk", filter=Q(result=o)) for i, o in enumerate(UNBIND_OUTCOMES)}
    # Rows with keys of the outcomes' counts too, which the stubs cannot see in **counts.
    grouped: QuerySet[UnbindTask, Mapping[str, Any]] = (
        UnbindTask.objects.order_by().values("platform__name").annotate(requests=Count("pk"), **counts)
        .order_by("platform__name"))
    rows = [{"platform": r["platform__name"], "requests": r["requests"],
             "counts": [r[f"o{i}"] for i in range(len(UNBIND_OUTCOMES))]} for r in grouped]
    totals = {"requests": sum(r["requests"] for r in rows),
              "counts": [sum(r["counts"][i] for r in rows) for i in range(len(UNBIND_OUTCOMES))]}
    labels = [o.label if o != UnbindResult.PENDING else _("waiting") for o in UNBIND_OUTCOMES]
    chart = bar_chart(title=_("Unbind requests per platform by outcome"), labels=[r["platform"] for r in rows],
                      series=[(label, [r["counts"][i] for r in rows]) for i, label in enumerate(labels)])
    return {"outcomes": [str(label) for label in labels], "rows": rows, "totals": totals, "chart": chart}


def harassment_by_week(now=None) -> dict[str, Any]:
    """Harassment reports per week (weeks start on Monday, in TIME_ZONE) and category, the last 12 weeks."""
    today = timezone.localdate(now or timezone.now())
    first = today - timedelta(days=today.weekday() + 7 * (HARASSMENT_WEEKS - 1))
    since = timezone.make_aware(datetime.combine(first, time.min))
    grouped = (HarassmentReport.objects.filter(created_at__gte=since).order_by()
               .annotate(week=TruncWeek("created_at")).values_list("week", "category").annotate(n=Count("pk")))
    counts: dict[tuple, int] = {}
    for week, category, n in grouped:  # at most 12 weeks × 4 categories
        key = (timezone.localtime(week).date() if timezone.is_aware(week) else week.date(), category)
        counts[key] = counts.get(key, 0) + n
    weeks = [first + timedelta(weeks=i) for i in range(HARASSMENT_WEEKS)]
    categories = list(HarassmentCategory)
    rows: list[dict[str, Any]] = [{"week": w, "counts": [counts.get((w, c.value), 0) for c in categories]}
                                  for w in weeks]
    for r in rows:
        r["total"] = sum(r["counts"])
    totals = {"counts": [sum(r["counts"][i] for r in rows) for i in range(len(categories))],
              "total": sum(r["total"] for r in rows)}
    chart = bar_chart(title=_("Harassment reports per week by category"),
                      labels=[w.isoformat() for w in weeks],
                      series=[(c.label, [r["counts"][i] for r in rows]) for i, c in enumerate(categories)])
    return {"categories": [c.label for c in categories], "rows": rows, "totals": totals, "chart": chart}


SECTIONS = (
    Section("unbind_outcomes", gettext_lazy("Unbind requests and outcomes per platform"),
            "admin/renewal/dashboard/unbind_outcomes.html", unbind_outcomes),
    Section("harassment", gettext_lazy("Harassment reports by category"),
            "admin/renewal/dashboard/harassment.html", harassment_by_week),
)
