"""Admin for reassignment queries: each call of a platform's key, with its answer counts, read-only.

The numbers asked are never kept (DESIGN.md, "Privacy"): a call is who asked (the key and its platform), when,
and how many answers of each kind. Regulators and renewal-platform administrators see them; the compliance
dashboard shows the same calls summed per day and platform.
"""

from django.contrib import admin

from numbers.admin_base import ModelAdmin, NoWritesMixin
from renewal.models import ReassignmentQueryCall


@admin.register(ReassignmentQueryCall)
class ReassignmentQueryCallAdmin(NoWritesMixin, ModelAdmin):
    list_display = ["at", "platform", "key_prefix", "items", "yes", "no", "no_data", "errors"]
    list_filter = ["platform__kind"]
    search_fields = ["key_prefix", "platform__name"]
    date_hierarchy = "at"
    list_select_related = ["platform"]
    fields = ("at", "platform", "key", "key_prefix", "items", "yes", "no", "no_data", "errors")
    readonly_fields = fields
