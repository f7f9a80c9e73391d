"""The pump: one task sends a slice of due deliveries at once, under a limit per worker process and per platform.

A slice runs for at most RENEWAL_PUMP_SLICE_SECONDS. While it runs it claims due deliveries, builds their bodies
(a chunk's numbers once per process), signs each afresh and hands it to the process's pooled async client
(renewal.deliveries.http), and records outcomes in bulk as they come back; every recorded outcome frees a place,
and the next claim fills it. Past the deadline it claims nothing more, waits for the POSTs already sent (bounded
by the timeouts) and records them.

Two limits hold:

* per worker process, RENEWAL_PUMP_CONCURRENCY POSTs at once (the client's connection limit, and the slice
  never claims more than that less what it has in flight);
* per platform, `Platform.max_in_flight` over every worker process and machine, enforced in the database
  claim: a platform's deliveries are claimed at most `max_in_flight − in flight`, where in flight means leased
  (`claimed_until` in the future) and not yet recorded. On PostgreSQL a claim first takes a transaction-scoped
  advisory lock of each platform it could claim for (try-locks: a platform another pump is claiming for right
  now is left to it), then counts and claims in a statement of its own, whose snapshot is taken after the
  locks: two claims never count the same platform at once. On SQLite writers are serialised anyway.
  The database, not a Redis semaphore: the lease that makes in-flight rows count is the same lease that
  brings a killed worker's deliveries back, so the two can never disagree, and nothing is lost when Redis is.

A claimed delivery is leased (`claimed_until` and `next_attempt_at` a lease ahead): nobody else sends it, and if
the worker dies before its outcome is recorded it is due again after the lease and sent again with the same
`webhook-id` (at least once). Outcomes are written with one statement per batch of them: the delivery's new
state and a `DeliveryAttempt` row each.
"""

from __future__ import annotations

import functools
import logging
import random
import time
import uuid
from collections.abc import Iterable
from concurrent.futures import FIRST_COMPLETED, Future, wait
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from typing import Any

from django.conf import settings
from django.core.cache import cache
from django.db import connection, transaction
from django.utils import timezone

from renewal.deliveries import bodies, http, observe
from renewal.models import (
    ATTEMPT_ERROR_BYTES,
    Delivery,
    DeliveryAttempt,
    DeliveryEvent,
    DeliveryState,
    Platform,
    PlatformStatus,
)
from renewal.platforms.services import platform_signing_keys
from renewal.platforms.signing import InvalidSecret, signature_headers

log = logging.getLogger(__name__)

# Advisory-lock namespace of the claim (PostgreSQL): (this, platform id).
_LOCK_SPACE = 4013
# Outcomes are recorded once this many are waiting, or once the oldest has waited this long.
_RECORD_BATCH = 64
_RECORD_EVERY = 0.02
# How long the slice waits for an answer before looking again; how often it claims when nothing came back.
_TICK = 0.02
_IDLE_POLL = 0.25


@dataclass
class Claimed:
    id: uuid.UUID
    event: str
    platform_id: int
    chunk_id: int | None
    attempts: int
    test: bool = False  # a ping or sandbox traffic (its body is stored on the row)

    def as_delivery(self) -> Delivery:
        """An unsaved Delivery with what the body builders read."""
        return Delivery(id=self.id, event=self.event, platform_id=self.platform_id, chunk_id=self.chunk_id,
                        test=self.test)


@dataclass
class Outcome:
    delivery: Claimed
    answer: http.Answer


@dataclass
class SliceReport:
    """What one slice did, and where its time went (seconds)."""

    claimed: int = 0
    sent: int = 0
    failed: int = 0
    dead: int = 0
    cancelled: int = 0
    pulled: int = 0
    claims: int = 0
    records: int = 0
    seconds: float = 0.0
    timers: dict[str, float] = field(default_factory=lambda: dict.fromkeys(
        ("claim", "bodies", "sign", "submit", "record", "wait"), 0.0))

    def line(self) -> str:
        spent = " ".join(f"{k} {v:.2f}" for k, v in self.timers.items())
        return (f"pump slice: claimed {self.claimed} sent {self.sent} failed {self.failed} dead {self.dead} "
                f"cancelled {self.cancelled} pulled {self.pulled} in {self.seconds:.2f} s "
                f"({self.claims} claims, {self.records} records; {spent})")


