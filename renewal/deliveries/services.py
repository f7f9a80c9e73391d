"""The outbox's public surface: the batch sweep, the pump, retries, confirmations, release gating.

What other features use of the outbox is here; its other modules (bodies, http, pump, queue, unbind) are internal.
"""

from __future__ import annotations

import json
import logging
import math
import os
import uuid
from collections.abc import Iterable
from datetime import datetime, timedelta
from typing import Any

from django.conf import settings
from django.db import connection, transaction
from django.db.models import Count, Exists, F, OuterRef, Q, QuerySet, Subquery
from django.db.models.expressions import RawSQL
from django.db.models.functions import Coalesce
from django.utils import timezone
from django.utils.translation import gettext as _

from numbers.audit import audit_record
from numbers.errors import DomainError
from numbers.models import AuditAction, PhoneNumber, State
from numbers.services import Actor, actor_label
from renewal.deliveries import bodies, http, pump, queue, sandbox

# What other features use of the outbox's internals, re-exported as its public surface.
from renewal.deliveries.unbind import unbind_coalesce as unbind_coalesce
from renewal.deliveries.unbind import unbind_deliveries_confirm as unbind_deliveries_confirm
from renewal.errors import Conflict, Invalid, NotFound
from renewal.models import (
    BatchChunk,
    BatchEntry,
    Delivery,
    DeliveryAttempt,
    DeliveryEvent,
    DeliveryPriority,
    DeliveryState,
    Platform,
    PlatformKind,
    PlatformStatus,
    RecycleBatch,
)

log = logging.getLogger(__name__)

# --- the batch sweep -------------------------------------------------------------------------


def numbers_due_for_renewal(now: datetime) -> QuerySet[PhoneNumber]:
    """Return the numbers to push whose current cycle has no batch entry: frozen ones due within the lead time,
    and secondary numbers already on sale that were never pushed (recycled before the portal went live)."""
    frozen_due = Q(state=State.FROZEN, frozen_until__lte=now + timedelta(days=settings.RENEWAL_LEAD_DAYS))
    released_unpushed = Q(state=State.AVAILABLE, is_secondary=True, cancelled_at__isnull=False,
                          frozen_until__isnull=False)
    return PhoneNumber.objects.filter(frozen_due | released_unpushed, cycle__isnull=False).exclude(
        Exists(BatchEntry.objects.filter(cycle_id=OuterRef("cycle_id")))).order_by()


def batch_sweep(*, now: datetime | None = None) -> list[int]:
    """Make one recycle batch per range holder of the numbers due; return the new batch ids."""
    now = now or timezone.now()
    operators = list(numbers_due_for_renewal(now).values_list("range_holder_id", flat=True).distinct())
    batch_ids = []
    for operator_id in sorted(operators):
        batch = batch_create(operator_id=operator_id, now=now)
        if batch is not None:
            batch_ids.append(batch.pk)
    return batch_ids


def _uuid_sql() -> str:
    # Django keeps UUIDs as native uuid on PostgreSQL and as 32 hex characters on SQLite.
    return "gen_random_uuid()" if connection.vendor == "postgresql" else "lower(hex(randomblob(16)))"


