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

import json
from typing import TYPE_CHECKING, Any, ClassVar

from django import forms
from django.apps import apps
from django.conf import settings
from django.contrib import admin, messages
from django.contrib.admin.utils import unquote
from django.contrib.auth import get_user_model
from django.contrib.auth.admin import GroupAdmin
from django.contrib.auth.admin import UserAdmin as DjangoUserAdmin
from django.contrib.auth.forms import (
    AdminPasswordChangeForm,
    SetUnusablePasswordMixin,
    UserChangeForm,
    UserCreationForm,
)
from django.contrib.auth.models import Group
from django.contrib.auth.tokens import default_token_generator
from django.core.exceptions import PermissionDenied, ValidationError
from django.db import transaction
from django.db.models import ForeignKey, Model, QuerySet
from django.http import FileResponse, Http404, HttpRequest, HttpResponse, HttpResponseRedirect
from django.http.response import HttpResponseBase
from django.template.response import TemplateResponse
from django.urls import URLPattern, path, reverse
from django.utils.encoding import force_bytes
from django.utils.html import format_html
from django.utils.http import urlsafe_base64_encode
from django.utils.text import format_lazy
from django.utils.translation import gettext_lazy as _

from numbers import access, roles, two_factor
from numbers.admin_base import (
    AuditedAdminMixin,
    NoWritesMixin,
    NumberSearchMixin,
    OperatorScopedAdmin,
    ReadOnlyAdmin,
    TabularInline,
    actor_text,
    detail_text,
)
from numbers.audit import audit_record
from numbers.exports import CsvExportMixin
from numbers.models import (
    AuditAction,
    AuditEntry,
    DeclinedOffer,
    Disclosure,
    Event,
    HolderPeriod,
    MarkCategory,
    Operator,
    Outlet,
    PhoneNumber,
    RiskMark,
    StaffProfile,
)
from numbers.ratelimit import client_address
from numbers.services import sales_staff_create
from numbers.signals import ONE_ROLE
from numbers.timefmt import admin_time

if TYPE_CHECKING:
    from django.contrib.admin.options import _FieldsetSpec
    from django.contrib.auth.models import User as AuthUser

    # Generic in the stubs only: Django's classes cannot be subscripted at run time.
    _UserCreationForm = UserCreationForm[AuthUser]
    _UserChangeForm = UserChangeForm[AuthUser]
    _UserAdmin = DjangoUserAdmin[AuthUser]
    _AdminPasswordChangeForm = AdminPasswordChangeForm[AuthUser]
else:
    _UserCreationForm, _UserChangeForm, _UserAdmin = UserCreationForm, UserChangeForm, DjangoUserAdmin
    _AdminPasswordChangeForm = AdminPasswordChangeForm

# --- operators, outlets, staff -----------------------------------------------------------------


@admin.register(Operator)
class OperatorAdmin(AuditedAdminMixin, OperatorScopedAdmin):
    list_display = ["code", "name", "coverage_start"]
    search_fields = ["code", "name"]
    operator_lookups = ("pk",)


@admin.register(Outlet)
class OutletAdmin(AuditedAdminMixin, OperatorScopedAdmin):
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
class StaffProfileAdmin(AuditedAdminMixin, OperatorScopedAdmin):
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


class PortalAdminPasswordChangeForm(_AdminPasswordChangeForm):
    # Django appends this warning to the help text in English, outside gettext.
    usable_password_help_text = format_lazy(  # type: ignore[assignment]
        '{}<ul id="id_unusable_warning" class="messagelist"><li class="warning">{}</li></ul>',
        SetUnusablePasswordMixin.usable_password_help_text,
        _("If disabled, the current password for this user will be lost."),
    )


