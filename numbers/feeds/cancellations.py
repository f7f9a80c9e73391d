"""The cancellation and port feed (docs/feed.md), on the staging machinery.

How it works, so that memory stays flat and nothing runs a query per line (numbers/staging.py):
1. the rows stream into a temporary staging table, with the number and the time already parsed;
2. set-based SQL resolves numbers and operators, marks identical lines as duplicates and rejects what
   needs no lock;
3. the rest is processed in fixed-size chunks, each in one transaction: lock the chunk's numbers in id
   order, mark "already applied" lines first, then conflicting lines, then the rejections that depend on
   the number's state, then apply with `UPDATE … FROM staging` and `INSERT … SELECT` (events included);
4. the counts and the per-line report are read back from the staging table, in pages.
Two imports of the same file at the same time end as one: the second waits for the first's locks and then
finds its lines already applied.
"""

import re
from collections.abc import Iterable, Iterator
from dataclasses import dataclass
from datetime import datetime
from zoneinfo import ZoneInfo

from django.conf import settings
from django.db import connection, transaction
from django.utils import timezone
from django.utils.translation import gettext as _

from numbers.feeds.reasons import REASONS
from numbers.models import EventKind, Operator
from numbers.phone import InvalidMsisdn, is_sandbox_number, normalize_msisdn
from numbers.services import Actor, actor_label
from numbers.staging import (
    APPLIED,
    CHUNK_SIZE,
    PENDING,
    REPORT_PAGE,
    FeedSummary,
    Progress,
    Reject,
    Report,
    Stage,
    chunks,
    clean_raw,
    db_time,
    db_time_text,
    iso_sql,
    json_object,
    mark_duplicates,
    observed_import,
    parse_time,
    plus_days_sql,
    range_sql,
    read_csv,
    reject_wrong_country,
    report_and_summary,
)

_E164 = re.compile(r"\+[1-9]\d{6,14}")


CANCELLATION_COLUMNS = ("msisdn", "cancelled_at", "reason", "to_operator")




@dataclass(frozen=True)
class CancellationRow:
    line: int
    msisdn: str
    cancelled_at: str | datetime | None
    reason: str = ""
    to_operator: str = ""
    invalid: str = ""  # set by the reader when the line has the wrong number of fields








# --- reading files ---------------------------------------------------------------------------






def read_cancellations(text) -> Iterator[CancellationRow]:
    """Stream the rows of a cancellation file (`msisdn,cancelled_at[,reason][,to_operator]`)."""
    for line, values, first in read_csv(text, CANCELLATION_COLUMNS, ("msisdn", "cancelled_at")):
        if values is None:
            yield CancellationRow(line=line, msisdn=first, cancelled_at=None, invalid="columns")
        else:
            yield CancellationRow(line=line, msisdn=values["msisdn"], cancelled_at=values["cancelled_at"],
                                  reason=values.get("reason", ""), to_operator=values.get("to_operator", ""))


# --- parsing one line (pure Python, no queries) ----------------------------------------------






def _msisdn(raw: str, region: str) -> tuple[str, bool]:
    """Return (E.164, fast): a number already in E.164 is checked in full only if it is not in the portal."""
    raw = raw.strip()
    if _E164.fullmatch(raw):
        return raw, True
    try:
        return normalize_msisdn(raw, region=region), False
    except InvalidMsisdn as exc:
        raise Reject("invalid_msisdn", exc.messages[0]) from None






def _cancellation_values(row: CancellationRow, zone: ZoneInfo, region: str) -> tuple:
    raw = clean_raw(row.msisdn)
    msisdn, fast, at, key = None, False, None, None
    reason = (row.reason or "").strip() or EventKind.CANCEL
    to_code = (row.to_operator or "").strip()[:16]
    try:
        if row.invalid:
            raise Reject("invalid_line", _("The line does not have as many fields as the header."))
        if reason not in (EventKind.CANCEL, EventKind.PORT_OUT):
            raise Reject("invalid_line", _("reason must be cancel or port_out, not “%(r)s”.") % {"r": reason[:20]})
        if reason == EventKind.PORT_OUT and not to_code:
            raise Reject("invalid_line", _("A port (reason port_out) names the receiving operator in to_operator."))
        if reason == EventKind.CANCEL and to_code:
            raise Reject("invalid_line", _("to_operator is only for a port (reason port_out)."))
        msisdn, fast = _msisdn(raw, region)
        if is_sandbox_number(msisdn):
            raise Reject("sandbox_number", "")
        at = parse_time(row.cancelled_at, zone, "cancelled_at")
        if at is None:
            raise Reject("invalid_time", _("cancelled_at is empty."))
        iso = at.isoformat()
        key = f"{iso}|{reason}|{to_code}"
        reject, message = None, ""
    except Reject as rej:
        reject, message, iso = rej.code, rej.message, None
    return (row.line, raw, msisdn, fast, db_time_text(at, iso), reason[:16], to_code, key, reject, message)


