"""Minimal admin for harassment reports: regulators read them and download evidence."""

from django.contrib import admin
from django.urls import reverse
from django.utils.html import format_html
from django.utils.translation import gettext_lazy as _

from renewal.models_subscriber import Evidence, HarassmentReport


class EvidenceInline(admin.TabularInline):
    model = Evidence
    fields = ("download", "content_type", "size", "sha256")
    readonly_fields = fields
    extra = 0
    can_delete = False

    @admin.display(description=_("file"))
    def download(self, obj):
        return format_html('<a href="{}">{}</a>', reverse("subscriber:evidence", args=[obj.pk]), obj.original_name)

    def has_add_permission(self, request, obj=None):
        return False


@admin.register(HarassmentReport)
class HarassmentReportAdmin(admin.ModelAdmin):
    list_display = ("reference", "number", "category", "sender", "occurred_at", "created_at")
    list_filter = ("category",)
    search_fields = ("reference", "number__msisdn", "sender")
    readonly_fields = ("reference", "number", "holder_period", "category", "sender", "occurred_at", "description",
                       "created_at")
    inlines = [EvidenceInline]

    def has_add_permission(self, request):
        return False

    def has_delete_permission(self, request, obj=None):
        return False
