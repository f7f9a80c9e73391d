"""Lists page by cursor: `limit` (1 to 1,000, default 100) and an opaque `next_cursor`."""



import base64
import binascii
import json
import re
import uuid
from collections.abc import Callable
from datetime import UTC, datetime

from django.utils import timezone
from rest_framework import exceptions

DEFAULT_LIMIT, MAX_LIMIT = 100, 1000
_LIMIT = re.compile(r"[0-9]{1,4}")
# --- paging ----------------------------------------------------------------------------------


def page_limit(request) -> int:
    raw = request.query_params.get("limit")
    if raw in (None, ""):
        return DEFAULT_LIMIT
    # Plain ASCII digits only: int() would also take " 5", "+5", "1_000" and other scripts' digits.
    if not _LIMIT.fullmatch(raw) or not 1 <= int(raw) <= MAX_LIMIT:
        raise exceptions.ValidationError({"limit": [f"A whole number from 1 to {MAX_LIMIT}."]})
    return int(raw)


def encode_cursor(values: list) -> str:
    return base64.urlsafe_b64encode(json.dumps(values, separators=(",", ":")).encode()).decode().rstrip("=")


# A cursor the API hands out is base64url of a short JSON list; anything longer was not made here, and the
# bound keeps json.loads away from deep nesting.
_CURSOR = re.compile(r"[A-Za-z0-9_-]{2,200}")
MAX_ROW_ID = 2**63 - 1  # the largest bigint primary key


def decode_cursor(request, parse: Callable[[list], object | None]):
    """Return `parse(values)` of the `cursor` query parameter, None without one; 400 when it is not ours.

    `parse` checks the shape and types of the decoded JSON list and returns None when they are wrong.
    """
    raw = request.query_params.get("cursor")
    if not raw:
        return None
    values = cursor_values(raw)
    after = parse(values) if values is not None else None
    if after is None:
        raise exceptions.ValidationError({"cursor": ["Use the next_cursor of a previous page."]})
    return after


def cursor_values(raw: str) -> list | None:
    if not _CURSOR.fullmatch(raw):
        return None
    try:
        values = json.loads(base64.urlsafe_b64decode(raw + "=" * (-len(raw) % 4)))
    except (binascii.Error, ValueError):  # ValueError covers bad JSON and bytes that are not UTF-8
        return None
    return values if isinstance(values, list) else None


def delivery_cursor(values: list) -> tuple[datetime, uuid.UUID] | None:
    """(created_at, id) of the last delivery of the previous page."""
    if len(values) != 2 or not all(isinstance(v, str) for v in values):
        return None
    try:
        created_at, delivery_id = datetime.fromisoformat(values[0]), uuid.UUID(values[1])
        # A time without an offset is not one the API wrote; one near year 1 or 9999 may not fit in UTC.
        if created_at.utcoffset() is None:
            return None
        created_at = created_at.astimezone(UTC)
    except (ValueError, OverflowError):
        return None
    return created_at, delivery_id


def entry_cursor(values: list) -> int | None:
    """The id of the last batch entry of the previous page."""
    if len(values) != 1 or type(values[0]) is not int or not 0 < values[0] <= MAX_ROW_ID:
        return None
    return values[0]


def iso(value: datetime | None) -> str | None:
    return timezone.localtime(value).isoformat() if value else None


