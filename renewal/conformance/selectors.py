"""Reads of the conformance feature: a platform's last check and its steps, and the platforms' coverage."""

from __future__ import annotations

from collections import Counter
from typing import Any

from django.db.models import CharField, OuterRef, Subquery
from django.db.models.functions import Cast
from django.utils.translation import gettext as _
from django.utils.translation import gettext_lazy

from numbers.models import AuditAction, AuditEntry
from numbers.timefmt import local_time
from renewal.models import ConformanceCheck, ConformanceState, Platform, PlatformCategory, PlatformStatus


def last_check(platform: Platform) -> ConformanceCheck | None:
    """The platform's latest check (running or finished)."""
    return ConformanceCheck.objects.filter(platform=platform).order_by("-started_at", "-id").first()


def last_check_steps(platform: Platform) -> list[dict[str, Any]]:
    """The steps of the platform's latest check, each with its title in the page's language, whether it passed
    (None: not applicable), what was expected, its evidence and why it failed; [] before any check."""
    check = last_check(platform)
    if check is None:
        return []
    return [step_shown(step) for step in check.steps]


def step_shown(step: dict[str, Any]) -> dict[str, Any]:
    """A recorded step with its title and its evidence's names in the page's language."""
    evidence = [{**e, "what": _(e["what"]), "error": _(e["error"]) if e.get("error") == "not in time" else e["error"]}
                for e in step.get("evidence", [])]
    return {**step, "title": _(step["title"]), "evidence": evidence}


COVERAGE_GROUPS = (
    ("live", gettext_lazy("live")),
    ("sandbox_passing", gettext_lazy("sandbox, check passed")),
    ("sandbox_failing", gettext_lazy("sandbox, check failed or not run")),
    ("suspended", gettext_lazy("suspended")),
)


def _group(status: str, check_state: str | None) -> str:
    if status == PlatformStatus.SANDBOX:
        return "sandbox_passing" if check_state == ConformanceState.PASSED else "sandbox_failing"
    return str(status)


def coverage_platforms() -> list[dict[str, Any]]:
    """Every platform with its coverage group, category and the time of its last status change (from the audit
    trail; its creation when its status never changed)."""
    last_finished = (ConformanceCheck.objects.filter(platform=OuterRef("pk"))
                     .exclude(state=ConformanceState.RUNNING).order_by("-started_at", "-id").values("state")[:1])
    changed = (AuditEntry.objects.filter(object_type=Platform._meta.label_lower, object_id=OuterRef("pk_text"),
                                         action=AuditAction.STATUS_CHANGE).order_by("-at").values("at")[:1])
    rows = (Platform.objects.annotate(pk_text=Cast("pk", CharField()), check_state=Subquery(last_finished),
                                      status_changed_at=Subquery(changed))
            .order_by("name").values("pk", "name", "category", "status", "check_state", "status_changed_at",
                                     "created_at"))
    return [{"id": r["pk"], "name": r["name"], "category": r["category"],
             "group": _group(r["status"], r["check_state"]),
             "status_since": r["status_changed_at"] or r["created_at"]} for r in rows]


def coverage(f: Any = None) -> dict[str, Any]:
    """The dashboard's coverage table: per category, platforms live, in the sandbox passing or failing their check,
    and suspended, with the latest status change in each category (the audit trail's time)."""
    platforms = coverage_platforms()
    counts: Counter[tuple[str, str]] = Counter((p["category"], p["group"]) for p in platforms)
    latest: dict[str, Any] = {}
    for p in platforms:
        if p["category"] not in latest or p["status_since"] > latest[p["category"]]:
            latest[p["category"]] = p["status_since"]
    labels = dict(PlatformCategory.choices)
    rows = []
    categories = sorted({p["category"] for p in platforms}, key=lambda c: str(labels.get(c, c)))
    for category in categories:
        rows.append([str(labels.get(category, category)), *(counts[(category, g)] for g, _label in COVERAGE_GROUPS),
                     local_time(latest[category])])
    if rows:
        rows.append([_("All categories"), *(sum(counts[(c, g)] for c in categories) for g, _label in COVERAGE_GROUPS),
                     local_time(max(latest.values()))])
    return {"columns": [_("Category"), *(str(label) for _g, label in COVERAGE_GROUPS), _("Last status change")],
            "rows": rows}
