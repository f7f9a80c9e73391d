"""Admin for the number lifecycle. Numbers change only through the services, so their pages are read-only.

Who sees what (DESIGN.md "Who uses it", issue 7):
* the regulator sees every model read-only and places and lifts risk marks (numbers/admin_marks.py);
* an operator administrator sees only its operator's rows: every admin here filters its queryset by
  `request.user.staff_profile.operator` (`operator_lookups`), so another operator's object URL answers
  as admin does for a missing object;
* sales staff never reach admin, even with `is_staff` set by mistake (`_site_has_permission`);
* the event log is read-only for everyone, superusers included.
"""

from django.contrib import admin
from django.contrib.auth import get_user_model
from django.contrib.auth.admin import UserAdmin as DjangoUserAdmin
from django.contrib.auth.models import Group
from django.db.models import Q
from django.urls import path
from django.utils.translation import gettext_lazy as _

from numbers import roles
from numbers.admin_base import (
    ALL_OPERATORS,
    NoWritesMixin,
    NumberSearchMixin,
    OperatorScopedAdmin,
    ReadOnlyAdmin,
    operator_scope,
    scope_queryset,
    user_roles,
)
from numbers.exports import CsvExportMixin
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

# --- the default site: who may enter ----------------------------------------------------------


def _site_has_permission(request) -> bool:
    """Staff only, and never sales staff: they work on the outlet pages, even if is_staff was set by mistake."""
    user = request.user
    if not (user.is_active and user.is_staff):
        return False
    return user.is_superuser or roles.SALES_STAFF not in user_roles(user)


# Hooks on the default site (not a replacement site, so every app's admin.register keeps working).
admin.site.has_permission = _site_has_permission
admin.site.index_template = "admin/portal_index.html"
admin.site.site_header = _("Secondary-number renewal portal")
admin.site.site_title = _("Renewal portal admin")


# --- operators, outlets, staff -----------------------------------------------------------------


@admin.register(Operator)
class OperatorAdmin(OperatorScopedAdmin):
    list_display = ["code", "name", "coverage_start"]
    search_fields = ["code", "name"]
    operator_lookups = ("pk",)


@admin.register(Outlet)
class OutletAdmin(OperatorScopedAdmin):
    list_display = ["code", "name", "operator"]
    list_filter = ["operator"]
    search_fields = ["code", "name"]
    operator_lookups = ("operator",)


@admin.register(StaffProfile)
class StaffProfileAdmin(OperatorScopedAdmin):
    list_display = ["user", "operator", "outlet"]
    list_filter = ["operator"]
    autocomplete_fields = ["user"]
    list_select_related = ["user", "operator", "outlet__operator"]
    operator_lookups = ("operator",)


User = get_user_model()


class PortalUserAdmin(DjangoUserAdmin):
    """Django's user admin, scoped: an operator administrator manages its own staff and cannot grant more."""

    OPERATOR_GROUPS = (roles.SALES_STAFF, roles.OPERATOR_ADMIN)

    def get_queryset(self, request):
        queryset = super().get_queryset(request)
        scope = operator_scope(request.user)
        if scope == ALL_OPERATORS:
            return queryset
        if scope is None:
            return queryset.none()
        # Its staff, and accounts just created that belong to no one yet (to be tied to an outlet next).
        orphan = Q(staff_profile__isnull=True, groups__isnull=True, is_staff=False, is_superuser=False)
        return queryset.filter(Q(staff_profile__operator=scope) | orphan).distinct()

    def get_readonly_fields(self, request, obj=None):
        fields = super().get_readonly_fields(request, obj)
        if request.user.is_superuser:
            return fields
        return (*fields, "is_superuser", "user_permissions", "last_login", "date_joined")

    def formfield_for_manytomany(self, db_field, request=None, **kwargs):
        if db_field.name == "groups" and not request.user.is_superuser:
            kwargs["queryset"] = Group.objects.filter(name__in=self.OPERATOR_GROUPS)
        return super().formfield_for_manytomany(db_field, request=request, **kwargs)


if admin.site.is_registered(User):
    admin.site.unregister(User)
admin.site.register(User, PortalUserAdmin)


# --- numbers and their history (read-only) -----------------------------------------------------


class EventInline(NoWritesMixin, admin.TabularInline):
    model = Event
    fields = ["at", "kind", "from_state", "to_state", "actor", "reason", "detail"]
    readonly_fields = fields
    extra = 0
    can_delete = False
    ordering = ["-at", "-id"]


class RiskMarkInline(EventInline):
    model = RiskMark
    fields = ["effect", "extra_days", "category", "authority", "reference", "placed_at", "lifted_at", "ended_at"]
    readonly_fields = fields
    ordering = ["-placed_at"]
    show_change_link = True


_NUMBER_SCOPE = ("range_holder", "serving_operator")
_RELATED_NUMBER_SCOPE = ("number__range_holder", "number__serving_operator")


