"""The number inventory (docs/feed.md): `manage.py import_numbers`, the admin upload.

`inventory_import(*, operator, rows, …)` loads an operator's existing numbers with the machinery of
numbers/staging.py: the rows stream into a staging table, set-based SQL validates them, chunks of lines
are applied with `INSERT … SELECT` (numbers, holder periods, events). It only adds numbers.
"""

from collections.abc import Iterable, Iterator
from dataclasses import dataclass
from datetime import datetime, timedelta
from zoneinfo import ZoneInfo

from django.conf import settings
from django.db import connection, transaction
from django.utils import timezone
from django.utils.translation import gettext as _

from numbers.feeds.reasons import REASONS
from numbers.models import Operator, State
from numbers.phone import InvalidMsisdn, is_sandbox_number, msisdn_sha256_sql, normalize_msisdn
from numbers.services import Actor, actor_label
from numbers.staging import (
    APPLIED,
    CHUNK_SIZE,
    PENDING,
    FeedSummary,
    Progress,
    Reject,
    Report,
    Stage,
    chunks,
    clean_raw,
    db_time,
    db_time_text,
    json_object,
    mark_duplicates,
    observed_import,
    parse_time,
    range_sql,
    read_csv,
    reject_wrong_country,
    report_and_summary,
)

# PostgreSQL advisory lock taken by every inventory chunk: two loads of new numbers queue instead of colliding.
INVENTORY_LOCK_KEY = 0x6E756D62  # "numb"
# Room on each page of the staging table for the versions its UPDATEs write (see Stage).
STAGE_FILLFACTOR = 45
INVENTORY_COLUMNS = ("msisdn", "state", "holder_since", "cancelled_at")


@dataclass(frozen=True)
class InventoryRow:
    line: int
    msisdn: str
    state: str
    holder_since: str | datetime | None = ""
    cancelled_at: str | datetime | None = ""
    invalid: str = ""


def read_inventory(text) -> Iterator[InventoryRow]:
    """Stream the rows of an inventory file (`msisdn,state[,holder_since][,cancelled_at]`)."""
    for line, values, first in read_csv(text, INVENTORY_COLUMNS, ("msisdn", "state")):
        if values is None:
            yield InventoryRow(line=line, msisdn=first, state="", invalid="columns")
        else:
            yield InventoryRow(line=line, msisdn=values["msisdn"], state=values["state"],
                               holder_since=values.get("holder_since", ""),
                               cancelled_at=values.get("cancelled_at", ""))


def _inventory_values(row: InventoryRow, zone: ZoneInfo, now: datetime, region: str, freeze: timedelta) -> tuple:
    raw = clean_raw(row.msisdn)
    state = (row.state or "").strip().lower()
    msisdn = since = cancelled = frozen_until = released = key = None
    secondary = False
    try:
        if row.invalid:
            raise Reject("invalid_line", _("The line does not have as many fields as the header."))
        if state not in (State.AVAILABLE, State.ACTIVE, State.FROZEN):
            raise Reject("invalid_state", _("The state must be available, active or frozen, not “%(s)s”.")
                          % {"s": state[:20]})
        msisdn = normalize_msisdn(raw, region=region)
        if is_sandbox_number(msisdn):
            raise Reject("sandbox_number", "")
        since = parse_time(row.holder_since, zone, "holder_since")
        cancelled = parse_time(row.cancelled_at, zone, "cancelled_at")
        if (since and since > now) or (cancelled and cancelled > now):
            raise Reject("future_time", "")
        if state == State.ACTIVE:
            if since is None:
                raise Reject("missing_holder_since", "")
            if cancelled is not None:
                raise Reject("invalid_line", _("An active number has no cancelled_at."))
        elif state == State.FROZEN and cancelled is None:
            raise Reject("missing_cancelled_at", "")
        elif state == State.AVAILABLE and since is not None and cancelled is None:
            raise Reject("invalid_line", _("An available number with holder_since also needs cancelled_at."))
        if since and cancelled and since > cancelled:
            raise Reject("invalid_time", _("holder_since is after cancelled_at."))
        if cancelled is not None:
            frozen_until = cancelled + freeze
            if state == State.AVAILABLE:
                if frozen_until > now:
                    raise Reject("freeze_not_over", "")
                # Released before it came to the portal: secondary, released when loaded.
                secondary, released = True, now
        since_iso, cancelled_iso = since.isoformat() if since else "", cancelled.isoformat() if cancelled else ""
        key = f"{state}|{since_iso}|{cancelled_iso}"
        reject, message = None, ""
    except InvalidMsisdn as exc:
        reject, message = "invalid_msisdn", exc.messages[0]
        since_iso = cancelled_iso = ""
    except Reject as rej:
        reject, message = rej.code, rej.message
        since_iso = cancelled_iso = ""
    return (row.line, raw, msisdn, state[:10], db_time_text(since, since_iso), db_time_text(cancelled, cancelled_iso),
            db_time_text(frozen_until), db_time_text(released), secondary, key, reject, message)