def lease() -> timedelta:
    """How long a claimed delivery stays leased: longer than a slice can last with its last POSTs."""
    longest = (settings.RENEWAL_PUMP_SLICE_SECONDS + settings.RENEWAL_CONNECT_TIMEOUT
               + settings.RENEWAL_READ_TIMEOUT + 2)
    return timedelta(seconds=max(settings.RENEWAL_DUE_LEASE_SECONDS, longest))


def backoff(attempts: int) -> timedelta:
    """Exponential backoff with jitter: between half and all of base * 2^(attempts-1), capped."""
    ceiling = min(settings.RENEWAL_RETRY_MAX_SECONDS, settings.RENEWAL_RETRY_BASE_SECONDS * 2 ** (attempts - 1))
    return timedelta(seconds=random.uniform(ceiling / 2, ceiling))


def truncate_error(text: str, limit: int = ATTEMPT_ERROR_BYTES) -> str:
    """Cut to `limit` UTF-8 bytes, at a character boundary."""
    return text.encode()[:limit].decode("utf-8", "ignore")


def _db(value: Any) -> Any:
    # Datetimes as the backend stores them (text on SQLite); UUIDs as the column holds them (hex on SQLite).
    if isinstance(value, datetime):
        return connection.ops.adapt_datetimefield_value(value)
    if isinstance(value, uuid.UUID):
        return value if connection.vendor == "postgresql" else value.hex
    return value


def due_exists(now: datetime | None = None) -> bool:
    return Delivery.objects.due(now or timezone.now()).exists()


# --- the claim -------------------------------------------------------------------------------------------


@dataclass
class Share:
    """What one slice may take of each platform when `chains` pumps run at once: its share of the places.

    Each takes at most `ceil(max_in_flight / chains)` of a platform's places (counting the POSTs it has in
    flight there, `mine`), so the pumps running at once each get work and each claims, records and waits for
    the database in parallel with the others — rather than one pump doing all of it while the others find
    every platform full. A pump running alone takes every place.
    """

    chains: int = 1
    mine: dict[int, int] = field(default_factory=dict)

    def values(self) -> tuple[str, list[Any]]:
        """A `mine (platform_id, n)` relation of the platforms where this slice has POSTs in flight."""
        held = [(p, n) for p, n in self.mine.items() if n > 0]
        if not held:
            return "SELECT CAST(NULL AS INTEGER) AS platform_id, 0 AS n WHERE 1 = 0", []
        params = [x for pair in held for x in pair]
        if connection.vendor == "postgresql":
            rows = ", ".join(["(%s::bigint, %s::int)"] * len(held))
            return f"SELECT * FROM (VALUES {rows}) AS m(platform_id, n)", params
        rows = ", ".join(["(%s, %s)"] * len(held))  # SQLite names a VALUES list's columns column1, column2…
        return f"SELECT column1 AS platform_id, column2 AS n FROM (VALUES {rows})", params


def claim(*, limit: int, now: datetime, only: Iterable[uuid.UUID] | None = None,
          share: Share | None = None) -> list[Claimed]:
    """Lease up to `limit` due deliveries, at most `max_in_flight − in flight` of each platform; return them.

    Order: per platform by priority (a person waiting first), then due time and chunk (so the platforms of
    one chunk go together and its body is built once); across platforms round-robin. `only` claims those
    deliveries (pending and not in flight) whether due or not: a send asked for by id. `share`: this slice's
    share of each platform's places when several pumps run at once.
    """
    if limit <= 0:
        return []
    only_ids = list(only) if only is not None else None
    share = share or Share()
    until = now + lease()
    with connection.cursor() as cursor:
        if connection.vendor != "postgresql":
            # One writer at a time (transaction_mode IMMEDIATE): nothing else claims while this runs.
            sql, params = _claim_sql(limit=limit, now=now, until=until, only=only_ids, share=share)
            with transaction.atomic():
                cursor.execute(sql, params)
                rows = cursor.fetchall()
        elif connection.in_atomic_block:  # inside the caller's transaction: the locks, then the claim
            lock_sql, lock_params = _lock_sql(now=now, only=only_ids, share=share)
            with transaction.atomic():
                cursor.execute(lock_sql, lock_params)
                platform_ids = [row[0] for row in cursor.fetchall()]
                sql, params = _claim_sql(limit=limit, now=now, until=until, only=only_ids, share=share,
                                         platform_ids=platform_ids)
                cursor.execute(sql, params)
                rows = cursor.fetchall()
        else:
            rows = _claim_one_round_trip(cursor, limit=limit, now=now, until=until, only=only_ids, share=share)
    return [Claimed(id=r[0] if isinstance(r[0], uuid.UUID) else uuid.UUID(r[0]), event=r[1], platform_id=r[2],
                    chunk_id=r[3], attempts=r[4], test=bool(r[5])) for r in rows]


