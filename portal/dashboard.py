"""The compliance dashboard: every feature's sections, listed here in the order the page shows them.

A regulator (or a superuser) sees every operator, or one chosen with the operator filter; an operator
administrator sees its own operator only, and only the sections marked `operator_view`. The date range
defaults to the last 30 days. The monthly compliance report (CSV and a printable page) is built from the
same sections for one calendar month.
"""

from __future__ import annotations

import calendar
from datetime import date, timedelta
from typing import Any

from django.contrib import admin
from django.core.exceptions import PermissionDenied
from django.http import HttpRequest, HttpResponse, StreamingHttpResponse
from django.template.response import TemplateResponse
from django.utils import timezone
from django.utils.translation import gettext as _
from django.utils.translation import gettext_lazy

from numbers import roles
from numbers.access import ALL_OPERATORS, account_role, operator_scope
from numbers.charts import DashboardFilter, Section, selector_section
from numbers.exports import csv_lines
from numbers.models import Operator
from numbers.oversight import dashboard as oversight
from renewal.active import dashboard as active
from renewal.conformance import selectors as conformance
from renewal.deliveries import dashboard as deliveries
from renewal.queries import selectors as queries

# Sections fed by other features' selectors render as plain tables: a selector(filter) returning
# {"columns": [...], "rows": [[...], ...]}. Until a feature provides one, the section shows its empty state.
# Query volumes per platform and day come from the platform API's selector; coverage (live, sandbox passing or
# failing, suspended, by category) from platform onboarding's. Plug them in here.
QUERY_VOLUMES_SELECTOR = queries.query_volumes_table
COVERAGE_SELECTOR = conformance.coverage

SECTIONS: tuple[Section, ...] = (
    *oversight.SECTIONS, *deliveries.SECTIONS, *active.SECTIONS,
    selector_section("query_volumes", gettext_lazy("Reassignment queries per platform"), QUERY_VOLUMES_SELECTOR),
    selector_section("coverage", gettext_lazy("Platform coverage"), COVERAGE_SELECTOR),
)

# The longest range the page accepts (its trends count by week past 60 days).
MAX_RANGE_DAYS = 3 * 366
PRESETS = (7, 30, 90, 365)


def can_view_dashboard(user) -> bool:
    """The regulator and superusers see every operator's figures; operator administrators their own."""
    if not user.has_perm("numbers.view_dashboard"):
        return False
    scope = operator_scope(user)
    return scope == ALL_OPERATORS or (isinstance(scope, Operator) and account_role(user) == roles.OPERATOR_ADMIN)


def _own_operator(user) -> Operator | None:
    scope = operator_scope(user)
    return scope if isinstance(scope, Operator) else None


def _parse_day(value: str | None) -> date | None:
    try:
        return date.fromisoformat(value) if value else None
    except ValueError:
        return None


def dashboard_filter(request: HttpRequest) -> tuple[DashboardFilter, list[str]]:
    """Read the range and the operator from the query string; return the filter and what was ignored."""
    problems: list[str] = []
    today = timezone.localdate()
    default = DashboardFilter.last_days(30, today=today)
    start, end = _parse_day(request.GET.get("start")), _parse_day(request.GET.get("end"))
    if (request.GET.get("start") and start is None) or (request.GET.get("end") and end is None):
        problems.append(_("A date is not valid (use YYYY-MM-DD): the last 30 days are shown."))
        start = end = None
    start, end = start or default.start, end or default.end
    if start > end or (end - start).days >= MAX_RANGE_DAYS or end > today + timedelta(days=1):
        problems.append(_("The range must start before it ends, end by today and span at most three years: "
                          "the last 30 days are shown."))
        start, end = default.start, default.end
    own = _own_operator(request.user)
    operator = own
    if own is None and request.GET.get("operator"):
        operator = Operator.objects.filter(code=request.GET["operator"]).first()
        if operator is None:
            problems.append(_("No operator has the code “%(code)s”: every operator is shown.")
                            % {"code": request.GET["operator"][:16]})
    params = {k: str(v) for k, v in request.GET.items() if k.endswith(("_sort", "_page"))}
    return DashboardFilter(start=start, end=end, operator=operator, params=params), problems


def _sections_for(user) -> tuple[Section, ...]:
    if _own_operator(user) is not None:
        return tuple(s for s in SECTIONS if s.operator_view)
    return SECTIONS


def _links(f: DashboardFilter) -> dict[str, str]:
    base = {"start": f.start.isoformat(), "end": f.end.isoformat()}
    if f.operator is not None:
        base["operator"] = f.operator.code
    return {**base, **f.params}


