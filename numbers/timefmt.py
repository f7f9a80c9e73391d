"""Times people read: in the portal's zone (TIME_ZONE), in the page's language, never with microseconds or +00:00.

One function formats them all (`local_time`); the `local_time` template filter (numbers/templatetags/timefmt.py)
and the admin display helper (`admin_time`) call it. To the second where the order of things matters (the
audit trail, delivery attempts, number events, import reports), to the minute everywhere else, or a date.
"""

from __future__ import annotations

from collections.abc import Callable
from datetime import date, datetime
from typing import Any, Literal

from django.db.models import Field, Model
from django.utils import formats, timezone
from django.utils.translation import get_language

Precision = Literal["date", "minute", "second"]
# Django's locale formats stop at the minute; to the second, per language (date-format syntax).
SECOND_FORMATS = {"zh-hans": "Y年n月j日 H:i:s", "en": "N j, Y, g:i:s a"}
FALLBACK_SECOND_FORMAT = "Y-m-d H:i:s"


def local_time(value: datetime | date | str | None, precision: Precision = "minute") -> str:
    """Return `value` as a person reads it: local, in the active language's format, to `precision`.

    An ISO 8601 string (as JSON details hold times) is read first; a naive time is taken to be in TIME_ZONE.
    """
    if value is None or value == "":
        return ""
    if isinstance(value, str):
        parsed = _parse(value)
        if parsed is None:
            return value
        value = parsed
    if not isinstance(value, datetime):
        return formats.date_format(value, "DATE_FORMAT")
    if timezone.is_naive(value):
        value = timezone.make_aware(value)
    value = timezone.localtime(value).replace(microsecond=0)
    if precision == "date":
        return formats.date_format(value, "DATE_FORMAT")
    if precision == "second":
        return formats.date_format(value, SECOND_FORMATS.get(get_language() or "", FALLBACK_SECOND_FORMAT))
    return formats.date_format(value, "DATETIME_FORMAT")


def _parse(text: str) -> datetime | date | None:
    try:
        return datetime.fromisoformat(text) if "T" in text or " " in text.strip() else date.fromisoformat(text)
    except ValueError:
        return None


def admin_time(model: type[Model], field: str, *, precision: Precision = "minute") -> Callable[..., str | None]:
    """Return an admin display of `model.field`: its verbose name as the heading, sortable by the field.

    Usable in list_display and readonly_fields directly, or as a ModelAdmin attribute named in them.
    """

    def display(*args: Any) -> str | None:
        return local_time(getattr(args[-1], field), precision) or None

    model_field = model._meta.get_field(field)
    assert isinstance(model_field, Field)
    display.short_description = model_field.verbose_name  # type: ignore[attr-defined]
    display.admin_order_field = field  # type: ignore[attr-defined]
    display.__name__ = f"{field}_local"
    return display