def _claim_one_round_trip(cursor: Any, *, limit: int, now: datetime, until: datetime,
                          only: list[uuid.UUID] | None, share: Share) -> list[Any]:
    """BEGIN; take the locks; claim; COMMIT — sent together, answered together.

    The claim is a statement of its own, after the locks: its snapshot sees every claim committed for the
    platforms locked, and no other claim for them can commit until this transaction does. It finds the
    platforms this transaction locked in pg_locks. One round trip instead of four: the pump claims many
    times a second.
    """
    lock_sql, lock_params = _lock_sql(now=now, only=only, share=share)
    sql, params = _claim_sql(limit=limit, now=now, until=until, only=only, share=share, platform_ids=None,
                             locked=True)
    try:
        cursor.execute(f"BEGIN; {lock_sql}; {sql}; COMMIT", [*lock_params, *params])
        rows: list[Any] = []
        while cursor.nextset():  # BEGIN, the locks, the claim's RETURNING, COMMIT
            if cursor.description is not None and len(cursor.description) == 6:
                rows = cursor.fetchall()
        return rows
    except Exception:
        cursor.execute("ROLLBACK")
        raise


def _tables() -> tuple[str, str]:
    return Delivery._meta.db_table, Platform._meta.db_table


def _due_filter(alias: str, only: list[uuid.UUID] | None, now: datetime) -> tuple[str, list[Any]]:
    if only is None:
        return f"{alias}.next_attempt_at <= %s", [_db(now)]
    marks = ", ".join(["%s"] * len(only)) or "NULL"
    return (f"{alias}.id IN ({marks}) AND ({alias}.claimed_until IS NULL OR {alias}.claimed_until <= %s)",
            [*(_db(i) for i in only), _db(now)])


# How many more of a platform `p` this claim may take: its places less those in flight (`n`, every pump's),
# within this slice's share less what it holds there (`mine`). Integer division rounds the share up.
_ROOM = "MAX(MIN(p.max_in_flight - {n}, (p.max_in_flight + %s - 1) / %s - {mine}), 0)"


def _room(n: str, mine: str, chains: int) -> tuple[str, list[Any]]:
    room = _ROOM.format(n=n, mine=mine)
    if connection.vendor == "postgresql":
        room = room.replace("MAX(", "GREATEST(").replace("MIN(", "LEAST(")
    return room, [chains, chains]


def _lock_sql(*, now: datetime, only: list[uuid.UUID] | None, share: Share) -> tuple[str, list[Any]]:
    """Take the claim's lock of every platform with due deliveries and room for more; select their ids.

    Try-locks: a platform another pump is claiming for at this moment is left to it this time. Platforms with
    no room, or with nothing due, are not locked at all, so pumps claiming at once share the platforms.
    """
    delivery, platform = _tables()
    due, due_params = _due_filter("d", only, now)
    mine_sql, mine_params = share.values()
    room, room_params = _room("f.n", "COALESCE(mine.n, 0)", share.chains)
    return f"""
        WITH mine AS ({mine_sql}), candidate AS MATERIALIZED (
            SELECT p.id FROM {platform} p
            CROSS JOIN LATERAL ({_in_flight_sql(delivery, "p")}) f(n)
            LEFT JOIN mine ON mine.platform_id = p.id
            WHERE {room} > 0
              AND EXISTS (SELECT 1 FROM {delivery} d WHERE d.platform_id = p.id AND d.state = 'pending' AND {due})
        )
        SELECT id FROM candidate WHERE pg_try_advisory_xact_lock(%s, id::int) ORDER BY id
    """, [*mine_params, _db(now), *room_params, *due_params, _LOCK_SPACE]