def dashboard_view(request):
    if not can_view_dashboard(request.user):
        raise PermissionDenied
    f, problems = dashboard_filter(request)
    params = _links(f)
    sections = []
    for s in _sections_for(request.user):
        data = s.compute(f)
        if "table" in data:
            data["headers"] = data["table"].headers(params, s.key)
            data["pager"] = data["table"].pager(params, s.key)
        sections.append({"key": s.key, "title": s.title, "template": s.template, "data": data})
    today = timezone.localdate()
    own = _own_operator(request.user)
    context = {
        **admin.site.each_context(request),
        "title": _("Compliance dashboard") if own is None else _("%(operator)s: your dashboard") % {"operator": own},
        "sections": sections, "filter": f, "problems": problems, "own_operator": own,
        "operators": [] if own else list(Operator.objects.order_by("code")),
        "presets": [{"days": d, "start": (today - timedelta(days=d - 1)).isoformat(), "end": today.isoformat()}
                    for d in PRESETS],
        "month": (today.replace(day=1) - timedelta(days=1)).strftime("%Y-%m"),
        "generated_at": timezone.localtime(),
    }
    return TemplateResponse(request, "admin/numbers/dashboard.html", context)


# --- the monthly compliance report ---------------------------------------------------------------------------


def _month(value: str | None) -> date | None:
    try:
        year, month = (int(part) for part in (value or "").split("-"))
        return date(year, month, 1)
    except ValueError:
        return None


def monthly_report(f: DashboardFilter) -> list[tuple[str, str, str, Any]]:
    """(scope, name, figure, value) rows of the month: per operator, per outlet, per platform."""
    operators = [f.operator] if f.operator is not None else list(Operator.objects.order_by("code"))
    rows: list[tuple[str, str, str, Any]] = []
    for op in operators:
        one = DashboardFilter(start=f.start, end=f.end, operator=op)
        for figure in oversight.lifecycle_flow(one)["figures"]:
            rows.append(("operator", op.code, str(figure["kind"]), figure["n"]))
        for r in oversight.numbers_by_state(one)["rows"]:
            rows += [("operator", op.code, f"numbers {state} now", n)
                     for state, n in zip(("available", "active", "frozen", "suspended"), r["counts"], strict=True)]
    for r in oversight.disclosure_by_outlet(f)["rows"]:
        name = f"{r['operator']} {r['outlet']}"
        rows += [("outlet", name, key, r[key]) for key in (
            "allocations", "secondary", "disclosed", "undisclosed", "disclosed_rate", "declined",
            "declined_secondary")]
    for r in deliveries.platform_deliveries(f)["rows"]:
        rows += [("platform", r["platform"], key, r[key]) for key in (
            "total", "confirmed", "rate", "overdue", "dead", "median", "p95")]
    for r in active.unbind_outcomes(f)["rows"]:
        rows += [("platform", r["platform"], f"unbind {key}", r[key]) for key in (
            "requests", "rejected", "no_answer", "dead")]
    return rows


def monthly_report_view(request):
    if not can_view_dashboard(request.user):
        raise PermissionDenied
    today = timezone.localdate()
    first = _month(request.GET.get("month")) or (today.replace(day=1) - timedelta(days=1)).replace(day=1)
    last = first.replace(day=calendar.monthrange(first.year, first.month)[1])
    base, problems = dashboard_filter(request)
    f = DashboardFilter(start=first, end=last, operator=base.operator)
    rows = monthly_report(f)
    label = f"{first:%Y-%m}" + (f"-{f.operator.code}" if f.operator else "")
    if request.GET.get("format") == "csv":
        response: HttpResponse | StreamingHttpResponse = StreamingHttpResponse(
            csv_lines(["month", "scope", "name", "figure", "value"], ((f"{first:%Y-%m}", *r) for r in rows)),
            content_type="text/csv; charset=utf-8")
        response["Content-Disposition"] = f'attachment; filename="compliance-{label}.csv"'
        response["Cache-Control"] = "no-store"
        return response
    grouped: dict[str, list[tuple[str, str, Any]]] = {}
    for scope, name, figure, value in rows:
        grouped.setdefault(scope, []).append((name, figure, value))
    context = {
        **admin.site.each_context(request),
        "title": _("Monthly compliance report, %(month)s") % {"month": f"{first:%Y-%m}"},
        "filter": f, "month": f"{first:%Y-%m}", "problems": problems,
        "scopes": [(gettext_lazy("Operators"), grouped.get("operator", [])),
                   (gettext_lazy("Outlets"), grouped.get("outlet", [])),
                   (gettext_lazy("Platforms"), grouped.get("platform", []))],
        "generated_at": timezone.localtime(),
    }
    return TemplateResponse(request, "admin/numbers/monthly_report.html", context)
