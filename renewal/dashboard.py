"""The renewal sections of the regulator's dashboard (numbers/dashboard.py): one grouped query each.

* batch deliveries and confirmation rates per platform, naming the platforms overdue or never confirming;
* per platform, median and 95th-percentile time from push (`sent_at`) to confirmation (`confirmed_at`);
* unbind requests and their outcomes per platform;
* harassment reports by category per week (the last 12 weeks).
"""

from datetime import datetime, time, timedelta

from django.conf import settings
from django.db.models import Count, F, Q
from django.db.models.functions import TruncWeek
from django.utils import timezone
from django.utils.translation import gettext as _
from django.utils.translation import gettext_lazy

from numbers.dashboard import DurationSeconds, Section, bar_chart, percentiles, register_section
from renewal.models import Delivery, DeliveryEvent, DeliveryState
from renewal.models_subscriber import HarassmentCategory, HarassmentReport, UnbindResult, UnbindTask

# A batch delivery sent (2xx) but not confirmed for longer than this is overdue. Three days: well inside
# RENEWAL_LEAD_DAYS (numbers are pushed that long before their freeze ends), so a late platform is named
# while there is still time to chase it before the release sweep's grace period.
CONFIRMATION_OVERDUE_DAYS = getattr(settings, "CONFIRMATION_OVERDUE_DAYS", 3)
HARASSMENT_WEEKS = 12
HOUR = 3600.0


def _rate(part: int, whole: int) -> float | None:
    return round(100.0 * part / whole, 1) if whole else None


def batch_confirmations(now=None) -> dict:
    """Per platform: batches and batch deliveries by state, the confirmation rate, overdue and dead deliveries."""
    now = now or timezone.now()
    cutoff = now - timedelta(days=CONFIRMATION_OVERDUE_DAYS)
    state = {s: Count("pk", filter=Q(state=s)) for s in DeliveryState.values}
    grouped = (Delivery.objects.filter(event=DeliveryEvent.BATCH).order_by().values("platform__name")
               .annotate(batches=Count("chunk__batch", distinct=True), total=Count("pk"),
                         overdue=Count("pk", filter=Q(state=DeliveryState.SENT, sent_at__lt=cutoff)), **state)
               .order_by("platform__name"))
    rows = []
    for r in grouped:
        expected = r["total"] - r[DeliveryState.CANCELLED]  # a cancelled delivery is never owed a confirmation
        rows.append({
            "platform": r["platform__name"], "batches": r["batches"], "total": r["total"],
            "counts": [r[s] for s in DeliveryState.values], "confirmed": r[DeliveryState.CONFIRMED],
            "rate": _rate(r[DeliveryState.CONFIRMED], expected), "overdue": r["overdue"],
            "dead": r[DeliveryState.DEAD],
            "never_confirmed": expected > 0 and r[DeliveryState.CONFIRMED] == 0,
        })
    chart = bar_chart(title=_("Batch deliveries per platform by state"), labels=[r["platform"] for r in rows],
                      series=[(s.label, [r["counts"][i] for r in rows]) for i, s in enumerate(DeliveryState)])
    return {
        "states": [s.label for s in DeliveryState], "rows": rows, "chart": chart,
        "overdue_days": CONFIRMATION_OVERDUE_DAYS,
        "overdue": [r["platform"] for r in rows if r["overdue"]],
        "never_confirming": [r["platform"] for r in rows if r["never_confirmed"] or r["dead"]],
    }


def push_to_confirmation() -> dict:
    """Per platform: hours from push (sent_at) to confirmation of batch deliveries, median and 95th percentile."""
    result = percentiles(
        Delivery.objects.filter(event=DeliveryEvent.BATCH, sent_at__isnull=False, confirmed_at__isnull=False),
        value=DurationSeconds(F("confirmed_at"), F("sent_at")), group_by="platform__name",
    )
    rows = [{"platform": r.group, "count": r.count, "median": round(r.values[0.5] / HOUR, 1),
             "p95": round(r.values[0.95] / HOUR, 1)} for r in result]
    chart = bar_chart(title=_("Hours from push to confirmation"), labels=[r["platform"] for r in rows],
                      series=[(_("median"), [r["median"] for r in rows]),
                              (_("95th percentile"), [r["p95"] for r in rows])], stacked=False, unit=" h")
    return {"rows": rows, "chart": chart}


# Table order of the outcomes; "waiting" is a task with no result yet.
UNBIND_OUTCOMES = [UnbindResult.UNBOUND, UnbindResult.NOTHING_BOUND, UnbindResult.REJECTED, UnbindResult.NO_ANSWER,
                   UnbindResult.PENDING]


def unbind_outcomes() -> dict:
    """Per platform: unbind requests (one task each) by outcome."""
    counts = {f"o{i}": Count("pk", filter=Q(result=o)) for i, o in enumerate(UNBIND_OUTCOMES)}
    grouped = (UnbindTask.objects.order_by().values("platform__name").annotate(requests=Count("pk"), **counts)
               .order_by("platform__name"))
    rows = [{"platform": r["platform__name"], "requests": r["requests"],
             "counts": [r[f"o{i}"] for i in range(len(UNBIND_OUTCOMES))]} for r in grouped]
    totals = {"requests": sum(r["requests"] for r in rows),
              "counts": [sum(r["counts"][i] for r in rows) for i in range(len(UNBIND_OUTCOMES))]}
    labels = [o.label if o != UnbindResult.PENDING else _("waiting") for o in UNBIND_OUTCOMES]
    chart = bar_chart(title=_("Unbind requests per platform by outcome"), labels=[r["platform"] for r in rows],
                      series=[(label, [r["counts"][i] for r in rows]) for i, label in enumerate(labels)])
    return {"outcomes": [str(label) for label in labels], "rows": rows, "totals": totals, "chart": chart}


def harassment_by_week(now=None) -> dict:
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
    rows = [{"week": w, "counts": [counts.get((w, c.value), 0) for c in categories]} for w in weeks]
    for r in rows:
        r["total"] = sum(r["counts"])
    totals = {"counts": [sum(r["counts"][i] for r in rows) for i in range(len(categories))],
              "total": sum(r["total"] for r in rows)}
    chart = bar_chart(title=_("Harassment reports per week by category"),
                      labels=[w.isoformat() for w in weeks],
                      series=[(c.label, [r["counts"][i] for r in rows]) for i, c in enumerate(categories)])
    return {"categories": [c.label for c in categories], "rows": rows, "totals": totals, "chart": chart}


register_section(Section("batch_confirmations", gettext_lazy("Batch renewal: confirmations per platform"),
                         "admin/renewal/dashboard/batch_confirmations.html", batch_confirmations))
register_section(Section("push_to_confirmation", gettext_lazy("From push to confirmation"),
                         "admin/renewal/dashboard/push_to_confirmation.html", push_to_confirmation))
register_section(Section("unbind_outcomes", gettext_lazy("Unbind requests and outcomes per platform"),
                         "admin/renewal/dashboard/unbind_outcomes.html", unbind_outcomes))
register_section(Section("harassment", gettext_lazy("Harassment reports by category"),
                         "admin/renewal/dashboard/harassment.html", harassment_by_week))