def _in_flight_sql(delivery: str, alias: str) -> str:
    return (f"SELECT count(*) FROM {delivery} f WHERE f.platform_id = {alias}.id AND f.state = 'pending' "
            f"AND f.claimed_until IS NOT NULL AND f.claimed_until > %s")


def _claim_sql(*, limit: int, now: datetime, until: datetime, only: list[uuid.UUID] | None, share: Share,
               platform_ids: list[int] | None = None, locked: bool = False) -> tuple[str, list[Any]]:
    """Number each platform's due deliveries in claim order, keep those within its room, lease them.

    On PostgreSQL only the platforms locked (`platform_ids`, or with `locked` those this transaction holds the
    claim's lock of), each through its index of due deliveries, so a claim reads about as many rows as it takes
    however long the queue; on SQLite, every due delivery.
    """
    delivery, platform = _tables()
    due, due_params = _due_filter("d", only, now)
    mine_sql, mine_params = share.values()
    order = "d.priority, d.next_attempt_at, d.chunk_id, d.id"
    if platform_ids is not None or locked:
        which = ("p.id IN (SELECT objid FROM pg_locks WHERE locktype = 'advisory' AND pid = pg_backend_pid() "
                 "AND classid = %s AND objsubid = 2 AND granted)") if locked else "p.id = ANY(%s)"
        room, room_params = _room("f.n", "COALESCE(mine.n, 0)", share.chains)
        picked = f"""
            SELECT d.id, d.platform_id, d.priority, d.next_attempt_at, d.chunk_id,
                   row_number() OVER (PARTITION BY d.platform_id ORDER BY {order}) AS rn
            FROM {platform} p
            CROSS JOIN LATERAL ({_in_flight_sql(delivery, "p")}) f(n)
            LEFT JOIN mine ON mine.platform_id = p.id
            CROSS JOIN LATERAL (
                SELECT d.* FROM {delivery} d WHERE d.platform_id = p.id AND d.state = 'pending' AND {due}
                ORDER BY {order} LIMIT {room}) d
            WHERE {which}"""
        picked_params = [_db(now), *due_params, *room_params, _LOCK_SPACE if locked else platform_ids]
    else:
        room, room_params = _room("COALESCE(i.n, 0)", "COALESCE(mine.n, 0)", share.chains)
        picked = f"""
            SELECT r.* FROM (
                SELECT d.id, d.platform_id, d.priority, d.next_attempt_at, d.chunk_id,
                       row_number() OVER (PARTITION BY d.platform_id ORDER BY {order}) AS rn
                FROM {delivery} d WHERE d.state = 'pending' AND {due}) r
            JOIN {platform} p ON p.id = r.platform_id
            LEFT JOIN (SELECT platform_id, count(*) AS n FROM {delivery}
                       WHERE state = 'pending' AND claimed_until IS NOT NULL AND claimed_until > %s
                       GROUP BY platform_id) i ON i.platform_id = r.platform_id
            LEFT JOIN mine ON mine.platform_id = r.platform_id
            WHERE r.rn <= {room}"""
        picked_params = [*due_params, _db(now), *room_params]
    sql = f"""
        WITH mine AS ({mine_sql}), picked AS ({picked}),
        chosen AS (SELECT id FROM picked ORDER BY rn, priority, next_attempt_at, id LIMIT %s)
        UPDATE {delivery} SET claimed_until = %s, next_attempt_at = %s
        WHERE id IN (SELECT id FROM chosen) AND state = 'pending'
        RETURNING id, event, platform_id, chunk_id, attempts, test
    """
    return sql, [*mine_params, *picked_params, limit, _db(until), _db(until)]


def may_receive(platform: Platform, delivery: Claimed) -> bool:
    """Live platforms get real traffic and pings; sandbox platforms only test traffic; the rest nothing."""
    if platform.status == PlatformStatus.LIVE:
        return not delivery.test or delivery.event == DeliveryEvent.PING
    return platform.status == PlatformStatus.SANDBOX and delivery.test


# --- recording outcomes ----------------------------------------------------------------------------------


@dataclass
class _Row:
    id: uuid.UUID
    platform_id: int
    state: str
    next_attempt_at: datetime | None
    last_error: str
    sent_at: datetime | None
    started_at: datetime
    status_code: int | None
    latency_ms: int
    error: str


