"""Webhook bodies, one builder per delivery event (the platform guide's "Webhook bodies").

A builder takes deliveries of its event and returns each one's body as the exact bytes that are signed and
sent (compact JSON, snake_case). Both events share one outbox, one signer and one sender.
"""

import json
import uuid
from collections import OrderedDict
from collections.abc import Callable, Iterable
from datetime import datetime
from threading import Event, Lock
from typing import Any

from django.conf import settings
from django.db import connection
from django.utils import timezone

from numbers.models import Operator, PhoneNumber
from renewal.models import (
    BatchChunk,
    BatchEntry,
    Delivery,
    DeliveryEvent,
    Platform,
    PlatformKind,
    RecycleBatch,
    UnbindTask,
)


def dumps(value: object) -> bytes:
    return json.dumps(value, ensure_ascii=False, separators=(",", ":")).encode()


def build(deliveries: Iterable[Delivery]) -> dict[uuid.UUID, bytes]:
    """Return {delivery id: body bytes} for deliveries of any event."""
    by_event: dict[str, list[Delivery]] = {}
    stored: list[uuid.UUID] = []
    for delivery in deliveries:
        if delivery.test:  # a ping or sandbox traffic: no rows to build from, the body is on the row
            stored.append(delivery.id)
        else:
            by_event.setdefault(delivery.event, []).append(delivery)
    bodies: dict[uuid.UUID, bytes] = {}
    if stored:
        bodies.update((pk, body.encode()) for pk, body in
                      Delivery.objects.filter(pk__in=stored).values_list("id", "body"))
    for event, group in by_event.items():
        bodies.update(BUILDERS[event](group))
    return bodies


# --- recycled_numbers.batch -------------------------------------------------------------------

# A chunk's numbers never change once its batch is committed, and every platform's delivery of it
# carries the same list: keep the serialised lists of recent chunks (about 130 kB each) per process;
# the pump claims deliveries chunk by chunk, so a chunk is built about once per worker process. A chunk
# being built by one thread is waited for by another, not built twice.
_CHUNK_CACHE_SIZE = 64
_chunk_cache: OrderedDict[int, tuple[bytes, bytes]] = OrderedDict()
_chunk_building: dict[int, Event] = {}
_chunk_lock = Lock()


def _chunk_parts(chunk_ids: list[int]) -> dict[int, tuple[bytes, bytes]]:
    """Return {chunk id: (operator code JSON, numbers JSON)} with one query for the chunks not cached."""
    parts: dict[int, tuple[bytes, bytes]] = {}
    mine: list[int] = []
    theirs: list[tuple[int, Event]] = []
    with _chunk_lock:
        for chunk_id in chunk_ids:
            if chunk_id in _chunk_cache:
                _chunk_cache.move_to_end(chunk_id)
                parts[chunk_id] = _chunk_cache[chunk_id]
            elif chunk_id in _chunk_building:
                theirs.append((chunk_id, _chunk_building[chunk_id]))
            else:
                _chunk_building[chunk_id] = Event()
                mine.append(chunk_id)
    try:
        if mine:
            parts.update(_build(mine))
    finally:
        with _chunk_lock:
            for chunk_id in mine:
                _chunk_building.pop(chunk_id).set()
    for chunk_id, done in theirs:
        done.wait(60)
        with _chunk_lock:
            cached = _chunk_cache.get(chunk_id)
        parts[chunk_id] = cached if cached is not None else _build([chunk_id])[chunk_id]
    return parts


def _build(chunk_ids: list[int]) -> dict[int, tuple[bytes, bytes]]:
    built = _numbers_postgresql(chunk_ids) if connection.vendor == "postgresql" else _numbers_python(chunk_ids)
    with _chunk_lock:
        for chunk_id, part in built.items():
            _chunk_cache[chunk_id] = part
            while len(_chunk_cache) > _CHUNK_CACHE_SIZE:
                _chunk_cache.popitem(last=False)
    return built


def _numbers_python(chunk_ids: list[int]) -> dict[int, tuple[bytes, bytes]]:
    """{chunk id: (its operator's code, its numbers) as JSON}, serialised here."""
    operators = dict(BatchChunk.objects.filter(pk__in=chunk_ids).values_list("pk", "batch__operator__code"))
    rows: dict[int, list[dict[str, str]]] = {c: [] for c in chunk_ids}
    entries = (
        BatchEntry.objects.filter(chunk_id__in=chunk_ids)
        .order_by("chunk_id", "id")
        .values_list("chunk_id", "number__msisdn", "disconnected_at", "release_not_before")
    )
    tz = timezone.get_default_timezone()
    for chunk_id, msisdn, disconnected_at, release_not_before in entries.iterator(chunk_size=2000):
        rows[chunk_id].append({
            "msisdn": msisdn,
            "disconnected_at": disconnected_at.astimezone(tz).isoformat(timespec="seconds"),
            "release_not_before": release_not_before.astimezone(tz).date().isoformat(),
        })
    return {chunk_id: (dumps(operators.get(chunk_id, "")), dumps(numbers)) for chunk_id, numbers in rows.items()}


