"""Webhook bodies, one builder per delivery event (the platform guide's "Webhook bodies").

A builder takes deliveries of its event and returns each one's body as the exact bytes that are signed and
sent (compact JSON, snake_case). Both events share one outbox, one signer and one sender.
"""

import json
import uuid
from collections import OrderedDict
from collections.abc import Callable, Iterable
from datetime import datetime
from threading import Lock
from typing import Any

from django.utils import timezone

from renewal.models import BatchChunk, BatchEntry, Delivery, DeliveryEvent, Platform, PlatformKind, UnbindTask


def dumps(value: object) -> bytes:
    return json.dumps(value, ensure_ascii=False, separators=(",", ":")).encode()


def build(deliveries: Iterable[Delivery]) -> dict[uuid.UUID, bytes]:
    """Return {delivery id: body bytes} for deliveries of any event."""
    by_event: dict[str, list[Delivery]] = {}
    for delivery in deliveries:
        by_event.setdefault(delivery.event, []).append(delivery)
    bodies: dict[uuid.UUID, bytes] = {}
    for event, group in by_event.items():
        bodies.update(BUILDERS[event](group))
    return bodies


# --- recycled_numbers.batch -------------------------------------------------------------------

# A chunk's numbers never change once its batch is committed, and every platform's delivery of it
# carries the same list: keep the serialised lists of recent chunks (about 130 kB each) per process;
# the dispatch enqueues deliveries chunk by chunk, so a chunk is built about once per worker process.
_CHUNK_CACHE_SIZE = 64
_chunk_cache: OrderedDict[int, tuple[bytes, bytes]] = OrderedDict()
_chunk_lock = Lock()


def _chunk_parts(chunk_ids: list[int]) -> dict[int, tuple[bytes, bytes]]:
    """Return {chunk id: (operator code JSON, numbers JSON)} with one query for the chunks not cached."""
    parts, missing = {}, []
    with _chunk_lock:
        for chunk_id in chunk_ids:
            if chunk_id in _chunk_cache:
                _chunk_cache.move_to_end(chunk_id)
                parts[chunk_id] = _chunk_cache[chunk_id]
            else:
                missing.append(chunk_id)
    if missing:
        rows: dict[int, list[dict[str, str]]] = {c: [] for c in missing}
        operators = dict(BatchChunk.objects.filter(pk__in=missing).values_list("pk", "batch__operator__code"))
        entries = (
            BatchEntry.objects.filter(chunk_id__in=missing)
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
        with _chunk_lock:
            for chunk_id in missing:
                parts[chunk_id] = (dumps(operators.get(chunk_id, "")), dumps(rows[chunk_id]))
                _chunk_cache[chunk_id] = parts[chunk_id]
                while len(_chunk_cache) > _CHUNK_CACHE_SIZE:
                    _chunk_cache.popitem(last=False)
    return parts


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
