"""Admin for harassment reports: regulators read them, download evidence, set status and notes, and hold a
report past the retention period."""

from django.contrib import admin
from django.urls import reverse
from django.utils.html import format_html
from django.utils.translation import gettext_lazy as _

from numbers.admin_base import AuditedAdminMixin
from renewal.active.reports import harassment_report_handle
from renewal.models import Evidence, HarassmentReport, ReportAuthority


class EvidenceInline(admin.TabularInline):
    model = Evidence
    fields = ("download", "file_type", "size", "sha256")
    readonly_fields = fields
    extra = 0
    can_delete = False

    @admin.display(description=_("file"))
    def download(self, obj):
        return format_html('<a href="{}">{}</a>', reverse("subscriber:evidence", args=[obj.pk]), obj.original_name)

    @admin.display(description=_("type"))
    def file_type(self, obj):
        return format_html("<code>{}</code>", obj.content_type)  # a MIME type: a code, not words

    def has_add_permission(self, request, obj=None):
        return False

    def has_change_permission(self, request, obj=None):
        return False  # evidence is what the subscriber sent: never edited


# What the regulator may change; everything else on a report is the subscriber's and read-only.
HANDLING_FIELDS = ("status", "notes", "retention_hold")
REPORT_FIELDS = ("reference", "number", "holder_period", "category", "sender", "occurred_at", "description",
                 "created_at")


@admin.register(HarassmentReport)
class HarassmentReportAdmin(admin.ModelAdmin):
    list_display = ("reference", "number", "category", "sender", "occurred_at", "created_at", "status",
                    "handled_by", "handled_at")
    list_filter = ("status", "category", "retention_hold")
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
