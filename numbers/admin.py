"""Admin for the number lifecycle. Numbers change only through the services, so their pages are read-only."""

from django.contrib import admin

from numbers.models import (
    DeclinedOffer,
    Disclosure,
    Event,
    HolderPeriod,
    Operator,
    Outlet,
    PhoneNumber,
    RiskMark,
    StaffProfile,
)


class ReadOnlyAdmin(admin.ModelAdmin):
    """Shows rows; nobody adds, changes or deletes them here."""

    def has_add_permission(self, request, obj=None):
        return False

    def has_change_permission(self, request, obj=None):
        return False

    def has_delete_permission(self, request, obj=None):
        return False


@admin.register(Operator)
class OperatorAdmin(admin.ModelAdmin):
    list_display = ["code", "name", "coverage_start"]
    search_fields = ["code", "name"]


@admin.register(Outlet)
class OutletAdmin(admin.ModelAdmin):
    list_display = ["code", "name", "operator"]
    list_filter = ["operator"]
    search_fields = ["code", "name"]


@admin.register(StaffProfile)
class StaffProfileAdmin(admin.ModelAdmin):
    list_display = ["user", "operator", "outlet"]
    list_filter = ["operator"]
    autocomplete_fields = ["user"]


class EventInline(admin.TabularInline):
    model = Event
    fields = ["at", "kind", "from_state", "to_state", "actor", "reason", "detail"]
    readonly_fields = fields
    extra = 0
    can_delete = False
    ordering = ["-at", "-id"]

    def has_add_permission(self, request, obj=None):
        return False


@admin.register(PhoneNumber)
class PhoneNumberAdmin(ReadOnlyAdmin):
    list_display = ["msisdn", "state", "is_secondary", "range_holder", "serving_operator", "cancelled_at",
                    "frozen_until", "released_at"]
    list_filter = ["state", "is_secondary", "range_holder", "serving_operator"]
    search_fields = ["msisdn"]
    list_select_related = ["range_holder", "serving_operator"]
    show_full_result_count = False
    inlines = [EventInline]


@admin.register(HolderPeriod)
class HolderPeriodAdmin(ReadOnlyAdmin):
    list_display = ["number", "operator", "started_at", "ended_at", "outlet", "requires_disclosure"]
    list_filter = ["operator", "requires_disclosure"]
    search_fields = ["number__msisdn"]
    list_select_related = ["number", "operator", "outlet"]


@admin.register(Disclosure)
class DisclosureAdmin(ReadOnlyAdmin):
    list_display = ["number", "outlet", "staff", "method", "recorded_at"]
    list_filter = ["method", "outlet__operator"]
    search_fields = ["number__msisdn"]


@admin.register(DeclinedOffer)
class DeclinedOfferAdmin(ReadOnlyAdmin):
    list_display = ["number", "outlet", "staff", "was_secondary", "declined_at"]
    list_filter = ["was_secondary", "outlet__operator"]
    search_fields = ["number__msisdn"]


@admin.register(RiskMark)
class RiskMarkAdmin(ReadOnlyAdmin):
    list_display = ["number", "effect", "extra_days", "category", "authority", "placed_at", "lifted_at", "ended_at"]
    list_filter = ["effect", "category"]
    search_fields = ["number__msisdn", "reference"]


@admin.register(Event)
class EventAdmin(ReadOnlyAdmin):
    list_display = ["at", "number", "kind", "from_state", "to_state", "actor"]
    list_filter = ["kind"]
    search_fields = ["number__msisdn", "actor"]
    date_hierarchy = "at"
    show_full_result_count = False

from numbers import admin_feed  # noqa: E402,F401  (issue 3: the feed upload page)
