"""The audit trail: one append-only log of every admin action, sign-in and refused sign-in, for both apps.

Callers write an entry in the same transaction as the change it records (a service's `transaction.atomic`),
so a change that rolls back leaves no entry and no change goes unrecorded. The public surface:

* `audit_record(*, actor, action, obj=…, before=…, after=…, detail=…, address=…)` — write one entry;
* `audit_changes(before, after)` — the two halves of a change, keeping only the keys whose value changed;
* `audit_value(value)` — a value as JSON (model rows by their text and id, times in ISO 8601);
* `AuditAction` (numbers.models) — the action codes.

Never pass a secret, a key, a password or a recovery code: say that one was made or changed (`"set": true`).
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from datetime import date, datetime
from decimal import Decimal
from typing import TYPE_CHECKING, Any, TypeAlias
from uuid import UUID

from django.db.models import Model, QuerySet
from django.utils import timezone

from numbers import access
from numbers.models import AuditAction, AuditEntry

if TYPE_CHECKING:
    from django.contrib.auth.models import AnonymousUser, User

# Who acted: an account, the name of the system part that acted ("release sweep"), or None for the system.
AuditActor: TypeAlias = "User | AnonymousUser | str | None"
SYSTEM = "system"
_MAX_LIST = 200  # longer lists (ids of a bulk action) are cut, with their length kept


def audit_value(value: Any) -> Any:
    """Return `value` as JSON: rows as {"id", "text"}, querysets and sets as lists, times in ISO 8601."""
    if value is None or isinstance(value, bool | int | float | str):
        return value
    if isinstance(value, Model):
        return {"id": audit_value(value.pk), "text": str(value)[:200]}
    if isinstance(value, datetime):
        return (timezone.localtime(value) if timezone.is_aware(value) else value).isoformat()
    if isinstance(value, date):
        return value.isoformat()
    if isinstance(value, UUID | Decimal):
        return str(value)
    if isinstance(value, Mapping):
        return {str(k): audit_value(v) for k, v in value.items()}
    if isinstance(value, QuerySet | Iterable) and not isinstance(value, bytes):
        items = [audit_value(v) for v in value]
        if all(isinstance(i, str | int) for i in items):
            items = sorted(items, key=str)
        elif all(isinstance(i, dict) and "id" in i for i in items):
            items = sorted(items, key=lambda i: str(i["id"]))  # rows of a many-to-many field: in no set order
        return items
    return str(value)


def audit_changes(before: Mapping[str, Any], after: Mapping[str, Any]) -> tuple[dict[str, Any], dict[str, Any]]:
    """Return (before, after) as JSON, with only the keys whose value differs."""
    old = {k: audit_value(v) for k, v in before.items()}
    new = {k: audit_value(v) for k, v in after.items()}
    changed = [k for k in {**old, **new} if old.get(k) != new.get(k)]
    return {k: old.get(k) for k in changed}, {k: new.get(k) for k in changed}


def _who(actor: AuditActor) -> tuple[int | None, str, str]:
    if actor is None:
        return None, SYSTEM, SYSTEM
    if isinstance(actor, str):
        return None, actor[:150], SYSTEM
    if not actor.is_authenticated:
        return None, "", ""
    role = access.account_role(actor) or ("inactive" if not actor.is_active else "")
    return int(actor.pk), actor.get_username()[:150], role


def _cut(value: Any) -> Any:
    if isinstance(value, list) and len(value) > _MAX_LIST:
        return [*value[:_MAX_LIST], f"… {len(value) - _MAX_LIST} more"]
    if isinstance(value, dict):
        return {k: _cut(v) for k, v in value.items()}
    return value


def audit_record(
    *, actor: AuditActor, action: str, obj: Model | None = None, object_type: str = "", object_id: str = "",
    object_repr: str = "", before: Mapping[str, Any] | None = None, after: Mapping[str, Any] | None = None,
    detail: Mapping[str, Any] | None = None, address: str = "", actor_name: str = "", at: datetime | None = None,
) -> AuditEntry:
    """Write one audit entry; call it inside the transaction of the change it records.

    `obj` names the object acted on (or `object_type`, `object_id`, `object_repr` when there is no row, e.g. a
    list that was exported); `actor_name` names an account that is not signed in (a refused sign-in).
    """
    if action not in AuditAction.values:
        raise ValueError(f"unknown audit action {action!r}: add it to numbers.models.AuditAction")
    if actor is None and actor_name:
        actor_id, name, role = None, actor_name, ""  # an account that did not get in: its name as typed
    else:
        actor_id, name, role = _who(actor)
    if obj is not None:
        object_type = object_type or obj._meta.label_lower
        object_id = object_id or str(obj.pk)
        object_repr = object_repr or str(obj)
    return AuditEntry.objects.create(
        at=at or timezone.now(), actor_id=actor_id, actor_name=name[:150], role=role,
        action=action, object_type=object_type[:64], object_id=object_id[:64], object_repr=object_repr[:200],
        before=_cut(audit_value(before)) if before is not None else None,
        after=_cut(audit_value(after)) if after is not None else None,
        detail=_cut(audit_value(detail or {})), address=address[:64],
    )