def _numbers_postgresql(chunk_ids: list[int]) -> dict[int, tuple[bytes, bytes]]:
    """The very bytes `_numbers_python` makes, serialised by PostgreSQL in one query.

    Building a chunk's JSON was most of a pump's own time; in the database it is about twice as fast and leaves
    the worker free to send. Times are in TIME_ZONE to the second with their offset (isoformat's), dates are
    the local dates; E.164 numbers and operator codes need no escaping beyond to_json's.
    """
    entry, number = BatchEntry._meta.db_table, PhoneNumber._meta.db_table
    chunk, batch, operator = BatchChunk._meta.db_table, RecycleBatch._meta.db_table, Operator._meta.db_table
    tz = settings.TIME_ZONE
    sql = f"""
        SELECT c.id, to_json(o.code)::text, '[' || string_agg(
            '{{"msisdn":' || to_json(n.msisdn)::text
            || ',"disconnected_at":"' || to_char(l.local, 'YYYY-MM-DD"T"HH24:MI:SS')
            || CASE WHEN l.off < interval '0' THEN to_char(l.off, 'HH24:MI') ELSE '+' || to_char(l.off, 'HH24:MI') END
            || '","release_not_before":"' || to_char(e.release_not_before AT TIME ZONE %s, 'YYYY-MM-DD') || '"}}',
            ',' ORDER BY e.id) || ']'
        FROM {chunk} c JOIN {batch} b ON b.id = c.batch_id JOIN {operator} o ON o.id = b.operator_id
        JOIN {entry} e ON e.chunk_id = c.id JOIN {number} n ON n.id = e.number_id
        CROSS JOIN LATERAL (
            SELECT e.disconnected_at AT TIME ZONE %s AS local,
                   (e.disconnected_at AT TIME ZONE %s) - (e.disconnected_at AT TIME ZONE 'UTC') AS off) l
        WHERE c.id = ANY(%s) GROUP BY c.id, o.code
    """
    with connection.cursor() as cursor:
        cursor.execute(sql, [tz, tz, tz, list(chunk_ids)])
        built = {chunk_id: (code.encode(), numbers.encode()) for chunk_id, code, numbers in cursor.fetchall()}
    # A chunk without entries (none is kept, but a body must still be built): an empty list, as in Python.
    return built | {c: (b'""', b"[]") for c in chunk_ids if c not in built}


def batch_bodies(deliveries: list[Delivery]) -> dict[uuid.UUID, bytes]:
    # A batch delivery always carries a chunk (the delivery_chunk_iff_batch constraint).
    parts = _chunk_parts(sorted({d.chunk_id for d in deliveries if d.chunk_id is not None}))
    bodies: dict[uuid.UUID, bytes] = {}
    for d in deliveries:
        assert d.chunk_id is not None
        operator, numbers = parts[d.chunk_id]
        # The key order of the platform guide: event, delivery_id, operator, numbers.
        bodies[d.id] = (b'{"event":"recycled_numbers.batch","delivery_id":"' + str(d.id).encode()
                        + b'","operator":' + operator + b',"numbers":' + numbers + b"}")
    return bodies




def unbind_bodies(deliveries: list[Delivery]) -> dict[uuid.UUID, bytes]:
    """Return {delivery id: body bytes} of `unbind.request` deliveries, with one query for all their tasks."""
    ids = [d.id for d in deliveries]
    tags = set(Platform.objects.filter(pk__in={d.platform_id for d in deliveries}, kind=PlatformKind.TAG_PROVIDER)
               .values_list("pk", flat=True))
    tasks: dict[uuid.UUID, list[tuple[uuid.UUID, str, datetime]]] = {i: [] for i in ids}
    rows = (UnbindTask.objects.filter(delivery_id__in=ids).order_by("delivery_id", "created_at", "id")
            .values_list("delivery_id", "pk", "request__number__msisdn", "request__bound_before"))
    for delivery_id, pk, msisdn, before in rows.iterator(chunk_size=2000):
        tasks[delivery_id].append((pk, msisdn, before))
    out: dict[uuid.UUID, bytes] = {}
    for d in deliveries:
        kinds = ["tag"] if d.platform_id in tags else ["account"]
        out[d.id] = dumps({
            "event": DeliveryEvent.UNBIND.value,
            "delivery_id": str(d.id),
            "tasks": [{"task_id": str(pk), "msisdn": msisdn,
                       "bound_before": timezone.localtime(before).isoformat(timespec="seconds"), "kinds": kinds}
                      for pk, msisdn, before in tasks[d.id]],
        })
    return out


def unbind_body(delivery: Delivery) -> dict[str, Any]:
    """The `unbind.request` webhook body of one delivery, parsed (docs/platform-guide.md)."""
    body: dict[str, Any] = json.loads(unbind_bodies([delivery])[delivery.id])
    return body


BUILDERS: dict[str, Callable[[list[Delivery]], dict[uuid.UUID, bytes]]] = {
    DeliveryEvent.BATCH: batch_bodies,
    DeliveryEvent.UNBIND: unbind_bodies,
}