@transaction.atomic
def batch_create(*, operator_id: int, now: datetime) -> RecycleBatch | None:
    """Batch the operator's due numbers in chunks and write one delivery per (live platform, chunk).

    All set-based (INSERT … SELECT); the batch, its entries and its deliveries commit together,
    and the dispatch task is enqueued after the commit.
    """
    if connection.vendor == "postgresql":
        with connection.cursor() as cursor:  # one sweep per operator at a time
            cursor.execute("SELECT pg_advisory_xact_lock(%s, %s)", [4004, operator_id])
    due = numbers_due_for_renewal(now).filter(range_holder_id=operator_id)
    count = due.count()
    if not count:
        return None
    size = settings.RENEWAL_CHUNK_SIZE
    batch = RecycleBatch.objects.create(operator_id=operator_id, created_at=now, size=0)
    BatchChunk.objects.bulk_create([BatchChunk(batch=batch, seq=i) for i in range(math.ceil(count / size))])
    due_sql, due_params = due.values("id", "cycle_id", "cancelled_at", "frozen_until").query.sql_with_params()
    entry, chunk, delivery, platform = (m._meta.db_table for m in (BatchEntry, BatchChunk, Delivery, Platform))
    with connection.cursor() as cursor:
        cursor.execute(
            f"INSERT INTO {entry} (number_id, cycle_id, chunk_id, disconnected_at, release_not_before) "
            f"SELECT d.id, d.cycle_id, c.id, d.cancelled_at, d.frozen_until FROM ("
            f"  SELECT q.*, ROW_NUMBER() OVER (ORDER BY q.id) - 1 AS rn FROM ({due_sql}) q) d "
            f"JOIN {chunk} c ON c.batch_id = %s AND c.seq = d.rn / %s",
            [*due_params, batch.pk, size],
        )
        # The count was taken a statement earlier; make the chunks say what they really hold.
        cursor.execute(
            f"UPDATE {chunk} SET size = (SELECT COUNT(*) FROM {entry} e WHERE e.chunk_id = {chunk}.id) "
            f"WHERE batch_id = %s", [batch.pk])
        cursor.execute(f"DELETE FROM {chunk} WHERE batch_id = %s AND size = 0", [batch.pk])
        # Pull-only platforms (no webhook URL) read their deliveries through the API: they start `sent`.
        cursor.execute(
            f"INSERT INTO {delivery} (id, event, platform_id, operator_id, chunk_id, state, priority, attempts, "
            f"  next_attempt_at, last_error, created_at, sent_at) "
            f"SELECT {_uuid_sql()}, %s, p.id, %s, c.id, "
            f"  CASE WHEN p.webhook_url = '' THEN %s ELSE %s END, %s, 0, "
            f"  CASE WHEN p.webhook_url = '' THEN NULL ELSE %s END, '', %s, "
            f"  CASE WHEN p.webhook_url = '' THEN %s ELSE NULL END "
            f"FROM {chunk} c CROSS JOIN {platform} p WHERE c.batch_id = %s AND p.status = %s AND p.kind <> %s",
            [DeliveryEvent.BATCH.value, operator_id, DeliveryState.SENT.value, DeliveryState.PENDING.value,
             DeliveryPriority.BULK.value, _db_dt(now), _db_dt(now), _db_dt(now), batch.pk, PlatformStatus.LIVE.value,
             PlatformKind.QUERY_ONLY.value],
        )
    BatchChunk.objects.filter(batch=batch).update(deliveries_total=Coalesce(
        Subquery(Delivery.objects.filter(chunk_id=OuterRef("pk")).order_by()
                 .values("chunk_id").annotate(n=Count("id")).values("n")), 0))
    batch.size = BatchEntry.objects.filter(chunk__batch=batch).count()
    batch.save(update_fields=["size"])
    queue.pump_after_commit()
    return batch


def _db_dt(value: datetime) -> datetime | str | None:
    # A datetime on PostgreSQL, text on SQLite.
    return connection.ops.adapt_datetimefield_value(value)


# --- the pump, the due sweep and retries -----------------------------------------------------


def deliveries_pump(*, slot: int, token: str | None = None) -> str | None:
    """Run one slice of the pump in a slot, if no other chain holds it; return the token to go on with, or None.

    The caller (the pump task) enqueues the next link with the token while deliveries are still due, so at most
    RENEWAL_PUMP_TASKS chains run however often the pump is kicked.
    """
    token = pump.slot_take(slot, token)
    if token is None:
        return None
    try:
        report = pump.Slice(seconds=settings.RENEWAL_PUMP_SLICE_SECONDS).run()
    except BaseException:
        pump.slot_free(slot, token)
        raise
    log.info(report.line(), extra={"slot": slot, "pid": os.getpid()})  # which process pumped what
    # A slice that could claim nothing (every platform at its limit under other pumps) ends its chain: the due
    # sweep kicks it again, rather than this one spinning.
    if report.claimed and pump.due_exists():
        return token
    pump.slot_free(slot, token)
    return None