# --- the staging table -----------------------------------------------------------------------




CANCEL_STAGE = "feed_cancel_stage"
CANCEL_DDL = """
CREATE {temp} TABLE feed_cancel_stage (
    line integer NOT NULL, raw text NOT NULL, msisdn text, fast {bool} NOT NULL, cancelled_at {ts},
    reason text NOT NULL, to_code text NOT NULL, key text, reject text, message text NOT NULL,
    number_id {big}, to_operator_id {big}, period_id {big}, dup_of integer, outcome text)
"""
# Room on each page of the staging table for the versions its UPDATEs write (see Stage).
STAGE_FILLFACTOR = 45
CANCEL_LOAD_COLUMNS = ("line", "raw", "msisdn", "fast", "cancelled_at", "reason", "to_code", "key", "reject",
                       "message")





















# --- cancellations and ports -----------------------------------------------------------------



@observed_import("cancellations")
def cancellations_import(
    *, operator: Operator, rows: Iterable[CancellationRow], actor: Actor, dry_run: bool = False,
    report: Report | None = None, all_lines: bool = False, progress: Progress | None = None,
    now: datetime | None = None, chunk_size: int = CHUNK_SIZE,
) -> FeedSummary:
    """Apply a feed of cancellations and ports reported by `operator`; return the counts.

    `report(summary, outcomes)` receives the rejected lines (every line with `all_lines`), streamed.
    Raises FeedFileError, with nothing changed, when the rows cannot be read.
    """
    now = now or timezone.now()
    zone = ZoneInfo(settings.TIME_ZONE)
    summary = FeedSummary(feed="cancellations", operator=operator.code, dry_run=dry_run)
    # Lines are looked up by line and, once resolved, by number: the other columns are written in place.
    with Stage(CANCEL_STAGE, CANCEL_DDL, CANCEL_LOAD_COLUMNS, reasons=REASONS, indexes=("line",),
               fillfactor=STAGE_FILLFACTOR) as stage:
        region = settings.PHONE_REGION  # read once, not per line
        summary.lines = stage.load(_cancellation_values(row, zone, region) for row in rows)
        reject_wrong_country(stage, operator.country)
        _cancellations_validate(stage)
        done = summary.lines - stage.one("SELECT COUNT(*) FROM {s} WHERE outcome IS NULL")
        for low, high in chunks(stage, "number_id", chunk_size):
            with transaction.atomic():
                done += _cancellations_chunk(stage, low, high, operator=operator, actor=actor, now=now,
                                             dry_run=dry_run)
            if progress:
                progress(done, summary.lines)
        return report_and_summary(stage, summary, report, all_lines)


def _cancellations_validate(stage: Stage) -> None:
    """Resolve numbers and operators, mark identical lines, reject what needs no lock."""
    stage.execute("UPDATE {s} SET number_id = n.id FROM numbers_phonenumber AS n "
                  "WHERE n.msisdn = {s}.msisdn AND {s}.reject IS NULL")
    # Indexed once resolved, so that resolving wrote each line in place.
    stage.execute("CREATE INDEX {s}_number ON {s} (number_id)")
    if connection.vendor == "postgresql":
        # The lines were loaded in file order, the chunks go by number: stored in number order, a chunk's lines sit
        # on a few pages instead of a page of their own each, so every statement of a chunk reads a chunk's worth
        # of the table, not the whole of it.
        stage.execute("CLUSTER {s} USING {s}_number")
    stage.execute("UPDATE {s} SET reject = 'unknown_number' WHERE reject IS NULL AND number_id IS NULL")
    _check_unknown_fast_numbers(stage)
    stage.execute("UPDATE {s} SET to_operator_id = o.id FROM numbers_operator AS o "
                  "WHERE o.code = {s}.to_code AND {s}.to_code <> ''")
    mark_duplicates(stage, "number_id")
    stage.execute("UPDATE {s} SET outcome = 'rejected' WHERE reject IS NOT NULL")
    if connection.vendor == "postgresql":
        stage.execute("ANALYZE {s}")


