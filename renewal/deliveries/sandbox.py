"""Test traffic: pings, and sandbox batches and unbind requests built from reserved test numbers.

A test delivery goes through the outbox like any other (the pump signs and sends it, retries it, records each
attempt), but it has no number, holder-period, batch or task rows: its body is written once, on the row, and the
results a platform reports for it are kept on the row too. Every API call a platform makes about it, accepted or
refused, is appended to its `test_log`: that is what the conformance check reads as evidence.

Sandbox platforms get only this traffic; live platforms get pings and never sandbox batches or unbind requests
(renewal.deliveries.pump.may_receive).
"""

from __future__ import annotations

import json
import random
import uuid
from datetime import datetime, timedelta
from typing import Any

from django.conf import settings
from django.db import transaction
from django.utils import timezone

from numbers.phone import is_sandbox_number as is_sandbox_number
from renewal.models import (
    Delivery,
    DeliveryEvent,
    DeliveryPriority,
    DeliveryState,
    Platform,
    PlatformKind,
    PlatformStatus,
)

# What a sandbox batch names as its operator: no operator's inventory holds its numbers.
SANDBOX_OPERATOR = "TEST"
# The test log keeps at most this many API calls per delivery (a misbehaving platform may call in a loop).
MAX_LOG = 50


def sandbox_numbers(count: int, *, rng: random.Random | None = None) -> list[str]:
    """Return `count` distinct reserved test numbers (SANDBOX_NUMBER_PREFIX and random digits to 11 national)."""
    prefix = settings.SANDBOX_NUMBER_PREFIX
    free = 14 - len(prefix)  # "+86" and 11 digits
    rng = rng or random.Random()
    count = min(count, 10 ** free)
    picked: set[str] = set()
    while len(picked) < count:
        picked.add(f"{prefix}{rng.randrange(10 ** free):0{free}d}")
    return sorted(picked)


def _dumps(value: object) -> str:
    return json.dumps(value, ensure_ascii=False, separators=(",", ":"))


def _local(value: datetime) -> str:
    return timezone.localtime(value).isoformat(timespec="seconds")


def _create(*, platform: Platform, event: str, body: dict[str, Any], delivery_id: uuid.UUID, now: datetime,
            ) -> Delivery:
    pull_only = platform.is_pull_only
    return Delivery.objects.create(
        id=delivery_id, event=event, platform=platform, created_at=now, test=True, body=_dumps(body),
        # A pull-only platform reads it through the API: there is nothing to POST.
        state=DeliveryState.SENT if pull_only else DeliveryState.PENDING,
        sent_at=now if pull_only else None, next_attempt_at=None if pull_only else now,
        priority=DeliveryPriority.INTERACTIVE,  # someone is waiting for the answer
    )


def ping_create(*, platform: Platform, now: datetime | None = None) -> Delivery:
    """Write a `ping` delivery (a live platform's has no "sandbox" key)."""
    now = now or timezone.now()
    delivery_id = uuid.uuid4()
    body: dict[str, Any] = {"event": DeliveryEvent.PING.value, "delivery_id": str(delivery_id), "sent_at": _local(now)}
    if platform.status != PlatformStatus.LIVE:
        body["sandbox"] = True
    return _create(platform=platform, event=DeliveryEvent.PING, body=body, delivery_id=delivery_id, now=now)


def sandbox_batch_create(*, platform: Platform, numbers: int, now: datetime | None = None,
                         rng: random.Random | None = None) -> Delivery:
    """Write a sandbox `recycled_numbers.batch` of `numbers` reserved test numbers."""
    now = now or timezone.now()
    delivery_id = uuid.uuid4()
    disconnected = now - timedelta(days=80)
    release = timezone.localtime(disconnected + timedelta(days=90)).date().isoformat()
    body = {"event": DeliveryEvent.BATCH.value, "delivery_id": str(delivery_id), "operator": SANDBOX_OPERATOR,
            "numbers": [{"msisdn": m, "disconnected_at": _local(disconnected), "release_not_before": release}
                        for m in sandbox_numbers(numbers, rng=rng)],
            "sandbox": True}
    return _create(platform=platform, event=DeliveryEvent.BATCH, body=body, delivery_id=delivery_id, now=now)


def sandbox_unbind_create(*, platform: Platform, tasks: int, now: datetime | None = None,
                          rng: random.Random | None = None) -> Delivery:
    """Write a sandbox `unbind.request` of `tasks` tasks, each for a reserved test number."""
    now = now or timezone.now()
    delivery_id = uuid.uuid4()
    kinds = ["tag"] if platform.kind == PlatformKind.TAG_PROVIDER else ["account"]
    bound_before = _local(now - timedelta(days=3))
    body = {"event": DeliveryEvent.UNBIND.value, "delivery_id": str(delivery_id),
            "tasks": [{"task_id": str(uuid.uuid4()), "msisdn": m, "bound_before": bound_before, "kinds": kinds}
                      for m in sandbox_numbers(tasks, rng=rng)],
            "sandbox": True}
    return _create(platform=platform, event=DeliveryEvent.UNBIND, body=body, delivery_id=delivery_id, now=now)


def body_of(delivery: Delivery) -> dict[str, Any]:
    body: dict[str, Any] = json.loads(delivery.body or "{}")
    return body


def log_entry(*, call: str, ok: bool, code: str = "", message: str = "", data: Any = None,
              now: datetime | None = None) -> dict[str, Any]:
    return {"at": _local(now or timezone.now()), "call": call, "ok": ok, "code": code, "message": message[:300],
            "data": data}


def log_append(*, delivery_id: uuid.UUID | str, entry: dict[str, Any]) -> None:
    """Append one API call to a test delivery's log (in a transaction of its own: refusals roll theirs back)."""
    with transaction.atomic():
        delivery = Delivery.objects.select_for_update().filter(pk=delivery_id, test=True).first()
        if delivery is None:
            return
        delivery.test_log = [*(delivery.test_log or []), entry][-MAX_LOG:]
        delivery.save(update_fields=["test_log"])