def _row(outcome: Outcome) -> _Row:
    answer, delivery = outcome.answer, outcome.delivery
    started = datetime.fromtimestamp(answer.started_at, tz=UTC)
    done = started + timedelta(milliseconds=answer.latency_ms)
    attempts = delivery.attempts + 1
    error = truncate_error(answer.error)
    if answer.ok:
        state, next_at, sent_at = DeliveryState.SENT, None, done
    elif attempts >= settings.RENEWAL_MAX_ATTEMPTS:
        state, next_at, sent_at = DeliveryState.DEAD, None, None
    else:
        state, next_at, sent_at = DeliveryState.PENDING, done + backoff(attempts), None
    return _Row(id=delivery.id, platform_id=delivery.platform_id, state=state, next_attempt_at=next_at,
                last_error=error, sent_at=sent_at, started_at=started, status_code=answer.status,
                latency_ms=answer.latency_ms, error=error)


def record(outcomes: list[Outcome]) -> list[str]:
    """Write the outcomes: each delivery's state, attempts, schedule and error, and its DeliveryAttempt row.

    Only a delivery still pending changes (a confirmation that arrived meanwhile wins); the attempt is written
    either way. On PostgreSQL both go in one statement; on SQLite in one transaction.
    """
    rows = [_row(o) for o in outcomes]
    if not rows:
        return []
    if connection.vendor == "postgresql":
        _record_postgresql(rows)
    else:
        _record_sqlite(rows)
    return [r.state for r in rows]


def _record_postgresql(rows: list[_Row]) -> None:
    delivery, attempt = Delivery._meta.db_table, DeliveryAttempt._meta.db_table
    values = ", ".join(["(%s::uuid, %s, %s::timestamptz, %s, %s::timestamptz, %s::timestamptz, %s::int, "
                        "%s::int, %s, %s::bigint)"] * len(rows))
    params: list[Any] = []
    for r in rows:
        params += [r.id, r.state, r.next_attempt_at, r.last_error, r.sent_at, r.started_at, r.status_code,
                   r.latency_ms, r.error, r.platform_id]
    sql = f"""
        WITH v (id, state, next_attempt_at, last_error, sent_at, started_at, status_code, latency_ms, error,
                platform_id) AS (VALUES {values}),
        changed AS (
            UPDATE {delivery} d SET state = v.state, attempts = d.attempts + 1, next_attempt_at = v.next_attempt_at,
                   last_error = v.last_error, sent_at = COALESCE(v.sent_at, d.sent_at), claimed_until = NULL
            FROM v WHERE d.id = v.id AND d.state = 'pending'
        )
        INSERT INTO {attempt} (delivery_id, platform_id, started_at, status_code, latency_ms, error)
        SELECT id, platform_id, started_at, status_code, latency_ms, error FROM v
    """
    with connection.cursor() as cursor:  # one statement: atomic by itself, one round trip
        cursor.execute(sql, params)


def _record_sqlite(rows: list[_Row]) -> None:
    delivery, attempt = Delivery._meta.db_table, DeliveryAttempt._meta.db_table
    with transaction.atomic(), connection.cursor() as cursor:
        cursor.executemany(
            f"UPDATE {delivery} SET state = %s, attempts = attempts + 1, next_attempt_at = %s, last_error = %s, "
            f"sent_at = COALESCE(%s, sent_at), claimed_until = NULL WHERE id = %s AND state = 'pending'",
            [[r.state, _db(r.next_attempt_at), r.last_error, _db(r.sent_at), _db(r.id)] for r in rows])
        cursor.executemany(
            f"INSERT INTO {attempt} (delivery_id, platform_id, started_at, status_code, latency_ms, error) "
            f"VALUES (%s, %s, %s, %s, %s, %s)",
            [[_db(r.id), r.platform_id, _db(r.started_at), r.status_code, r.latency_ms, r.error] for r in rows])


# --- a slice ---------------------------------------------------------------------------------------------