def _check_unknown_fast_numbers(stage: Stage) -> None:
    """An E.164 number not in the portal: say whether it is no phone number at all (invalid_msisdn)."""
    last = -(2**31)
    while True:
        with connection.cursor() as cursor:
            cursor.execute(f"SELECT line, raw FROM {stage.table} WHERE reject = 'unknown_number' AND fast "
                           "AND line > %s ORDER BY line LIMIT %s", [last, REPORT_PAGE])
            rows = cursor.fetchall()
            invalid = []
            for line, raw in rows:
                try:
                    normalize_msisdn(raw)
                except InvalidMsisdn as exc:
                    invalid.append((exc.messages[0], line))
            if invalid:
                cursor.executemany(f"UPDATE {stage.table} SET reject = 'invalid_msisdn', message = %s "
                                   "WHERE line = %s", invalid)
        if len(rows) < REPORT_PAGE:
            return
        last = rows[-1][0]




def _cancellations_chunk(stage: Stage, low: int, high: int, *, operator: Operator, actor: Actor, now: datetime,
                         dry_run: bool) -> int:
    chunk = range_sql("{s}.number_id", low, high)
    if connection.vendor == "postgresql" and not dry_run:
        # Lock in id order, as every bulk path does: concurrent imports queue instead of deadlocking.
        stage.execute("SELECT id FROM numbers_phonenumber WHERE " + range_sql("id", low, high)
                      + " AND id IN (SELECT number_id FROM {s} WHERE " + chunk + ") ORDER BY id FOR UPDATE")
    # 1. Already applied comes first: the same event is in the number's history.
    stage.execute(
        "UPDATE {s} SET outcome = 'already_applied' WHERE " + chunk + " AND " + PENDING + " AND EXISTS ("
        "SELECT 1 FROM numbers_event AS e WHERE e.number_id = {s}.number_id AND e.kind = {s}.reason "
        "AND e.at = {s}.cancelled_at AND " + range_sql("e.number_id", low, high) + ")")
    # 2. Different lines for one number: reject them all.
    stage.execute(
        "UPDATE {s} SET outcome = 'rejected', reject = 'conflicting_lines' WHERE " + chunk + " AND " + PENDING
        + " AND number_id IN (SELECT number_id FROM {s} WHERE " + chunk + " AND " + PENDING
        + " GROUP BY number_id HAVING COUNT(*) > 1)")
    # 3. What depends on the number's state (the order of docs/feed.md), in one statement: each UPDATE of the
    # staging table writes new row versions, so the chunk's lines are rewritten as few times as possible. The
    # open holding is read by an index lookup per line, whatever the statistics say (a plain join, planned with
    # the statistics of a table just loaded, can scan the whole holding table for every chunk): a LATERAL
    # subquery with a LIMIT on PostgreSQL, which the planner keeps as a lookup; correlated subqueries on SQLite.
    op = int(operator.pk)
    if connection.vendor == "postgresql":
        holding = ("LEFT JOIN LATERAL (SELECT p.id, p.started_at FROM numbers_holderperiod AS p "
                   "WHERE p.number_id = n.id AND p.ended_at IS NULL LIMIT 1) AS hp ON true")
    else:
        open_period = ("(SELECT p.{} FROM numbers_holderperiod AS p WHERE p.number_id = n.id "
                       "AND p.ended_at IS NULL)")
        holding = (f"JOIN (SELECT n.id AS number_id, {open_period.format('id')} AS id, "
                   f"{open_period.format('started_at')} AS started_at FROM numbers_phonenumber AS n "
                   "WHERE " + range_sql("n.id", low, high) + ") AS hp ON hp.number_id = n.id")
    reject = (
        "CASE "
        f"WHEN n.serving_operator_id <> {op} THEN 'wrong_operator' "
        "WHEN n.state <> 'active' THEN 'not_active' "
        "WHEN {s}.cancelled_at > %s THEN 'future_time' "
        "WHEN {s}.cancelled_at < hp.started_at THEN 'stale' "
        "WHEN {s}.to_code <> '' AND {s}.to_operator_id IS NULL THEN 'unknown_operator' "
        f"WHEN {{s}}.to_operator_id = {op} THEN 'same_operator' END"
    )
    stage.execute(
        f"UPDATE {{s}} SET period_id = hp.id, reject = {reject}, "
        f"outcome = CASE WHEN ({reject}) IS NULL THEN 'applied' ELSE 'rejected' END "
        "FROM numbers_phonenumber AS n " + holding + " WHERE n.id = {s}.number_id AND "
        + range_sql("n.id", low, high) + " AND " + chunk + " AND {s}." + PENDING,
        [db_time(now), db_time(now)])
    if not dry_run:
        _cancellations_apply(stage, low, high, operator=operator, actor=actor, now=now)
    return stage.one("SELECT COUNT(*) FROM {s} WHERE " + chunk)


