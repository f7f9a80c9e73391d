"""Admin for harassment reports: regulators read them (filtered by category, status and week), export them as
CSV, preview image evidence in the page, download evidence, set status and notes, and hold a report past the
retention period."""

from datetime import datetime, time, timedelta

from django.contrib import admin
from django.urls import reverse
from django.utils import timezone
from django.utils.html import format_html
from django.utils.translation import gettext_lazy as _

from numbers.admin_base import AuditedAdminMixin
from numbers.exports import CsvExportMixin
from renewal.active.forms import PREVIEWABLE
from renewal.active.reports import harassment_report_handle
from renewal.models import Evidence, HarassmentReport, ReportAuthority

WEEKS_OFFERED = 12


class WeekFilter(admin.SimpleListFilter):
    """Reports received in one week (Monday to Sunday, local time), the last twelve weeks offered."""

    title = _("week received")
    parameter_name = "week"

    def lookups(self, request, model_admin):
        today = timezone.localdate()
        monday = today - timedelta(days=today.weekday())
        return [((monday - timedelta(weeks=i)).isoformat(), _("week of %(day)s") % {
            "day": (monday - timedelta(weeks=i)).isoformat()}) for i in range(WEEKS_OFFERED)]

    def queryset(self, request, queryset):
        if not self.value():
            return queryset
        try:
            first = datetime.fromisoformat(self.value()).date()
        except ValueError:
            return queryset.none()
        start = timezone.make_aware(datetime.combine(first - timedelta(days=first.weekday()), time.min))
        return queryset.filter(created_at__gte=start, created_at__lt=start + timedelta(weeks=1))


class EvidenceInline(admin.TabularInline):
    model = Evidence
    fields = ("preview", "download", "file_type", "size", "sha256")
    readonly_fields = fields
    extra = 0
    can_delete = False

    @admin.display(description=_("file"))
    def download(self, obj):
        return format_html('<a href="{}">{}</a>', reverse("subscriber:evidence", args=[obj.pk]), obj.original_name)

    @admin.display(description=_("type"))
    def file_type(self, obj):
        return format_html("<code>{}</code>", obj.content_type)  # a MIME type: a code, not words

    @admin.display(description=_("preview"))
    def preview(self, obj):
        # The preview view itself checks the bytes; a file that is not a raster image is never put in an <img>.
        if obj.content_type not in PREVIEWABLE:
            return "—"
        return format_html('<img src="{}" alt="{}" class="evidence-preview" width="240">',
                           reverse("subscriber:evidence_preview", args=[obj.pk]), obj.original_name)

    def has_add_permission(self, request, obj=None):
        return False

    def has_change_permission(self, request, obj=None):
        return False  # evidence is what the subscriber sent: never edited


# What the regulator may change; everything else on a report is the subscriber's and read-only.
HANDLING_FIELDS = ("status", "notes", "retention_hold")
REPORT_FIELDS = ("reference", "number", "holder_period", "category", "sender", "occurred_at", "description",
                 "created_at")


@admin.register(HarassmentReport)
class HarassmentReportAdmin(CsvExportMixin, admin.ModelAdmin):
    list_display = ("reference", "number", "category", "sender", "occurred_at", "created_at", "status",
                    "handled_by", "handled_at")
    list_filter = ("status", "category", WeekFilter, "retention_hold")
    list_select_related = ("number",)
    # The subscriber's free text goes out as written, defused for spreadsheets (numbers.exports.csv_cell).
    csv_fields = [
        ("reference", "reference"), ("msisdn", "number__msisdn"), ("category", "category"), ("sender", "sender"),
        ("occurred_at", "occurred_at"), ("description", "description"), ("reported_at", "created_at"),
        ("status", "status"), ("notes", "notes"), ("handled_by", "handled_by"), ("handled_at", "handled_at"),
    ]
    search_fields = ("reference", "number__msisdn", "sender")
    fields = (*REPORT_FIELDS, *HANDLING_FIELDS, "handled_by", "handled_at")
    readonly_fields = (*REPORT_FIELDS, "handled_by", "handled_at")
    inlines = [EvidenceInline]

    def has_add_permission(self, request):
        return False

    def has_delete_permission(self, request, obj=None):
        return False

    def save_model(self, request, obj, form, change):
        """Save only the handling fields, naming who changed them and when (the audit trail keeps before and after)."""
        if not form.has_changed():
            return
        harassment_report_handle(report=obj, status=form.cleaned_data["status"], notes=form.cleaned_data["notes"],
                                 retention_hold=form.cleaned_data["retention_hold"], actor=request.user)


@admin.register(ReportAuthority)
class ReportAuthorityAdmin(AuditedAdminMixin, admin.ModelAdmin):
    """Who handles each kind of harassment; a subscriber sees the rows of their report's kind after filing it."""

    list_display = ("category", "position", "name", "phone", "handles", "url")
    list_display_links = ("name",)
    list_editable = ("position",)
    list_filter = ("category",)
    search_fields = ("name", "phone", "handles")