class Slice:
    """One run of the pump: claim, sign, send, record, until the deadline or until nothing is due."""

    def __init__(self, *, seconds: float, only: list[uuid.UUID] | None = None) -> None:
        self.seconds = seconds
        self.only = only
        self.report = SliceReport()
        self.client = http.client()
        self.share = Share(chains=running_chains())
        self._share_checked = time.monotonic()
        self.in_flight: dict[Future[http.Answer], Claimed] = {}
        self.outcomes: list[Outcome] = []
        self.states: dict[uuid.UUID, str] = {}
        # Per platform, once per slice: the row, and its signing keys (decrypted once) or why it cannot sign.
        self._platforms: dict[int, Platform] = {}
        self._keys: dict[int, list[bytes] | str] = {}

    def run(self) -> SliceReport:
        started = time.monotonic()
        deadline = started + self.seconds
        last_claim, last_record, want_claim, claimed_before = -1e9, time.monotonic(), True, False
        while True:
            t = time.monotonic()
            open_ = t < deadline and not (self.only is not None and claimed_before)
            capacity = self.client.free
            got = None
            if open_ and capacity > 0 and (want_claim or t - last_claim >= _IDLE_POLL):
                got = self._claim_and_start(capacity)
                last_claim, claimed_before = t, claimed_before or got > 0
                want_claim = got == capacity  # more may be waiting; otherwise wait for places to free up
            if not self.in_flight:
                self._record_outcomes()
                if not open_ or self.only is not None or (got == 0 and not due_exists()):
                    break
                if got:  # all of it was cancelled, pulled or refused at once: claim again now
                    want_claim = True
                else:  # due, but every platform with due deliveries is at its limit: look again shortly
                    time.sleep(max(0.0, min(last_claim + _IDLE_POLL, deadline) - time.monotonic()))
                continue
            self._collect()
            waited_out = self.outcomes and (len(self.outcomes) >= _RECORD_BATCH
                                            or time.monotonic() - last_record >= _RECORD_EVERY)
            if waited_out or not self.in_flight:
                self._record_outcomes()
                last_record, want_claim = time.monotonic(), True
        self.report.seconds = time.monotonic() - started
        return self.report

    # --- steps ---

    def _timed(self, name: str, since: float) -> None:
        self.report.timers[name] += time.monotonic() - since

    def _claim_and_start(self, capacity: int) -> int:
        t = time.monotonic()
        if t - self._share_checked >= 1.0:  # pumps start and stop: take a fair share of what is running now
            self.share.chains, self._share_checked = running_chains(), t
        now = timezone.now()
        claimed = claim(limit=capacity, now=now, only=self.only, share=self.share)
        self.report.claims += 1
        self._timed("claim", t)
        if not claimed:
            return 0
        self.report.claimed += len(claimed)
        self._load_platforms({c.platform_id for c in claimed})
        off: list[Claimed] = []
        pulled: list[Claimed] = []
        to_send: list[Claimed] = []
        for c in claimed:
            platform = self._platforms[c.platform_id]
            (off if not may_receive(platform, c) else pulled if platform.is_pull_only else to_send).append(c)
        self._cancel(off)
        self._mark_pulled(pulled, now)
        t = time.monotonic()
        built = bodies.build([c.as_delivery() for c in to_send])
        self._timed("bodies", t)
        for delivery in to_send:
            self._start(delivery, built[delivery.id])
        return len(claimed)

    def _load_platforms(self, ids: set[int]) -> None:
        missing = ids - set(self._platforms)
        for platform in Platform.objects.filter(pk__in=missing):
            self._platforms[platform.pk] = platform

    def _signing_keys(self, platform: Platform) -> list[bytes] | str:
        """The platform's keys (decrypted once per slice), or why nothing can be sent to it."""
        if platform.pk not in self._keys:
            t = time.monotonic()
            try:
                http.check_url(platform.webhook_url)
                self._keys[platform.pk] = platform_signing_keys(platform)
            except http.WebhookRefused as exc:
                self._keys[platform.pk] = f"refused: {exc}"
            except InvalidSecret as exc:
                self._keys[platform.pk] = f"cannot sign: {exc}"
            self._timed("sign", t)
        return self._keys[platform.pk]

    def _start(self, delivery: Claimed, body: bytes) -> None:
        platform = self._platforms[delivery.platform_id]
        keys = self._signing_keys(platform)
        if isinstance(keys, str):  # a failed attempt, recorded like any other: no POST left the portal
            self.outcomes.append(Outcome(delivery, http.Answer(ok=False, started_at=time.time(), latency_ms=0,
                                                               error=keys)))
            return
        t = time.monotonic()
        # Each attempt signs afresh (a new webhook-timestamp, the same webhook-id), in the client's thread just
        # before it sends: this thread goes back to the database meanwhile.
        sign = functools.partial(signature_headers, keys=keys, msg_id=str(delivery.id), body=body)
        self.in_flight[self.client.post(platform.webhook_url, body=body, headers={"X-Renewal-Event": delivery.event},
                                        sign=sign)] = delivery
        self.share.mine[delivery.platform_id] = self.share.mine.get(delivery.platform_id, 0) + 1
        self._timed("submit", t)

    def _collect(self) -> None:
        t = time.monotonic()
        done, _ = wait(list(self.in_flight), timeout=_TICK, return_when=FIRST_COMPLETED)
        self._timed("wait", t)
        for future in done:
            delivery = self.in_flight.pop(future)
            self.share.mine[delivery.platform_id] -= 1
            self.outcomes.append(Outcome(delivery, future.result()))

    def _record_outcomes(self) -> None:
        if not self.outcomes:
            return
        t = time.monotonic()
        states = record(self.outcomes)
        self._timed("record", t)
        self.report.records += 1
        for outcome, state in zip(self.outcomes, states, strict=True):
            self.states[outcome.delivery.id] = state
            if state == DeliveryState.SENT:
                self.report.sent += 1
            elif state == DeliveryState.DEAD:
                self.report.dead += 1
            else:
                self.report.failed += 1
            self._observe(outcome, state)
        self.outcomes = []

    def _observe(self, outcome: Outcome, state: str) -> None:
        """The operators' view of one attempt: a log line, a count by outcome, the webhook's latency."""
        delivery, answer = outcome.delivery, outcome.answer
        platform = self._platforms.get(delivery.platform_id)
        observe.attempt_observed(
            delivery_id=delivery.id, platform=platform.name if platform else str(delivery.platform_id),
            event=delivery.event, attempt=delivery.attempts + 1,
            outcome={str(DeliveryState.SENT): "sent", str(DeliveryState.DEAD): "dead"}.get(state, "failed"),
            status_code=answer.status, latency_seconds=answer.latency_ms / 1000, error=answer.error)

    def _cancel(self, claimed: list[Claimed]) -> None:
        if claimed:
            with transaction.atomic():
                Delivery.objects.filter(pk__in=[c.id for c in claimed], state=DeliveryState.PENDING).cancel()
            self.report.cancelled += len(claimed)
            self.states.update((c.id, DeliveryState.CANCELLED) for c in claimed)

    def _mark_pulled(self, claimed: list[Claimed], now: datetime) -> None:
        # A pull-only platform reads its deliveries through the API: there is nothing to POST.
        if claimed:
            Delivery.objects.filter(pk__in=[c.id for c in claimed], state=DeliveryState.PENDING).update(
                state=DeliveryState.SENT, sent_at=now, claimed_until=None, next_attempt_at=None)
            self.report.pulled += len(claimed)
            self.states.update((c.id, DeliveryState.SENT) for c in claimed)


