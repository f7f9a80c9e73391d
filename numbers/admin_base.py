"""What admin pages share: rows scoped to the user's operator (numbers.access), read-only pages, search by number."""

from __future__ import annotations

import re
from typing import TYPE_CHECKING, Any

from django.contrib import admin
from django.db.models import ForeignKey, Model, QuerySet
from django.forms import ModelChoiceField
from django.http import HttpRequest
from django.utils.translation import gettext_lazy as _

from numbers.access import ALL_OPERATORS, operator_scope, scope_queryset
from numbers.models import Operator, Outlet
from numbers.phone import InvalidMsisdn, normalize_msisdn
from numbers.timefmt import local_time

if TYPE_CHECKING:
    from django_stubs_ext import StrOrPromise

    # ModelAdmin is generic in the stubs only: Django's class cannot be subscripted at run time.
    ModelAdmin = admin.ModelAdmin[Any]
    TabularInline = admin.TabularInline[Any, Any]
    # What a mixin's methods may call on `self` and `super()`; at run time a mixin is a plain class.
    ModelAdminMixin = admin.ModelAdmin[Any]
    BaseModelAdminMixin = admin.options.BaseModelAdmin[Any]
else:
    ModelAdmin = admin.ModelAdmin
    TabularInline = admin.TabularInline
    ModelAdminMixin = BaseModelAdminMixin = object


class OperatorScopedAdmin(ModelAdmin):
    """Shows an operator administrator only its operator's rows (`operator_lookups`, OR-ed)."""

    operator_lookups: tuple[str, ...] = ()

    def get_queryset(self, request: HttpRequest) -> QuerySet[Any]:
        return scope_queryset(super().get_queryset(request), request.user, self.operator_lookups)

    def formfield_for_foreignkey(
        self, db_field: ForeignKey[Any, Any], request: HttpRequest, **kwargs: Any
    ) -> ModelChoiceField[Model] | None:
        # Choices of an operator or outlet are the user's own.
        scope = operator_scope(request.user)
        if scope != ALL_OPERATORS and db_field.related_model in (Operator, Outlet):
            field = "pk" if db_field.related_model is Operator else "operator"
            queryset = db_field.related_model.objects.all()
            kwargs["queryset"] = (queryset.filter(**{field: scope.pk}) if isinstance(scope, Operator)
                                  else queryset.none())
        return super().formfield_for_foreignkey(db_field, request, **kwargs)


class NoWritesMixin(BaseModelAdminMixin):
    """For admins and inlines that show rows nobody adds, changes or deletes here (services own every change)."""

    def has_add_permission(self, request: HttpRequest, obj: Any = None) -> bool:
        return False

    def has_change_permission(self, request: HttpRequest, obj: Any = None) -> bool:
        return False

    def has_delete_permission(self, request: HttpRequest, obj: Any = None) -> bool:
        return False


class ReadOnlyAdmin(NoWritesMixin, OperatorScopedAdmin):
    """Shows an operator's rows read-only."""


_NUMBER_CHARS = re.compile(r"[\s\-().]")
_PARTIAL_NUMBER = re.compile(r"\+?\d{3,15}")


class NumberSearchMixin(ModelAdminMixin):
    """Search by number: national or E.164 input is normalised (an exact, indexed match); digits match part of it."""

    number_field = "msisdn"

    def get_search_results(
        self, request: HttpRequest, queryset: QuerySet[Any], search_term: str
    ) -> tuple[QuerySet[Any], bool]:
        term = search_term.strip()
        if term:
            try:
                return queryset.filter(**{self.number_field: normalize_msisdn(term)}), False
            except InvalidMsisdn:
                pass
            digits = _NUMBER_CHARS.sub("", term)
            if _PARTIAL_NUMBER.fullmatch(digits):
                return queryset.filter(**{f"{self.number_field}__contains": digits.lstrip("+")}), False
        return super().get_search_results(request, queryset, search_term)




# --- details people read: an event's detail, a disclosure's facts -------------------------------------------

# The keys the services write into JSON details, as people name them.
DETAIL_LABELS: dict[str, StrOrPromise] = {
    "operator": _("operator"), "outlet": _("outlet"), "secondary": _("secondary"), "disclosure": _("disclosure"),
    "frozen_until": _("frozen until"), "from_operator": _("from operator"), "to_operator": _("to operator"),
    "mark": _("risk mark"), "effect": _("effect"), "extra_days": _("extra freeze days"),
    "authority": _("issuing authority"), "reference": _("reference"), "category": _("category"),
    "msisdn": _("number"), "disconnected_at": _("disconnected at"), "released_at": _("released at"),
    "renewal": _("renewal of the old accounts"), "state": _("state"), "confirmed": _("platforms confirmed"),
    "total": _("platforms"), "never_confirmed": _("never confirmed"),
}
# Coded values the details hold, as people name them.
DETAIL_VALUES: dict[str, StrOrPromise] = {
    "complete": _("complete"), "incomplete": _("incomplete"), "in_progress": _("in progress"),
    "not_started": _("not started"), "unknown": _("unknown"), "extend": _("extend the freeze"),
    "suspend": _("suspend"),
}


def _detail_value(key: str, value: Any) -> str:
    if value is None or value == "" or value == []:
        return "—"
    if isinstance(value, bool):
        return str(_("yes") if value else _("no"))
    if isinstance(value, dict):
        return str(_("(%(detail)s)") % {"detail": detail_text(value)})
    if isinstance(value, list):
        return str(_(", ")).join(_detail_value(key, v) for v in value)
    if isinstance(value, str) and key.endswith(("_at", "_until")):
        return local_time(value, "second")
    return str(DETAIL_VALUES.get(value, value)) if isinstance(value, str) else str(value)


def _detail_label(key: str) -> str:
    return str(DETAIL_LABELS.get(key, key))


def detail_text(detail: dict[str, Any] | None) -> str:
    """A JSON detail as people read it: its keys named, its times local, its codes in words."""
    if not detail:
        return "—"
    return str(_("; ")).join(str(_("%(label)s: %(value)s") % {"label": _detail_label(k), "value": _detail_value(k, v)})
                             for k, v in detail.items())


# Actors that are parts of the system, not people (the services write these names).
SYSTEM_ACTORS: dict[str, StrOrPromise] = {
    "release sweep": _("release sweep"), "upload": _("feed upload"), "cancellations": _("cancellation feed"),
    "inventory": _("inventory import"), "demo": _("demo data"), "system": _("system"),
}


def actor_text(actor: str) -> str:
    return str(SYSTEM_ACTORS.get(actor, actor))