def deliveries_due_kick(*, now: datetime | None = None) -> bool:
    """The due sweep: start the pump if any pending delivery is due (a retry, or one a killed worker leased)."""
    if not pump.due_exists(now):
        return False
    queue.pump_after_commit()
    return True


def delivery_send(*, delivery_id: uuid.UUID | str) -> str:
    """Make one attempt at a pending delivery now, due or not, within its platform's limit; return what happened.

    Not for bulk (the pump claims slices): a delivery asked for by id. "skipped" when it is not pending, already in
    flight, or its platform is at its limit (the pump sends it later).
    """
    try:
        pk = uuid.UUID(str(delivery_id))
    except ValueError:
        return "skipped"
    one = pump.Slice(seconds=settings.RENEWAL_PUMP_SLICE_SECONDS, only=[pk])
    one.run()
    outcomes: dict[str, str] = {DeliveryState.SENT: "sent", DeliveryState.DEAD: "dead",
                                DeliveryState.CANCELLED: "cancelled", DeliveryState.PENDING: "failed"}
    return outcomes.get(one.states.get(pk, ""), "skipped")


@transaction.atomic
def delivery_retry(*, delivery: Delivery, actor: Actor, now: datetime | None = None) -> bool:
    """Send a dead delivery again: back to pending, attempts from zero, due now; the pump is kicked after commit."""
    return bool(deliveries_retry(deliveries=Delivery.objects.filter(pk=delivery.pk), actor=actor, now=now))


# Delivery ids the audit entry of a retry lists (the count is always whole).
RETRY_AUDIT_IDS = 200


@transaction.atomic
def deliveries_retry(*, deliveries: QuerySet[Delivery], actor: Actor, now: datetime | None = None) -> int:
    """Send dead deliveries again, set-based: pending and due now; the pump is kicked after commit."""
    now = now or timezone.now()
    dead = Delivery.objects.filter(state=DeliveryState.DEAD,
                                   pk__in=deliveries.filter(state=DeliveryState.DEAD).values("pk"))
    sample = [str(pk) for pk in dead.order_by("pk").values_list("pk", flat=True)[:RETRY_AUDIT_IDS]]
    count = dead.update(
        state=DeliveryState.PENDING, attempts=0, next_attempt_at=now, claimed_until=None,
        last_error=f"retried by {actor_label(actor)} at {now.isoformat(timespec='seconds')}",
    )
    if count:
        audit_record(actor=actor, action=AuditAction.DELIVERY_RETRY, object_type=Delivery._meta.label_lower,
                     object_repr=f"{count} deliveries", at=now, detail={"count": count, "deliveries": sample})
        queue.pump_after_commit()
    return count


def delivery_attempts_prune(*, now: datetime | None = None, chunk: int = 10_000) -> int:
    """Delete the attempts of deliveries confirmed longer ago than RENEWAL_ATTEMPT_RETENTION_DAYS, in chunks."""
    now = now or timezone.now()
    cutoff = now - timedelta(days=settings.RENEWAL_ATTEMPT_RETENTION_DAYS)
    old = DeliveryAttempt.objects.filter(delivery__state=DeliveryState.CONFIRMED, delivery__confirmed_at__lt=cutoff)
    deleted = 0
    while True:
        ids = list(old.order_by("pk").values_list("pk", flat=True)[:chunk])
        if not ids:
            return deleted
        deleted += DeliveryAttempt.objects.filter(pk__in=ids).delete()[0]


# --- confirmations ---------------------------------------------------------------------------


def delivery_confirm(*, platform: Platform, delivery_id: uuid.UUID | str, unbound: int, not_found: int,
                     now: datetime | None = None) -> Delivery:
    """Confirm a batch delivery with counts (docs/platform-guide.md): from pending, sent or dead; idempotent.

    A test delivery's confirmation, accepted or refused, is logged on it (the conformance check's evidence).
    """
    now = now or timezone.now()
    try:
        delivery = _delivery_confirm(platform=platform, delivery_id=delivery_id, unbound=unbound,
                                     not_found=not_found, now=now)
    except DomainError as exc:
        sandbox.log_append(delivery_id=delivery_id, entry=sandbox.log_entry(
            call="confirm", ok=False, code=exc.code, message=exc.message, now=now,
            data={"unbound": unbound, "not_found": not_found}))
        raise
    if delivery.test:
        sandbox.log_append(delivery_id=delivery.pk, entry=sandbox.log_entry(
            call="confirm", ok=True, now=now, data={"unbound": unbound, "not_found": not_found}))
    return delivery