@admin.register(PhoneNumber)
class PhoneNumberAdmin(NumberSearchMixin, CsvExportMixin, ReadOnlyAdmin):
    list_display = ["msisdn", "state", "is_secondary", "range_holder", "serving_operator", "cancelled_at",
                    "frozen_until", "released_at"]
    list_filter = [
        "state", "is_secondary", "range_holder", "serving_operator",
        ("cancelled_at", admin.DateFieldListFilter), ("frozen_until", admin.DateFieldListFilter),
        ("released_at", admin.DateFieldListFilter),
    ]
    search_fields = ["msisdn"]
    show_facets = admin.ShowFacets.NEVER  # a count per filter choice over millions of rows: not on a click
    search_help_text = _("A number, national (138 0013 8000) or E.164 (+8613800138000), or some of its digits.")
    date_hierarchy = "cancelled_at"
    list_select_related = ["range_holder", "serving_operator"]
    show_full_result_count = False
    inlines = [RiskMarkInline, EventInline]
    change_form_template = "admin/numbers/phonenumber/change_form.html"
    operator_lookups = _NUMBER_SCOPE
    csv_fields = [
        ("msisdn", "msisdn"), ("state", "state"), ("suspended_from", "suspended_from"),
        ("secondary", "is_secondary"), ("range_holder", "range_holder__code"),
        ("serving_operator", "serving_operator__code"), ("cancelled_at", "cancelled_at"),
        ("frozen_until", "frozen_until"), ("released_at", "released_at"), ("updated_at", "updated_at"),
    ]


@admin.register(HolderPeriod)
class HolderPeriodAdmin(NumberSearchMixin, CsvExportMixin, ReadOnlyAdmin):
    list_display = ["number", "operator", "started_at", "ended_at", "outlet", "requires_disclosure"]
    list_filter = ["operator", "requires_disclosure", ("started_at", admin.DateFieldListFilter),
                   ("ended_at", admin.DateFieldListFilter)]
    search_fields = ["number__msisdn"]
    number_field = "number__msisdn"
    date_hierarchy = "started_at"
    list_select_related = ["number", "operator", "outlet__operator"]
    show_full_result_count = False
    # The allocating operator's own records: another operator never sees its customer references.
    operator_lookups = ("operator",)
    csv_fields = [
        ("msisdn", "number__msisdn"), ("operator", "operator__code"), ("started_at", "started_at"),
        ("ended_at", "ended_at"), ("outlet", "outlet__code"), ("secondary_at_allocation", "requires_disclosure"),
        ("disclosure", "disclosure_id"),
    ]


@admin.register(Disclosure)
class DisclosureAdmin(NumberSearchMixin, CsvExportMixin, ReadOnlyAdmin):
    list_display = ["number", "outlet", "staff", "method", "recorded_at"]
    list_filter = ["method", "outlet__operator", ("recorded_at", admin.DateFieldListFilter)]
    search_fields = ["number__msisdn"]
    number_field = "number__msisdn"
    date_hierarchy = "recorded_at"
    list_select_related = ["number", "outlet__operator", "staff"]
    operator_lookups = ("outlet__operator",)
    csv_fields = [
        ("msisdn", "number__msisdn"), ("operator", "outlet__operator__code"), ("outlet", "outlet__code"),
        ("staff", "staff__username"), ("method", "method"), ("customer_confirmed", "customer_confirmed"),
        ("recorded_at", "recorded_at"),
    ]


@admin.register(DeclinedOffer)
class DeclinedOfferAdmin(NumberSearchMixin, CsvExportMixin, ReadOnlyAdmin):
    list_display = ["number", "outlet", "staff", "was_secondary", "declined_at"]
    list_filter = ["was_secondary", "outlet__operator", ("declined_at", admin.DateFieldListFilter)]
    search_fields = ["number__msisdn"]
    number_field = "number__msisdn"
    date_hierarchy = "declined_at"
    list_select_related = ["number", "outlet__operator", "staff"]
    operator_lookups = ("outlet__operator",)
    csv_fields = [
        ("msisdn", "number__msisdn"), ("operator", "outlet__operator__code"), ("outlet", "outlet__code"),
        ("staff", "staff__username"), ("was_secondary", "was_secondary"), ("reason", "reason"),
        ("declined_at", "declined_at"),
    ]


@admin.register(Event)
class EventAdmin(NumberSearchMixin, CsvExportMixin, ReadOnlyAdmin):
    list_display = ["at", "number", "kind", "from_state", "to_state", "actor", "reason"]
    list_filter = ["kind", "number__range_holder", ("at", admin.DateFieldListFilter)]
    search_fields = ["number__msisdn", "actor"]
    number_field = "number__msisdn"
    show_facets = admin.ShowFacets.NEVER
    date_hierarchy = "at"
    list_select_related = ["number"]
    show_full_result_count = False
    operator_lookups = _RELATED_NUMBER_SCOPE
    csv_fields = [
        ("at", "at"), ("msisdn", "number__msisdn"), ("kind", "kind"), ("from_state", "from_state"),
        ("to_state", "to_state"), ("actor", "actor"), ("reason", "reason"), ("detail", "detail"),
        ("recorded_at", "recorded_at"),
    ]


# The risk-mark admin (place, lift) and the dashboard live in their own modules.
from numbers import admin_marks, dashboard  # noqa: E402,F401  (registers RiskMarkAdmin)

_site_get_urls = admin.site.get_urls


def _portal_admin_urls():
    return [path("dashboard/", admin.site.admin_view(dashboard.dashboard_view), name="dashboard"),
            *_site_get_urls()]


admin.site.get_urls = _portal_admin_urls
__all__ = ["ALL_OPERATORS", "OperatorScopedAdmin", "ReadOnlyAdmin", "operator_scope", "scope_queryset",
           "RiskMark"]

from numbers import admin_feed  # noqa: E402,F401  (issue 3: the feed upload page)