INVENTORY_STAGE = "feed_inventory_stage"
INVENTORY_DDL = """
CREATE {temp} TABLE feed_inventory_stage (
    line integer NOT NULL, raw text NOT NULL, msisdn text, state text NOT NULL, holder_since {ts},
    cancelled_at {ts}, frozen_until {ts}, released_at {ts}, secondary {bool} NOT NULL, key text,
    reject text, message text NOT NULL, number_id {big}, period_id {big}, dup_of integer, outcome text)
"""
INVENTORY_LOAD_COLUMNS = ("line", "raw", "msisdn", "state", "holder_since", "cancelled_at", "frozen_until",
                          "released_at", "secondary", "key", "reject", "message")


@observed_import("inventory")
def inventory_import(
    *, operator: Operator, rows: Iterable[InventoryRow], actor: Actor, dry_run: bool = False,
    report: Report | None = None, all_lines: bool = False, progress: Progress | None = None,
    now: datetime | None = None, chunk_size: int = CHUNK_SIZE,
) -> FeedSummary:
    """Load `operator`'s existing numbers (never used, active, frozen, released); return the counts.

    Only adds numbers: a line for a number already loaded by the same line is already applied, any other
    line for a number in the portal is rejected.
    """
    now = now or timezone.now()
    zone = ZoneInfo(settings.TIME_ZONE)
    summary = FeedSummary(feed="inventory", operator=operator.code, dry_run=dry_run)
    # Lines are looked up by line only (identical and conflicting lines are grouped by number, set-based): the
    # other columns are written in place.
    with Stage(INVENTORY_STAGE, INVENTORY_DDL, INVENTORY_LOAD_COLUMNS, reasons=REASONS, indexes=("line",),
               fillfactor=STAGE_FILLFACTOR) as stage:
        # Settings read once, not per line.
        region, freeze = settings.PHONE_REGION, timedelta(days=settings.MIN_FREEZE_DAYS)
        summary.lines = stage.load(_inventory_values(row, zone, now, region, freeze) for row in rows)
        reject_wrong_country(stage, operator.country)
        mark_duplicates(stage, "msisdn")
        stage.execute(
            "UPDATE {s} SET reject = 'conflicting_lines' WHERE reject IS NULL AND dup_of IS NULL AND msisdn IN ("
            "SELECT msisdn FROM {s} WHERE reject IS NULL AND dup_of IS NULL GROUP BY msisdn HAVING COUNT(*) > 1)")
        stage.execute("UPDATE {s} SET outcome = 'rejected' WHERE reject IS NOT NULL")
        for low, high in chunks(stage, "line", chunk_size):
            with transaction.atomic():
                _inventory_chunk(stage, low, high, operator=operator, actor=actor, now=now, dry_run=dry_run)
            if progress:
                progress(stage.one("SELECT COUNT(*) FROM {s} WHERE line <= %s", [high]), summary.lines)
        return report_and_summary(stage, summary, report, all_lines)