@transaction.atomic
def _delivery_confirm(*, platform: Platform, delivery_id: uuid.UUID | str, unbound: int, not_found: int,
                      now: datetime) -> Delivery:
    delivery = (Delivery.objects.select_for_update(of=("self",)).select_related("chunk")
                .filter(pk=delivery_id, platform=platform).first())
    if delivery is None:
        raise NotFound(_("No such delivery."))
    if delivery.event != DeliveryEvent.BATCH:
        message = (_("This is an unbind delivery: report each task's result instead.")
                   if delivery.event == DeliveryEvent.UNBIND else _("A test event (ping) needs no confirmation."))
        raise Conflict(message, code="wrong_event")
    fields: dict[str, list[str]] = {}
    for name, value in (("unbound", unbound), ("not_found", not_found)):
        if isinstance(value, bool) or not isinstance(value, int) or value < 0:
            fields[name] = [_("A whole number, 0 or more.")]
    if fields:
        raise Invalid(_("The counts are not valid."), fields=fields)
    if delivery.state == DeliveryState.CONFIRMED:
        if (delivery.confirmed_unbound, delivery.confirmed_not_found) == (unbound, not_found):
            return delivery
        raise Conflict(
            _("This delivery was already confirmed with unbound=%(u)d, not_found=%(n)d.")
            % {"u": delivery.confirmed_unbound, "n": delivery.confirmed_not_found},
            code="already_confirmed",
        )
    if delivery.state == DeliveryState.CANCELLED:
        raise Conflict(_("This delivery was cancelled: the platform was switched off."), code="cancelled")
    chunk = delivery.chunk
    # A real batch delivery carries a chunk (the delivery_chunk_iff_batch constraint); a test one its body.
    size = len(sandbox.body_of(delivery).get("numbers", [])) if delivery.test else chunk.size if chunk else 0
    if unbound + not_found != size:
        message = _("unbound + not_found must equal the %(size)d numbers of the delivery.") % {"size": size}
        raise Invalid(message, fields={"unbound": [message], "not_found": [message]})
    delivery.state, delivery.confirmed_at = DeliveryState.CONFIRMED, now
    delivery.confirmed_unbound, delivery.confirmed_not_found = unbound, not_found
    delivery.claimed_until = delivery.next_attempt_at = None
    delivery.save(update_fields=["state", "confirmed_at", "confirmed_unbound", "confirmed_not_found",
                                 "claimed_until", "next_attempt_at"])
    if chunk is not None:
        BatchChunk.objects.filter(pk=chunk.pk).update(deliveries_done=F("deliveries_done") + 1)
    return delivery


# --- test traffic: pings, sandbox batches and unbind requests -------------------------------


def ping_send(*, platform: Platform, now: datetime | None = None) -> Delivery:
    """Write a signed `ping` to the platform; the pump sends it after commit (a pull-only platform reads it)."""
    with transaction.atomic():
        delivery = sandbox.ping_create(platform=platform, now=now)
        queue.pump_after_commit()
    return delivery


def sandbox_deliveries_create(*, platform: Platform, numbers: int, tasks: int,
                              now: datetime | None = None) -> tuple[Delivery, Delivery]:
    """Write a sandbox batch of `numbers` test numbers and a sandbox unbind request of `tasks` tasks (not sent:
    the caller sends them with `delivery_send`, or a pull-only platform reads them)."""
    with transaction.atomic():
        return (sandbox.sandbox_batch_create(platform=platform, numbers=numbers, now=now),
                sandbox.sandbox_unbind_create(platform=platform, tasks=tasks, now=now))