def _cancellations_apply(stage: Stage, low: int, high: int, *, operator: Operator, actor: Actor,
                         now: datetime) -> None:
    """The set-based equal of number_cancel and number_port for the chunk's applied lines."""
    chunk = range_sql("{s}.number_id", low, high)
    applied = chunk + " AND {s}." + APPLIED
    cancel = applied + " AND {s}.reason = 'cancel'"
    # The marks in force on the holdings that end (a mark placed on an active number waits on its open holding),
    # gathered once for the chunk and joined, rather than looked up line by line.
    marks = (
        "(SELECT m.cycle_id, MAX(CASE WHEN m.effect = 'extend' THEN m.extra_days END) AS extra, "
        "MAX(CASE WHEN m.effect = 'suspend' THEN 1 ELSE 0 END) AS suspend FROM numbers_riskmark AS m "
        "WHERE m.lifted_at IS NULL AND m.ended_at IS NULL AND " + range_sql("m.number_id", low, high)
        + " GROUP BY m.cycle_id) AS mk"
    )
    extra = "COALESCE(mk.extra, 0)"
    suspend = "COALESCE(mk.suspend, 0) = 1"
    stage.execute(
        "UPDATE numbers_holderperiod SET ended_at = {s}.cancelled_at, customer_ref = '' FROM {s} "
        "WHERE numbers_holderperiod.id = {s}.period_id AND " + range_sql("numbers_holderperiod.number_id", low, high)
        + " AND " + cancel)
    frozen_until = plus_days_sql("{s}.cancelled_at", f"{int(settings.MIN_FREEZE_DAYS)} + {extra}")
    stage.execute(
        "UPDATE numbers_phonenumber SET serving_operator_id = range_holder_id, cycle_id = {s}.period_id, "
        f"cancelled_at = {{s}}.cancelled_at, released_at = NULL, frozen_until = {frozen_until}, "
        f"state = CASE WHEN {suspend} THEN 'suspended' ELSE 'frozen' END, "
        f"suspended_from = CASE WHEN {suspend} THEN 'frozen' ELSE '' END, updated_at = %s "
        "FROM {s} LEFT JOIN " + marks + " ON mk.cycle_id = {s}.period_id "
        "WHERE numbers_phonenumber.id = {s}.number_id AND " + range_sql("numbers_phonenumber.id", low, high)
        + " AND " + cancel, [db_time(now)])
    stage.execute(
        "UPDATE numbers_phonenumber SET serving_operator_id = {s}.to_operator_id, updated_at = %s FROM {s} "
        "WHERE numbers_phonenumber.id = {s}.number_id AND " + range_sql("numbers_phonenumber.id", low, high)
        + " AND " + applied + " AND {s}.reason = 'port_out'",
        [db_time(now)])
    code = "%s"
    cancel_detail = [("operator", code), ("frozen_until", iso_sql("n.frozen_until"))]
    detail = (
        "CASE WHEN {s}.reason = 'port_out' THEN " + json_object([("from_operator", code), ("to_operator", "t.code")])
        + f" WHEN n.range_holder_id <> {int(operator.pk)} THEN "
        + json_object([*cancel_detail, ("returned_to", "rh.code")]) + " ELSE " + json_object(cancel_detail) + " END"
    )
    stage.execute(
        "INSERT INTO numbers_event (number_id, kind, from_state, to_state, actor, reason, detail, at, recorded_at) "
        "SELECT {s}.number_id, {s}.reason, 'active', n.state, %s, '', " + detail + ", {s}.cancelled_at, %s "
        "FROM {s} JOIN numbers_phonenumber AS n ON n.id = {s}.number_id "
        "JOIN numbers_operator AS rh ON rh.id = n.range_holder_id "
        "LEFT JOIN numbers_operator AS t ON t.id = {s}.to_operator_id "
        "WHERE " + range_sql("n.id", low, high) + " AND " + applied + " ORDER BY {s}.number_id",
        [actor_label(actor), operator.code, operator.code, operator.code, db_time(timezone.now())])


# --- the report file -------------------------------------------------------------------------





# --- uploads through the admin (run by a task) -----------------------------------------------