def _inventory_chunk(stage: Stage, low: int, high: int, *, operator: Operator, actor: Actor, now: datetime,
                     dry_run: bool) -> None:
    chunk = range_sql("{s}.line", low, high)
    pending = chunk + " AND {s}." + PENDING
    op = int(operator.pk)
    if connection.vendor == "postgresql" and not dry_run:
        # New numbers have no row to lock yet: loads queue on one advisory lock per chunk.
        stage.execute("SELECT pg_advisory_xact_lock(%s)", [INVENTORY_LOCK_KEY])
    # One pass over the chunk's lines: a number already in the portal gets its id (looked at below); a new one
    # is applied, with the ids its number and holding will take (none in a dry run). The lookup is a correlated
    # subquery, one probe of the unique index per line, whatever the planner thinks of the growing table.
    none = "CAST(NULL AS bigint)"
    new = none if dry_run else _new_ids("numbers_phonenumber")
    period = none if dry_run else (f"CASE WHEN {{s}}.state = 'active' OR {{s}}.cancelled_at IS NOT NULL "
                                   f"THEN {_new_ids('numbers_holderperiod')} END")
    # (Materialised, so that the lookup runs once per line however often the UPDATE names its result.)
    stage.execute(
        "WITH x AS MATERIALIZED (SELECT line, (SELECT n.id FROM numbers_phonenumber AS n "
        "WHERE n.msisdn = {s}.msisdn) AS id FROM {s} WHERE " + pending + ") "
        f"UPDATE {{s}} SET number_id = COALESCE(x.id, {new}), "
        "outcome = CASE WHEN x.id IS NULL THEN 'applied' END, "
        f"period_id = CASE WHEN x.id IS NULL THEN {period} END "
        "FROM x WHERE {s}.line = x.line AND " + chunk)
    line_of = "e.detail ->> 'line'" if connection.vendor == "postgresql" else "json_extract(e.detail, '$.line')"
    known = pending + " AND {s}.number_id IS NOT NULL"
    stage.execute(
        "UPDATE {s} SET outcome = 'already_applied' WHERE " + known + " AND ("
        "SELECT 1 FROM numbers_event AS e WHERE e.number_id = {s}.number_id AND e.kind = 'import' "
        f"AND {line_of} = {{s}}.key AND (SELECT n.range_holder_id FROM numbers_phonenumber AS n "
        f"WHERE n.id = {{s}}.number_id) = {op} LIMIT 1) IS NOT NULL")
    stage.execute(
        "UPDATE {s} SET outcome = 'rejected', reject = (SELECT CASE WHEN n.range_holder_id <> "
        f"{op} THEN 'wrong_operator' ELSE 'number_exists' END FROM numbers_phonenumber AS n "
        "WHERE n.id = {s}.number_id) WHERE " + known)
    if not dry_run:
        _inventory_apply(stage, chunk, operator=operator, actor=actor, now=now)


def _new_ids(table: str) -> str:
    """SQL giving each new line of a chunk an id of `table`, taken before its rows are written.

    PostgreSQL draws from the table's own sequence. SQLite has none: its writer holds the database lock for the
    whole transaction, so ids past the table's largest, offset by the (unique) line number, are free.
    """
    if connection.vendor == "postgresql":
        with connection.cursor() as cursor:
            cursor.execute("SELECT pg_get_serial_sequence(%s, 'id')", [table])
            return f"nextval('{cursor.fetchone()[0]}')"
    return f"(SELECT COALESCE(MAX(id), 0) FROM {table}) + {{s}}.line"


def _inventory_apply(stage: Stage, chunk: str, *, operator: Operator, actor: Actor, now: datetime) -> None:
    """Write the chunk's new numbers, their holdings and events, each in one INSERT … SELECT.

    Their ids were taken first, so a number is written with its cycle (the holding loaded as ended) at once: the
    number and its holding point at each other, and the foreign keys are checked at commit.
    """
    op = int(operator.pk)
    stamp = db_time(now)
    applied = chunk + " AND {s}." + APPLIED
    stage.execute(
        "INSERT INTO numbers_phonenumber (id, msisdn, range_holder_id, serving_operator_id, state, suspended_from, "
        "is_secondary, cycle_id, cancelled_at, frozen_until, released_at, updated_at, msisdn_sha256) "
        f"SELECT number_id, msisdn, {op}, {op}, state, '', secondary, "
        "CASE WHEN cancelled_at IS NOT NULL THEN period_id END, cancelled_at, frozen_until, released_at, %s, "
        f"{msisdn_sha256_sql('msisdn', connection.vendor)} "
        "FROM {s} WHERE " + applied + " ORDER BY number_id", [stamp])
    false = "false" if connection.vendor == "postgresql" else "0"
    # The holding of an active number; the ended holding (start unknown unless given) of a frozen or released one.
    stage.execute(
        "INSERT INTO numbers_holderperiod (id, number_id, operator_id, started_at, ended_at, customer_ref, "
        f"requires_disclosure) SELECT period_id, number_id, {op}, holder_since, cancelled_at, '', {false} "
        "FROM {s} WHERE " + applied + " AND period_id IS NOT NULL ORDER BY period_id")
    stage.execute(
        "INSERT INTO numbers_event (number_id, kind, from_state, to_state, actor, reason, detail, at, recorded_at) "
        "SELECT number_id, 'import', '', state, %s, '', " + json_object([("operator", "%s"), ("line", "{s}.key")])
        + ", %s, %s FROM {s} WHERE " + applied + " ORDER BY number_id",
        [actor_label(actor), operator.code, stamp, stamp])