def test_deliveries_cancel(*, ids: Iterable[uuid.UUID]) -> int:
    """Cancel test deliveries still waiting to be sent (a finished check leaves no retries behind)."""
    with transaction.atomic():
        return Delivery.objects.filter(pk__in=list(ids), test=True, state__in=[DeliveryState.PENDING,
                                                                             DeliveryState.DEAD]).cancel()


def webhook_post(*, platform: Platform, delivery: Delivery, headers: dict[str, str]) -> Any:
    """POST a test delivery's body once with the given signature headers (the check's own probes: a forged
    signature, a stale timestamp, a repeat); the address rules of send time apply as for every POST."""
    return http.post_webhook(platform.webhook_url, body=delivery.body.encode(),
                             headers={"X-Renewal-Event": delivery.event, **headers})


is_sandbox_number = sandbox.is_sandbox_number
test_log_append = sandbox.log_append
test_log_entry = sandbox.log_entry
test_body = sandbox.body_of


# --- release gating (registered in numbers.hooks by RenewalConfig.ready) ---------------------


def _complete_entries() -> QuerySet[BatchEntry]:
    """Entries of a number's current cycle whose chunk has every delivery confirmed or cancelled."""
    return BatchEntry.objects.filter(number_id=OuterRef("pk"), cycle_id=OuterRef("cycle_id"),
                                     chunk__deliveries_done__gte=F("chunk__deliveries_total"))


def renewal_releasable(queryset: QuerySet[PhoneNumber], now: datetime) -> QuerySet[PhoneNumber]:
    """Keep numbers whose renewal is complete, or whose grace period after the freeze has passed."""
    grace = timedelta(days=settings.RELEASE_GRACE_DAYS)
    return queryset.filter(Q(Exists(_complete_entries())) | Q(frozen_until__lte=now - grace))


def _platform_names(delivery_qs: QuerySet[Delivery]) -> dict[int, list[str]]:
    out: dict[int, list[str]] = {}
    for chunk_id, name in delivery_qs.order_by("chunk_id", "platform__name").values_list("chunk_id",
                                                                                         "platform__name"):
        out.setdefault(chunk_id, []).append(name)
    return out


def release_event_detail(number_ids: list[int], now: datetime) -> dict[int, dict[str, Any]]:
    """Say, for each number released, whether its renewal was complete and who never confirmed."""
    entries = dict(BatchEntry.objects.filter(number_id__in=number_ids, cycle_id=F("number__cycle_id"))
                   .values_list("number_id", "chunk_id"))
    chunks = {c.pk: c for c in BatchChunk.objects.filter(pk__in=set(entries.values()))}
    missing = _platform_names(Delivery.objects.open().filter(chunk_id__in=chunks))
    details: dict[int, dict[str, Any]] = {}
    for number_id in number_ids:
        chunk_id = entries.get(number_id)
        if chunk_id is None:
            details[number_id] = {"renewal": "not_started"}
            continue
        chunk = chunks[chunk_id]
        never = missing.get(chunk_id, [])
        details[number_id] = {
            "renewal": "incomplete" if never else "complete",
            "confirmed": chunk.deliveries_total - len(never), "total": chunk.deliveries_total,
        }
        if never:
            details[number_id]["never_confirmed"] = never
    return details


