"""Reassignment query volumes, per platform and local day, for the compliance dashboard."""

from __future__ import annotations

from typing import Any

from django.db.models import Count, F, Sum
from django.db.models.functions import TruncDate
from django.utils import timezone
from django.utils.translation import gettext as _
from django.utils.translation import pgettext

from numbers.charts import DashboardFilter
from renewal.models import ReassignmentQueryCall

# A page, not an export: the busiest rows of the range.
MAX_ROWS = 500


def query_volumes(f: DashboardFilter) -> list[dict[str, Any]]:
    """Calls, items and answers per (local day, platform) in the range; newest day first, busiest first."""
    rows = (ReassignmentQueryCall.objects.filter(at__gte=f.since, at__lt=f.until)
            .annotate(day=TruncDate("at", tzinfo=timezone.get_current_timezone()))
            .values("day", "platform_id").annotate(
                platform_name=F("platform__name"), calls=Count("id"), items=Sum("items"), yes=Sum("yes"),
                no=Sum("no"), no_data=Sum("no_data"), errors=Sum("errors"))
            .order_by("-day", "-items", "platform_name"))
    return [dict(row) for row in rows[:MAX_ROWS]]


def query_volumes_table(f: DashboardFilter) -> dict[str, Any]:
    """query_volumes as the dashboard's plain table."""
    columns = [_("day"), _("platform"), _("calls"), _("numbers asked"), pgettext("reassignment answer", "yes"),
               pgettext("reassignment answer", "no"), _("no data"), _("items refused")]
    rows = [[r["day"].isoformat(), r["platform_name"] or _("(deleted platform)"), r["calls"], r["items"], r["yes"],
             r["no"], r["no_data"], r["errors"]] for r in query_volumes(f)]
    return {"columns": columns, "rows": rows}