class PortalUserAdmin(AuditedAdminMixin, _UserAdmin):
    """Django's user admin for superusers; an operator administrator sees and manages its own sales staff only."""

    form = PortalUserChangeForm
    change_password_form = PortalAdminPasswordChangeForm
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

    def save_object(self, request: HttpRequest, obj: AuthUser, form: Any, change: bool) -> None:
        if change or self._is_superuser(request):
            super().save_object(request, obj, form, change)
        else:
            sales_staff_create(user=obj, outlet=form.cleaned_data["outlet"])

    # --- the password page, and the superuser's reset of an account's two-factor sign-in ---

    def user_change_password(self, request: HttpRequest, id: str, form_url: str = "") -> HttpResponse:
        with transaction.atomic():
            response = super().user_change_password(request, id, form_url)
            if request.method == "POST" and isinstance(response, HttpResponseRedirect):
                user = self.get_object(request, unquote(id))
                audit_record(actor=request.user, action=AuditAction.PASSWORD_SET, obj=user,
                             address=client_address(request))
        return response

    def get_urls(self) -> list[URLPattern]:
        return [
            path("<id>/two-factor/reset/", self.admin_site.admin_view(self.two_factor_reset_view),
                 name="auth_user_two_factor_reset"),
            path("<id>/reset-link/", self.admin_site.admin_view(self.reset_link_view), name="auth_user_reset_link"),
            *super().get_urls(),
        ]

    def has_two_factor_reset_permission(self, request: HttpRequest) -> bool:
        return self._is_superuser(request)

    def two_factor_reset_view(self, request: HttpRequest, id: str) -> HttpResponse:
        if not self.has_two_factor_reset_permission(request):
            raise PermissionDenied
        user = self.get_object(request, unquote(id))
        if user is None:  # unknown, or not an account this user manages: as admin answers a missing object
            return HttpResponseRedirect(reverse("admin:index"))
        if request.method == "POST":
            two_factor.two_factor_reset(user=user, actor=request.user, address=client_address(request))
            self.message_user(request, _("Two-factor sign-in of %(user)s was reset: the account sets it up again at "
                                         "its next sign-in.") % {"user": user.get_username()}, messages.SUCCESS)
            return HttpResponseRedirect(reverse("admin:auth_user_change", args=[user.pk]))
        context = {
            **self.admin_site.each_context(request), "opts": self.opts, "original": user,
            "title": _("Reset two-factor sign-in"), "enrolled": two_factor.is_enrolled(user),
        }
        return TemplateResponse(request, "admin/auth/user/two_factor_reset.html", context)

    def render_change_form(self, request: HttpRequest, context: dict[str, Any], add: bool = False,
                           change: bool = False, form_url: str = "", obj: AuthUser | None = None) -> HttpResponse:
        context["can_reset_two_factor"] = obj is not None and self.has_two_factor_reset_permission(request)
        context["two_factor_enrolled"] = obj is not None and two_factor.is_enrolled(obj)
        return super().render_change_form(request, context, add, change, form_url, obj)

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


class PortalGroupAdmin(AuditedAdminMixin, GroupAdmin):
    """Django's group admin (superusers only), with every change in the audit trail."""


if admin.site.is_registered(Group):
    admin.site.unregister(Group)
admin.site.register(Group, PortalGroupAdmin)


# --- numbers and their history (read-only) -----------------------------------------------------


class EventDisplays:
    """How people read an event: its time to the second, system actors and details in words."""

    at_local = admin_time(Event, "at", precision="second")
    recorded_at_local = admin_time(Event, "recorded_at", precision="second")

    @admin.display(description=_("actor"), ordering="actor")
    def actor_name(self, obj: Event) -> str:
        return actor_text(obj.actor)

    @admin.display(description=_("detail"))
    def detail_text(self, obj: Event) -> str:
        return detail_text(obj.detail)

    @admin.display(description=_("reason"), ordering="reason")
    def reason_text(self, obj: Event) -> str:
        # Risk-mark events name the mark's category by its code.
        return str(MarkCategory(obj.reason).label) if obj.reason in MarkCategory.values else obj.reason


class EventInline(EventDisplays, NoWritesMixin, TabularInline):
    model: type[Model] = Event  # RiskMarkInline shows another model the same way
    fields: ClassVar[tuple[str, ...]] = ("at_local", "kind", "from_state", "to_state", "actor_name",
                                         "reason_text", "detail_text")
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
    fields = ("number", "outlet", "staff", "method", "facts_text", "customer_confirmed", "signature_link",
              "recorded_at")
    readonly_fields = fields
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

    @admin.display(description=_("facts shown"))
    def facts_text(self, obj: Disclosure) -> str:
        return detail_text(obj.facts)


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
class EventAdmin(EventDisplays, NumberSearchMixin, CsvExportMixin, ReadOnlyAdmin):
    list_display = ["at_local", "number", "kind", "from_state", "to_state", "actor_name", "reason_text"]
    fields = ("number", "kind", "from_state", "to_state", "actor_name", "reason_text", "detail_text", "at_local",
              "recorded_at_local")
    readonly_fields = fields
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


# --- the audit trail (read-only; regulators and superusers) --------------------------------------


class AuditActionFilter(admin.SimpleListFilter):
    title = _("action")
    parameter_name = "action"

    def lookups(self, request: HttpRequest, model_admin: Any) -> list[tuple[str, str]]:
        return [(value, str(label)) for value, label in AuditAction.choices]

    def queryset(self, request: HttpRequest, queryset: QuerySet[Any]) -> QuerySet[Any]:
        return queryset.filter(action=self.value()) if self.value() else queryset