def release_event_detail_sql(ids_sql: str, ids_params: list[Any], now: datetime) -> tuple[str, list[Any]]:
    """Return SQL selecting (id, detail) for each released number: `release_event_detail` set-based.

    Every number of a chunk shares its chunk's detail, so the details are worked out once per chunk (a handful
    per sweep chunk) and joined to the numbers through their current cycle's batch entry.
    """
    entries, numbers = BatchEntry._meta.db_table, PhoneNumber._meta.db_table
    chunk_ids = set(BatchEntry.objects.filter(number_id__in=RawSQL(ids_sql, ids_params),
                                              cycle_id=F("number__cycle_id")).values_list("chunk_id", flat=True))
    chunks = {c.pk: c for c in BatchChunk.objects.filter(pk__in=chunk_ids)}
    missing = _platform_names(Delivery.objects.open().filter(chunk_id__in=chunks))
    rows: list[Any] = []
    for chunk_id, chunk in chunks.items():
        never = missing.get(chunk_id, [])
        detail: dict[str, Any] = {"renewal": "incomplete" if never else "complete",
                                  "confirmed": chunk.deliveries_total - len(never), "total": chunk.deliveries_total}
        if never:
            detail["never_confirmed"] = never
        rows += [chunk_id, json.dumps(detail)]
    join, detail_sql = "", "%s"
    if rows:
        values = ", ".join(["(%s, %s)"] * (len(rows) // 2))
        join = (f"LEFT JOIN (WITH d(chunk_id, detail) AS (VALUES {values}) SELECT * FROM d) AS d "
                "ON d.chunk_id = e.chunk_id")
        detail_sql = "COALESCE(d.detail, %s)"
    sql = (f"SELECT n.id AS id, {detail_sql} AS detail FROM {numbers} AS n LEFT JOIN {entries} AS e "
           f"ON e.number_id = n.id AND e.cycle_id = n.cycle_id {join} WHERE n.id IN ({ids_sql})")
    return sql, [json.dumps({"renewal": "not_started"}), *rows, *ids_params]


def renewal_statuses(numbers: Iterable[PhoneNumber]) -> dict[int, dict[str, Any]]:
    """Return {number id: status} for the sales pages, with a constant number of queries.

    A status is {"state": "complete" | "in_progress" | "not_started" | "unknown", "confirmed": N,
    "total": M, "never_confirmed": [platform names]}: "never_confirmed" once the number was released
    with its renewal incomplete, "unknown" for a number that was never cancelled.
    """
    numbers = list(numbers)
    with_cycle = {n.pk: n for n in numbers if n.cycle_id}
    entries = dict(BatchEntry.objects.filter(cycle_id__in=[n.cycle_id for n in with_cycle.values()])
                   .values_list("cycle_id", "chunk_id"))
    chunks = {c.pk: c for c in BatchChunk.objects.filter(pk__in=set(entries.values())).select_related("batch")}
    grace = timedelta(days=settings.RELEASE_GRACE_DAYS)
    now = timezone.now()
    confirmed = dict(Delivery.objects.filter(chunk_id__in=chunks, state=DeliveryState.CONFIRMED).order_by()
                     .values("chunk_id").annotate(n=Count("id")).values_list("chunk_id", "n"))
    released_chunks = [entries[n.cycle_id] for n in with_cycle.values()
                       if n.cycle_id in entries and n.state == State.AVAILABLE]
    never = _platform_names(Delivery.objects.open().filter(chunk_id__in=released_chunks))
    out: dict[int, dict[str, Any]] = {}
    for n in numbers:
        if not n.cycle_id:
            out[n.pk] = {"state": "unknown"}
            continue
        chunk_id = entries.get(n.cycle_id)
        if chunk_id is None:
            out[n.pk] = {"state": "not_started", "confirmed": 0, "total": 0}
            continue
        chunk = chunks[chunk_id]
        status: dict[str, Any] = {"state": "complete" if chunk.is_complete else "in_progress",
                  "confirmed": confirmed.get(chunk_id, 0), "total": chunk.deliveries_total}
        # A number pushed only after it went on sale is still being worked on until the grace period after its
        # push; one released with its renewal unfinished names the platforms that never confirmed.
        pushed_on_sale = n.released_at is not None and chunk.batch.created_at >= n.released_at
        if n.state == State.AVAILABLE and chunk_id in never and not (
                pushed_on_sale and chunk.batch.created_at + grace > now):
            status["never_confirmed"] = never[chunk_id]
        out[n.pk] = status
    return out


def renewal_status(number: PhoneNumber) -> dict[str, Any]:
    return renewal_statuses([number])[number.pk]


def delivery_bodies(deliveries: list[Delivery]) -> dict[uuid.UUID, bytes]:
    """Return {delivery id: body bytes}: exactly what each delivery's webhook carries."""
    return bodies.build(deliveries)
