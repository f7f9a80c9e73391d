"""What people read of Django's auth rows: role groups by their role's name, permissions in their language.

Group names are the roles' codes and permission names are stored in English when migrate creates them, so
both would reach a Chinese page as English: their `__str__` (which every admin list, filter, choice and
delete page shows) says them in the active language instead. numbers.apps wires it in `ready`.
"""

from __future__ import annotations

from typing import Any

from django.contrib.auth import get_user_model
from django.contrib.auth.models import Group, Permission
from django.utils.translation import gettext as _
from django.utils.translation import gettext_lazy, gettext_noop

from numbers.roles import LABELS

_ACTIONS = {"add": gettext_noop("Can add %(model)s"), "change": gettext_noop("Can change %(model)s"),
            "delete": gettext_noop("Can delete %(model)s"), "view": gettext_noop("Can view %(model)s")}


def group_label(group: Group) -> str:
    label = LABELS.get(group.name)
    return str(label) if label is not None else group.name


def permission_label(permission: Permission) -> str:
    """The permission as `app | model | what it allows`, translated: default ones by action, custom by Meta."""
    model = permission.content_type.model_class()
    action, _sep, model_name = permission.codename.partition("_")
    if model is not None and action in _ACTIONS and model_name == model._meta.model_name:
        what = _(_ACTIONS[action]) % {"model": model._meta.verbose_name}
    else:
        declared = dict(model._meta.permissions) if model is not None else {}
        what = str(declared.get(permission.codename, permission.name))
    return f"{permission.content_type} | {what}"


def install() -> None:
    Group.__str__ = group_label  # type: ignore[method-assign,assignment]
    Permission.__str__ = permission_label  # type: ignore[method-assign,assignment]
    # The tables behind the auth many-to-many fields (a delete page counts their rows): Django names them after
    # the models' class names ("User-group relationship"), which no catalogue can translate.
    User = get_user_model()
    for through, name, plural in (
        (User.groups.through, gettext_lazy("group membership"), gettext_lazy("group memberships")),
        (User.user_permissions.through, gettext_lazy("permission of a user"), gettext_lazy("permissions of users")),
        (Group.permissions.through, gettext_lazy("permission of a group"), gettext_lazy("permissions of groups")),
    ):
        through._meta.verbose_name, through._meta.verbose_name_plural = name, plural
        through.__str__ = _through_label  # type: ignore[method-assign]


def _through_label(row: Any) -> str:
    """A row of an auth many-to-many table as the two things it ties, e.g. "王小明 – 营业员"."""
    return " – ".join(str(getattr(row, f.name)) for f in row._meta.concrete_fields if f.is_relation)
