"""Guards that keep an account to one role, whatever page, command or API saves it; SQL functions for SQLite."""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

from django.contrib.auth import get_user_model
from django.contrib.auth.models import Group
from django.core.exceptions import ValidationError
from django.db.backends.signals import connection_created
from django.db.models import Model
from django.db.models.signals import m2m_changed, pre_save
from django.utils.translation import gettext_lazy as _

from numbers.models import StaffProfile
from numbers.phone import msisdn_sha256
from numbers.roles import OPERATORLESS_ROLES

if TYPE_CHECKING:
    from django.contrib.auth.models import User

ONE_ROLE = _("An account holds one role: an account with a staff profile cannot also be a regulator, a "
             "renewal-platform administrator or a superuser.")


def refuse_operatorless_group_on_profile(
    sender: type[Model], instance: User | Group, action: str, reverse: bool, pk_set: set[int] | None,
    **kwargs: Any,
) -> None:
    """Refuse adding a regulator or platform-administrator group to an account that has a staff profile."""
    if action != "pre_add" or not pk_set:
        return
    if reverse:  # group.user_set.add(users…): the instance is the group
        assert isinstance(instance, Group)
        if instance.name in OPERATORLESS_ROLES and StaffProfile.objects.filter(user_id__in=pk_set).exists():
            raise ValidationError(ONE_ROLE, code="one_role")
        return
    adds_operatorless = Group.objects.filter(pk__in=pk_set, name__in=OPERATORLESS_ROLES).exists()
    if adds_operatorless and StaffProfile.objects.filter(user_id=instance.pk).exists():
        raise ValidationError(ONE_ROLE, code="one_role")


def refuse_superuser_with_profile(sender: type[User], instance: User, **kwargs: Any) -> None:
    if instance.is_superuser and instance.pk and StaffProfile.objects.filter(user_id=instance.pk).exists():
        raise ValidationError(ONE_ROLE, code="one_role")


def connect() -> None:
    user_model = get_user_model()
    m2m_changed.connect(refuse_operatorless_group_on_profile, sender=user_model.groups.through,
                        dispatch_uid="numbers.one_role.groups")
    pre_save.connect(refuse_superuser_with_profile, sender=user_model, dispatch_uid="numbers.one_role.superuser")
    connection_created.connect(register_sql_functions, dispatch_uid="numbers.sql_functions")


def register_sql_functions(sender: Any, connection: Any, **kwargs: Any) -> None:
    """Give SQLite the SQL functions PostgreSQL has built in that set-based writes use (the number's SHA-256)."""
    if connection.vendor == "sqlite":
        connection.connection.create_function("msisdn_sha256", 1, _sha256_or_null, deterministic=True)


def _sha256_or_null(value: str | None) -> str | None:
    return None if value is None else msisdn_sha256(value)
