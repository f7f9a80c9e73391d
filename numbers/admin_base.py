"""What admin pages share: rows scoped to the user's operator (numbers.access), read-only pages, search by number."""

from __future__ import annotations

import re
from typing import TYPE_CHECKING, Any

from django.contrib import admin
from django.db.models import ForeignKey, Model, QuerySet
from django.forms import ModelChoiceField
from django.http import HttpRequest

from numbers.access import ALL_OPERATORS, operator_scope, scope_queryset
from numbers.models import Operator, Outlet
from numbers.phone import InvalidMsisdn, normalize_msisdn

if TYPE_CHECKING:
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


