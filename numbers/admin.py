"""Admin for the number lifecycle. Numbers change only through the services, so their pages are read-only.

Who sees what (docs/security.md has the whole matrix):
* only an account in one admin role gets in (portal.admin_site): a superuser, an operator administrator,
  a regulator or a renewal-platform administrator; sales staff, orphans and mixed accounts never do;
* the regulator sees every model read-only and places and lifts risk marks (numbers/oversight/admin.py);
* an operator administrator sees only its operator's rows (`operator_lookups`, numbers.access), so another
  operator's object URL answers as admin does for a missing object; of the accounts, it sees and manages
  its own operator's sales staff only, created through one form;
* the event log is read-only for everyone, superusers included.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any, ClassVar

from django import forms
from django.conf import settings
from django.contrib import admin
from django.contrib.auth import get_user_model
from django.contrib.auth.admin import UserAdmin as DjangoUserAdmin
from django.contrib.auth.forms import UserChangeForm, UserCreationForm
from django.contrib.auth.tokens import default_token_generator
from django.core.exceptions import ValidationError
from django.db.models import ForeignKey, Model, QuerySet
from django.http import FileResponse, Http404, HttpRequest, HttpResponse
from django.http.response import HttpResponseBase
from django.template.response import TemplateResponse
from django.urls import URLPattern, path, reverse
from django.utils.encoding import force_bytes
from django.utils.html import format_html
from django.utils.http import urlsafe_base64_encode
from django.utils.translation import gettext_lazy as _

from numbers import access, roles
from numbers.admin_base import NoWritesMixin, NumberSearchMixin, OperatorScopedAdmin, ReadOnlyAdmin, TabularInline
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
from numbers.services import sales_staff_create
from numbers.signals import ONE_ROLE

if TYPE_CHECKING:
    from django.contrib.admin.options import _FieldsetSpec
    from django.contrib.auth.models import User as AuthUser

    # Generic in the stubs only: Django's classes cannot be subscripted at run time.
    _UserCreationForm = UserCreationForm[AuthUser]
    _UserChangeForm = UserChangeForm[AuthUser]
    _UserAdmin = DjangoUserAdmin[AuthUser]
else:
    _UserCreationForm, _UserChangeForm, _UserAdmin = UserCreationForm, UserChangeForm, DjangoUserAdmin

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


User = get_user_model()


def _profile_candidates(user: access.AnyUser) -> QuerySet[AuthUser]:
    """Accounts a staff profile may be attached to by `user`: never a superuser's or an operator-less role's."""
    if access.account_role(user) != access.SUPERUSER:
        return access.managed_users(User.objects.all(), user)
    return User.objects.filter(is_superuser=False).exclude(groups__name__in=roles.OPERATORLESS_ROLES)


@admin.register(StaffProfile)
class StaffProfileAdmin(OperatorScopedAdmin):
    """Superusers tie accounts to operators; an operator administrator moves its sales staff between outlets."""

    list_display = ["user", "operator", "outlet"]
    list_filter = ["operator"]
    autocomplete_fields = ["user"]
    list_select_related = ["user", "operator", "outlet__operator"]
    operator_lookups = ("operator",)

    def get_queryset(self, request: HttpRequest) -> QuerySet[Any]:
        queryset = super().get_queryset(request)
        if access.account_role(request.user) != roles.OPERATOR_ADMIN:
            return queryset
        # Of its operator's profiles, an operator administrator sees its sales staff's: not its peers'.
        return queryset.filter(user__in=access.managed_users(User.objects.all(), request.user))

    def has_add_permission(self, request: HttpRequest) -> bool:
        # Sales staff come with their profile from the one staff form; other profiles are the superusers'.
        return access.account_role(request.user) == access.SUPERUSER and super().has_add_permission(request)

    def get_readonly_fields(self, request: HttpRequest, obj: Any = None) -> tuple[str, ...]:
        if access.account_role(request.user) == access.SUPERUSER:
            return ()
        return ("user", "operator")

    def formfield_for_foreignkey(
        self, db_field: ForeignKey[Any, Any], request: HttpRequest, **kwargs: Any
    ) -> forms.ModelChoiceField[Model] | None:
        if db_field.name == "user":
            kwargs["queryset"] = _profile_candidates(request.user)
        return super().formfield_for_foreignkey(db_field, request, **kwargs)


class SalesStaffCreationForm(_UserCreationForm):
    """One form for a new clerk: the account, its staff profile (the operator's outlet) and its group."""

    outlet = forms.ModelChoiceField(queryset=Outlet.objects.none(), label=_("outlet"),
                                    help_text=_("The outlet where this clerk sells numbers."))

    class Meta(UserCreationForm.Meta):
        model = User
        fields = ("username",)

    operator: Operator | None = None

    def __init__(self, *args: Any, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        outlet = self.fields["outlet"]
        assert isinstance(outlet, forms.ModelChoiceField)
        outlet.queryset = Outlet.objects.filter(operator=self.operator)


class PortalUserChangeForm(_UserChangeForm):
    def clean(self) -> dict[str, Any]:
        data = super().clean()
        assert data is not None  # a ModelForm's clean() returns its cleaned data
        if self.instance.pk and StaffProfile.objects.filter(user=self.instance).exists():
            groups = data.get("groups")
            operatorless = groups is not None and any(g.name in roles.OPERATORLESS_ROLES for g in groups)
            if data.get("is_superuser") or operatorless:
                raise ValidationError(ONE_ROLE, code="one_role")
        return data


class PortalUserAdmin(_UserAdmin):
    """Django's user admin for superusers; an operator administrator sees and manages its own sales staff only."""

    form = PortalUserChangeForm
    staff_add_fieldsets: _FieldsetSpec = (
        (None, {"classes": ("wide",), "fields": ("username", "password1", "password2", "outlet")}),
    )
    staff_fieldsets: _FieldsetSpec = (
        (None, {"fields": ("username", "password", "reset_link")}),
        (_("Personal info"), {"fields": ("first_name", "last_name", "email")}),
        (_("Status"), {"fields": ("is_active",)}),
    )

    def _is_superuser(self, request: HttpRequest) -> bool:
        return access.account_role(request.user) == access.SUPERUSER

    def get_readonly_fields(self, request: HttpRequest, obj: AuthUser | None = None) -> tuple[str, ...]:
        readonly = tuple(super().get_readonly_fields(request, obj))
        return readonly if self._is_superuser(request) or obj is None else (*readonly, "reset_link")

    @admin.display(description=_("forgotten password"))
    def reset_link(self, obj: AuthUser) -> str:
        return format_html('<a href="{}">{}</a>', reverse("admin:auth_user_reset_link", args=[obj.pk]),
                           _("Make a one-time link with which the clerk sets a new password"))

    def get_queryset(self, request: HttpRequest) -> QuerySet[AuthUser]:
        return access.managed_users(super().get_queryset(request), request.user)

    def get_fieldsets(self, request: HttpRequest, obj: AuthUser | None = None) -> _FieldsetSpec:
        if self._is_superuser(request):
            return super().get_fieldsets(request, obj)
        return self.staff_add_fieldsets if obj is None else self.staff_fieldsets

    def get_form(
        self, request: HttpRequest, obj: AuthUser | None = None, change: bool = False, **kwargs: Any
    ) -> type[forms.ModelForm[AuthUser]]:
        if obj is None and not self._is_superuser(request):
            operator = access.operator_scope(request.user)
            kwargs["form"] = type("SalesStaffCreationForm", (SalesStaffCreationForm,), {"operator": operator})
        # `change` as ModelAdmin.get_form takes it (Django's UserAdmin leaves it in **kwargs).
        return super().get_form(request, obj, change=change, **kwargs)

    def save_model(self, request: HttpRequest, obj: AuthUser, form: Any, change: Any) -> None:
        if change or self._is_superuser(request):
            super().save_model(request, obj, form, change)
        else:
            sales_staff_create(user=obj, outlet=form.cleaned_data["outlet"])

    def get_urls(self) -> list[URLPattern]:
        reset = path("<id>/reset-link/", self.admin_site.admin_view(self.reset_link_view),
                     name="auth_user_reset_link")
        return [reset, *super().get_urls()]

    def reset_link_view(self, request: HttpRequest, id: str) -> HttpResponse:
        """A one-time link with which a clerk sets a new password (the administrator never learns it).

        Only the accounts this administrator manages (numbers.access.managed_users): its own sales staff.
        The link works once, for a few days (PASSWORD_RESET_TIMEOUT), and no longer once the password changes.
        """
        user = self.get_queryset(request).filter(pk=id).first() if id.isdigit() else None
        if user is None or not self.has_change_permission(request, user):
            raise Http404
        link = None
        if request.method == "POST":
            token = default_token_generator.make_token(user)
            uid = urlsafe_base64_encode(force_bytes(user.pk))
            link = request.build_absolute_uri(reverse("staff:password_reset_confirm", args=[uid, token]))
            if settings.PUBLIC_BASE_URL:
                link = settings.PUBLIC_BASE_URL + reverse("staff:password_reset_confirm", args=[uid, token])
        context = {**self.admin_site.each_context(request), "title": _("Reset the password of %(name)s")
                   % {"name": user.get_username()}, "account": user, "link": link, "opts": self.opts,
                   "days": settings.PASSWORD_RESET_TIMEOUT // 86400}
        return TemplateResponse(request, "admin/auth/user/reset_link.html", context)


if admin.site.is_registered(User):
    admin.site.unregister(User)
admin.site.register(User, PortalUserAdmin)


# --- numbers and their history (read-only) -----------------------------------------------------


class EventInline(NoWritesMixin, TabularInline):
    model: type[Model] = Event  # RiskMarkInline shows another model the same way
    fields: ClassVar[tuple[str, ...]] = ("at", "kind", "from_state", "to_state", "actor", "reason", "detail")
    readonly_fields = fields
    extra = 0
    can_delete = False
    ordering = ["-at", "-id"]


class RiskMarkInline(EventInline):
    model = RiskMark
    fields = ("effect", "extra_days", "category", "authority", "reference", "placed_at", "lifted_at", "ended_at")
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
    readonly_fields = ("signature_link",)

    @admin.display(description=_("signature"))
    def signature_link(self, obj: Disclosure) -> str:
        if not obj.signature:
            return "—"
        url = reverse("admin:numbers_disclosure_signature", args=[obj.pk])
        return format_html('<a href="{}"><img src="{}" alt="{}" class="signature-thumb"></a>', url, url,
                           _("The customer's signature"))

    def get_urls(self) -> list[URLPattern]:
        signature = path("<id>/signature.png", self.admin_site.admin_view(self.signature_view),
                         name="numbers_disclosure_signature")
        return [signature, *super().get_urls()]

    def signature_view(self, request: HttpRequest, id: str) -> HttpResponseBase:
        """The customer's drawn signature: regulators, and the administrators of the outlet's operator."""
        disclosure = self.get_queryset(request).filter(pk=id).first() if id.isdigit() else None
        if disclosure is None or not self.has_view_permission(request, disclosure) or not disclosure.signature:
            raise Http404
        response = FileResponse(disclosure.signature.open("rb"), content_type="image/png")
        response["X-Content-Type-Options"] = "nosniff"
        response["Cache-Control"] = "private, no-store"
        return response


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