# --- pump slots ------------------------------------------------------------------------------------------
# RENEWAL_PUMP_TASKS chains of pump tasks run at once, one per slot: a chain holds its slot in the shared cache
# (renewal:pump:slot:N, with a token) while it runs and passes the token to its next link, so kicks that arrive
# meanwhile (the due sweep, a new batch, the coalescer) find the slot taken and return at once instead of
# starting more chains. Only efficiency rests on the cache: limits and leases are the database's, so a lost
# key at worst lets a second chain run on a slot for a while.


def _slot_key(slot: int) -> str:
    return f"renewal:pump:slot:{slot}"


def running_chains() -> int:
    """How many pump chains hold their slot now (at least one: the caller)."""
    keys = [_slot_key(slot) for slot in range(settings.RENEWAL_PUMP_TASKS)]
    return max(1, len(cache.get_many(keys)))


def slot_take(slot: int, token: str | None) -> str | None:
    """Take (or keep, with its token) a pump slot; return the token, or None if another chain holds it."""
    ttl = int(lease().total_seconds()) + 1
    key = _slot_key(slot)
    if token is not None and cache.get(key) == token:
        cache.set(key, token, ttl)
        return token
    mine = uuid.uuid4().hex
    return mine if cache.add(key, mine, ttl) else None


def slot_free(slot: int, token: str) -> None:
    key = _slot_key(slot)
    if cache.get(key) == token:
        cache.delete(key)
