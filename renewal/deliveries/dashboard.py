"""Batch renewal's sections of the regulator's dashboard: one grouped query each.

* batch deliveries and confirmation rates per platform, naming the platforms overdue or never confirming;
* per platform, median and 95th-percentile time from push (`sent_at`) to confirmation (`confirmed_at`).
"""

from collections.abc import Mapping
from datetime import datetime, timedelta
from typing import Any

from django.conf import settings
from django.db.models import Count, F, Q, QuerySet
from django.utils import timezone
from django.utils.translation import gettext as _
from django.utils.translation import gettext_lazy

from numbers.charts import DurationSeconds, Section, bar_chart, percentiles, rate
from renewal.models import (
    Delivery,
    DeliveryEvent,
    DeliveryState,
)

# A batch delivery sent (2xx) but not confirmed for longer than this is overdue. Three days: well inside
# RENEWAL_LEAD_DAYS (numbers are pushed that long before their freeze ends), so a late platform is named
# while there is still time to chase it before the release sweep's grace period.
CONFIRMATION_OVERDUE_DAYS = getattr(settings, "CONFIRMATION_OVERDUE_DAYS", 3)
HOUR = 3600.0



def batch_confirmations(now: datetime | None = None) -> dict[str, Any]:
    """Per platform: batches and batch deliveries by state, the confirmation rate, overdue and dead deliveries."""
    now = now or timezone.now()
    cutoff = now - timedelta(days=CONFIRMATION_OVERDUE_DAYS)
    state = {s: Count("pk", filter=Q(state=s)) for s in DeliveryState.values}
    # Rows with a count per state too, which the stubs cannot see in **state.
    grouped: QuerySet[Delivery, Mapping[str, Any]] = (
        Delivery.objects.filter(event=DeliveryEvent.BATCH).order_by().values("platform__name")
        .annotate(batches=Count("chunk__batch", distinct=True), total=Count("pk"),
                  overdue=Count("pk", filter=Q(state=DeliveryState.SENT, sent_at__lt=cutoff)), **state)
        .order_by("platform__name"))
    rows: list[dict[str, Any]] = []
    for r in grouped:
        expected = r["total"] - r[DeliveryState.CANCELLED]  # a cancelled delivery is never owed a confirmation
        rows.append({
            "platform": r["platform__name"], "batches": r["batches"], "total": r["total"],
            "counts": [r[s] for s in DeliveryState.values], "confirmed": r[DeliveryState.CONFIRMED],
            "rate": rate(r[DeliveryState.CONFIRMED], expected), "overdue": r["overdue"],
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


def push_to_confirmation() -> dict[str, Any]:
    """Per platform: hours from push (sent_at) to confirmation of batch deliveries, median and 95th percentile."""
    result = percentiles(
        Delivery.objects.filter(event=DeliveryEvent.BATCH, sent_at__isnull=False, confirmed_at__isnull=False),
        value=DurationSeconds(F("confirmed_at"), F("sent_at")), group_by="platform__name",
    )
    rows: list[dict[str, Any]] = [{"platform": r.group, "count": r.count, "median": round(r.values[0.5] / HOUR, 1),
                                   "p95": round(r.values[0.95] / HOUR, 1)} for r in result]
    chart = bar_chart(title=_("Hours from push to confirmation"), labels=[r["platform"] for r in rows],
                      series=[(_("median"), [r["median"] for r in rows]),
                              (_("95th percentile"), [r["p95"] for r in rows])], stacked=False, unit=" h")
    return {"rows": rows, "chart": chart}








SECTIONS = (
    Section("batch_confirmations", gettext_lazy("Batch renewal: confirmations per platform"),
            "admin/renewal/dashboard/batch_confirmations.html", batch_confirmations),
    Section("push_to_confirmation", gettext_lazy("From push to confirmation"),
            "admin/renewal/dashboard/push_to_confirmation.html", push_to_confirmation),
)
