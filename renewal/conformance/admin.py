"""Admin for the conformance check: the checks with their evidence, and the platform list's check column, dying
flag and the "run conformance check" / "send test event" actions (renewal-platform administrators; audited).

Regulators see the checks and the platform list read-only.
"""

from typing import Any

from django.contrib import admin, messages
from django.db.models import QuerySet
from django.http import HttpRequest
from django.template.loader import render_to_string
from django.urls import reverse
from django.utils.html import format_html
from django.utils.translation import gettext
from django.utils.translation import gettext_lazy as _

from numbers.admin_base import ModelAdmin, NoWritesMixin
from numbers.errors import DomainError
from renewal.conformance import selectors, services
from renewal.models import ConformanceCheck, ConformanceState, Platform
from renewal.platforms.admin import PlatformAdmin


def _steps_table(steps: list[dict[str, Any]]) -> str:
    return render_to_string("admin/renewal/conformance_steps.html",
                            {"steps": [selectors.step_shown(s) for s in steps]})


@admin.register(ConformanceCheck)
class ConformanceCheckAdmin(NoWritesMixin, ModelAdmin):
    list_display = ["platform", "started_at", "state", "variant", "failed_step", "source", "requested_by"]
    list_filter = ["state", "variant", "source"]
    search_fields = ["platform__name"]
    list_select_related = ["platform"]
    readonly_fields = ("platform", "started_at", "finished_at", "state", "variant", "webhook_url", "source",
                       "requested_by", "evidence")
    fields = readonly_fields

    @admin.display(description=_("failed at"))
    def failed_step(self, obj: ConformanceCheck) -> str:
        failed = obj.first_failed_step
        return f"{failed['step']}. {gettext(failed['title'])}" if failed else "—"

    @admin.display(description=_("steps and evidence"))
    def evidence(self, obj: ConformanceCheck) -> str:
        return _steps_table(obj.steps)


class DyingFilter(admin.SimpleListFilter):
    title = _("deliveries dying")
    parameter_name = "dying"

    def lookups(self, request: HttpRequest, model_admin: Any) -> list[tuple[str, Any]]:
        return [("yes", _("live, every delivery failing for a day"))]

    def queryset(self, request: HttpRequest, queryset: QuerySet[Platform]) -> QuerySet[Platform]:
        return queryset.filter(dying_since__isnull=False) if self.value() == "yes" else queryset


class PlatformConformanceAdmin(PlatformAdmin):
    """The platform list with its last check and its dying flag, and the check's actions."""

    list_display = [*PlatformAdmin.list_display, "last_check", "dying"]
    list_filter = [DyingFilter, *PlatformAdmin.list_filter]
    actions = [*PlatformAdmin.actions, "run_check", "send_test_event"]

    def get_readonly_fields(self, request: HttpRequest, obj: Any = None) -> list[str]:
        fields = list(super().get_readonly_fields(request, obj))
        return [*fields, "last_check_steps", "dying_since"] if obj is not None else fields

    def get_fields(self, request: HttpRequest, obj: Any = None) -> list[Any]:
        fields = list(super().get_fields(request, obj))
        if obj is not None:
            fields = [f for f in fields if f not in ("last_check_steps", "dying_since")]
            fields += ["dying_since", "last_check_steps"]
        return fields

    @admin.display(description=_("last conformance check"))
    def last_check(self, obj: Platform) -> str:
        check = selectors.last_check(obj)
        if check is None:
            return "—" if services.needs_check(obj) else gettext("not needed")
        url = reverse("admin:renewal_conformancecheck_change", args=[check.pk])
        failed = check.first_failed_step
        label = check.get_state_display() + (f" ({gettext('step')} {failed['step']})" if failed else "")
        return format_html('<a href="{}">{}</a>', url, label)

    @admin.display(description=_("dying"))
    def dying(self, obj: Platform) -> str:
        if obj.dying_since is None:
            return ""
        return format_html('<strong class="errornote">{}</strong>', gettext("deliveries dying"))

    @admin.display(description=_("last conformance check"))
    def last_check_steps(self, obj: Platform) -> str:
        check = selectors.last_check(obj)
        if check is None:
            return gettext("No check yet.")
        return format_html("{} {}", check.get_state_display(), _steps_table(check.steps)) \
            if check.state != ConformanceState.RUNNING else gettext("Running…")

    @admin.action(description=_("Run the conformance check (sandbox platforms)"), permissions=["change"])
    def run_check(self, request: Any, queryset: QuerySet[Platform]) -> None:
        for platform in queryset:
            try:
                services.run_conformance_check(platform, request.user)
            except DomainError as exc:
                self.message_user(request, f"{platform.name}: {exc.message}", messages.ERROR)
            else:
                self.message_user(request, gettext("%(platform)s: conformance check started; its result appears "
                                                   "under “last conformance check”.") % {"platform": platform.name})

    @admin.action(description=_("Send a test event (a signed ping)"), permissions=["change"])
    def send_test_event(self, request: Any, queryset: QuerySet[Platform]) -> None:
        for platform in queryset:
            try:
                delivery = services.send_test_event(platform, request.user)
            except DomainError as exc:
                self.message_user(request, f"{platform.name}: {exc.message}", messages.ERROR)
            else:
                self.message_user(request, gettext("%(platform)s: ping %(id)s sent through the outbox.")
                                  % {"platform": platform.name, "id": delivery.pk})


admin.site.unregister(Platform)
admin.site.register(Platform, PlatformConformanceAdmin)