# The audit trail stores role codes; people read these.
AUDIT_ROLE_LABELS: dict[str, Any] = {
    access.SUPERUSER: _("superuser"), **roles.LABELS, access.MIXED: _("account holding more than one role"),
    access.ORPHAN: _("account in no role"), "system": _("system"),
}


def audit_role_label(role: str) -> str:
    return str(AUDIT_ROLE_LABELS.get(role, role))


def audit_object_type_label(label: str) -> str:
    """`app.model` as people read it: the model's name in the page's language."""
    try:
        return str(apps.get_model(label)._meta.verbose_name)
    except (LookupError, ValueError):
        return label


class AuditRoleFilter(admin.SimpleListFilter):
    title = _("role")
    parameter_name = "role"

    def lookups(self, request: HttpRequest, model_admin: Any) -> list[tuple[str, str]]:
        return [(code, audit_role_label(code)) for code in AUDIT_ROLE_LABELS]

    def queryset(self, request: HttpRequest, queryset: QuerySet[Any]) -> QuerySet[Any]:
        return queryset.filter(role=self.value()) if self.value() else queryset


class AuditObjectTypeFilter(admin.SimpleListFilter):
    title = _("object type")
    parameter_name = "object_type"

    def lookups(self, request: HttpRequest, model_admin: Any) -> list[tuple[str, str]]:
        types = AuditEntry.objects.exclude(object_type="").order_by().values_list("object_type", flat=True).distinct()
        return sorted(((t, audit_object_type_label(t)) for t in types), key=lambda choice: choice[1])

    def queryset(self, request: HttpRequest, queryset: QuerySet[Any]) -> QuerySet[Any]:
        return queryset.filter(object_type=self.value()) if self.value() else queryset


def _json_block(value: Any) -> str:
    # The values as they were stored (field names and codes): machine data, shown as code.
    if value in (None, {}, []):
        return "—"
    text = json.dumps(value, ensure_ascii=False, indent=2, sort_keys=True)
    return format_html('<pre class="audit-json"><code>{}</code></pre>', text)


@admin.register(AuditEntry)
class AuditEntryAdmin(CsvExportMixin, ReadOnlyAdmin):
    """Every admin action, sign-in and refused sign-in; filter by person (click a name), role, action, object
    (click it) and date, and export what the filters show."""

    list_display = ["at", "person", "role_label", "action_label", "object_type_label", "object", "address"]
    list_filter = [AuditActionFilter, AuditRoleFilter, AuditObjectTypeFilter, ("at", admin.DateFieldListFilter)]
    search_fields = ["=actor_name", "object_repr", "=object_id"]
    search_help_text = _("A user name (exactly), an object's name or id.")
    date_hierarchy = "at"
    show_facets = admin.ShowFacets.NEVER
    show_full_result_count = False
    fields = readonly_fields = ("at", "actor_name", "actor_id", "role_label", "action_label", "object_type_label",
                                "object_id",
                                "object_repr", "before_json", "after_json", "detail_json", "address")
    csv_fields = [
        ("at", "at"), ("person", "actor_name"), ("account_id", "actor_id"), ("role", "role"), ("action", "action"),
        ("object_type", "object_type"), ("object_id", "object_id"), ("object", "object_repr"), ("before", "before"),
        ("after", "after"), ("detail", "detail"), ("address", "address"),
    ]

    @admin.display(description=_("person"), ordering="actor_name")
    def person(self, obj: AuditEntry) -> str:
        return format_html('<a href="?actor_name={}">{}</a>', obj.actor_name, actor_text(obj.actor_name))

    @admin.display(description=_("role"), ordering="role")
    def role_label(self, obj: AuditEntry) -> str:
        return audit_role_label(obj.role)

    @admin.display(description=_("object type"), ordering="object_type")
    def object_type_label(self, obj: AuditEntry) -> str:
        return audit_object_type_label(obj.object_type) if obj.object_type else "—"

    @admin.display(description=_("action"), ordering="action")
    def action_label(self, obj: AuditEntry) -> str:
        return str(AuditAction(obj.action).label) if obj.action in AuditAction.values else obj.action

    @admin.display(description=_("object"))
    def object(self, obj: AuditEntry) -> str:
        if not obj.object_type:
            return obj.object_repr or "—"
        return format_html('<a href="?object_type={}&amp;object_id={}">{}</a>', obj.object_type, obj.object_id,
                           obj.object_repr or obj.object_id)

    @admin.display(description=_("before"))
    def before_json(self, obj: AuditEntry) -> str:
        return _json_block(obj.before)

    @admin.display(description=_("after"))
    def after_json(self, obj: AuditEntry) -> str:
        return _json_block(obj.after)

    @admin.display(description=_("detail"))
    def detail_json(self, obj: AuditEntry) -> str:
        return _json_block(obj.detail)
