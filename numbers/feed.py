"""The number inventory and the cancellation/port feed (DESIGN.md "Number inventory", "Cancellation and port feed").

One service per feed, used by the management commands, the admin upload and the API:
`cancellations_import(*, operator, rows, …)` here and `inventory_import(*, operator, rows, …)` in
numbers/inventory.py, which uses the machinery of this module. `rows` is any iterable of parsed rows
(`CancellationRow`, `InventoryRow`): `read_cancellations(file)` and `read_inventory(file)` stream them from
a CSV file, an API view builds them from JSON items.

How it works, so that memory stays flat and nothing runs a query per line:
1. the rows stream into a temporary staging table (COPY on PostgreSQL, batched `executemany` on SQLite),
   with what Python must check per line (the number parses, the time parses) already decided;
2. set-based SQL resolves numbers and operators, marks identical lines as duplicates and rejects what
   needs no lock;
3. the rest is processed in fixed-size chunks, each in one transaction: lock the chunk's numbers in id
   order, mark "already applied" lines first, then conflicting lines, then the rejections that depend on
   the number's state, then apply with `UPDATE … FROM staging` and `INSERT … SELECT` (events included);
4. the counts and the per-line report are read back from the staging table, in pages.
Two imports of the same file at the same time end as one: the second waits for the first's locks and then
finds its lines already applied.
"""

import csv
import io
import os
import re
import uuid
from collections.abc import Callable, Iterable, Iterator
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from itertools import islice
from zoneinfo import ZoneInfo

from django.conf import settings
from django.db import connection, models, transaction
from django.utils import timezone
from django.utils.translation import gettext as _
from django.utils.translation import gettext_lazy

from numbers.errors import DomainError
from numbers.exports import csv_cell
from numbers.models import EventKind, Operator
from numbers.phone import InvalidMsisdn, normalize_msisdn
from numbers.services import Actor, actor_label

# Numbers (cancellations) or lines (inventory) per transaction.
CHUNK_SIZE = 10_000
LOAD_BATCH = 5_000
REPORT_PAGE = 5_000
_E164 = re.compile(r"\+[1-9]\d{6,14}")
_MAX_RAW = 64

# Every rejection reason, with the message shown in reports and the API.
REASONS = {
    "invalid_line": gettext_lazy("The line does not have the fields of the header, or a field has a wrong value."),
    "invalid_msisdn": gettext_lazy("The number does not parse."),
    "invalid_time": gettext_lazy("The time is not an ISO 8601 date and time."),
    "unknown_number": gettext_lazy("The number is not in the portal."),
    "wrong_operator": gettext_lazy("The importing operator does not serve this number."),
    "not_active": gettext_lazy("The number is not active."),
    "future_time": gettext_lazy("The time is in the future."),
    "stale": gettext_lazy("The time is before the current holding began: the number was re-allocated since."),
    "unknown_operator": gettext_lazy("to_operator names no known operator."),
    "same_operator": gettext_lazy("A number cannot be ported to the operator that already serves it."),
    "conflicting_lines": gettext_lazy("The file holds conflicting lines for this number; all of them are rejected."),
    # Inventory only.
    "invalid_state": gettext_lazy("The state must be available, active or frozen."),
    "missing_holder_since": gettext_lazy("An active number needs holder_since, the start of the current holding."),
    "missing_cancelled_at": gettext_lazy("A frozen number needs cancelled_at, the time of its cancellation."),
    "freeze_not_over": gettext_lazy(
        "An available number cancelled less than the minimum freeze ago: load it as frozen."
    ),
    "number_exists": gettext_lazy(
        "The number is already in the portal with other data; the inventory only adds numbers."
    ),
}

CANCELLATION_COLUMNS = ("msisdn", "cancelled_at", "reason", "to_operator")


class FeedFileError(DomainError):
    """The file as a whole cannot be read (a usage error: exit status 2). Nothing was changed."""

    code = "unreadable_file"


@dataclass(frozen=True)
class CancellationRow:
    line: int
    msisdn: str
    cancelled_at: str | datetime | None
    reason: str = ""
    to_operator: str = ""
    invalid: str = ""  # set by the reader when the line has the wrong number of fields


@dataclass(frozen=True)
class LineOutcome:
    line: int
    msisdn: str  # as written in the file
    outcome: str  # applied | already_applied | rejected
    reason: str = ""  # the rejection code
    message: str = ""
    duplicate_of: int | None = None


@dataclass
class FeedSummary:
    feed: str  # cancellations | inventory
    operator: str
    dry_run: bool
    lines: int = 0
    applied: int = 0
    already_applied: int = 0
    duplicates: int = 0
    rejected: dict[str, int] = field(default_factory=dict)

    @property
    def rejected_total(self) -> int:
        return sum(self.rejected.values())

    @property
    def exit_status(self) -> int:
        return 1 if self.rejected_total else 0

    def as_dict(self) -> dict:
        return {"feed": self.feed, "operator": self.operator, "dry_run": self.dry_run, "lines": self.lines,
                "applied": self.applied, "already_applied": self.already_applied, "duplicates": self.duplicates,
                "rejected": self.rejected_total, "rejected_by_reason": dict(sorted(self.rejected.items()))}

    def text(self) -> list[str]:
        verb = _("would be applied") if self.dry_run else _("applied")
        out = [
            _("%(feed)s for %(operator)s%(dry)s: %(lines)d lines")
            % {"feed": self.feed, "operator": self.operator, "dry": _(" (dry run, nothing changed)") if self.dry_run
               else "", "lines": self.lines},
            f"  {verb}: {self.applied}",
            "  " + _("already applied: %(n)d") % {"n": self.already_applied},
            "  " + _("identical lines counted once: %(n)d") % {"n": self.duplicates},
            "  " + _("rejected: %(n)d") % {"n": self.rejected_total},
        ]
        out += [f"    {code}: {n}" for code, n in sorted(self.rejected.items())]
        return out


Report = Callable[[FeedSummary, Iterator[LineOutcome]], None]
Progress = Callable[[int, int], None]


# --- reading files ---------------------------------------------------------------------------


def open_text(file) -> io.TextIOBase:
    """Wrap a binary file for the csv module: UTF-8, a BOM accepted, newlines left to csv."""
    return io.TextIOWrapper(file, encoding="utf-8-sig", newline="")


def _read(text, columns: tuple[str, ...], required: tuple[str, ...]) -> Iterator[tuple[int, dict | None, str]]:
    reader = csv.reader(text)
    try:
        header = next(reader, None)
        if header is None:
            raise FeedFileError(_("The file is empty: it needs a header row %(h)s.") % {"h": ",".join(columns)})
        names = [h.strip().lower() for h in header]
        unknown = [n for n in names if n not in columns]
        missing = [n for n in required if n not in names]
        if unknown or missing or len(set(names)) != len(names):
            raise FeedFileError(
                _("The header row must be %(h)s (optional columns may be left out); it is “%(got)s”.")
                % {"h": ",".join(columns), "got": ",".join(header)[:200]}
            )
        start = reader.line_num + 1
        for fields in reader:
            # A quoted field may span lines: a record is numbered by the line it starts on.
            line, start = start, reader.line_num + 1
            if not fields or fields == [""]:
                continue
            if len(fields) != len(names):
                yield line, None, fields[0] if fields else ""
            else:
                yield line, dict(zip(names, fields, strict=True)), ""
    except UnicodeDecodeError as exc:
        raise FeedFileError(
            _("The file is not UTF-8 (after line %(line)d).") % {"line": reader.line_num}, code="not_utf8"
        ) from exc
    except csv.Error as exc:
        raise FeedFileError(_("Line %(line)d is not valid CSV: %(error)s") % {"line": reader.line_num, "error": exc},
                            code="invalid_csv") from exc


def read_cancellations(text) -> Iterator[CancellationRow]:
    """Stream the rows of a cancellation file (`msisdn,cancelled_at[,reason][,to_operator]`)."""
    for line, values, first in _read(text, CANCELLATION_COLUMNS, ("msisdn", "cancelled_at")):
        if values is None:
            yield CancellationRow(line=line, msisdn=first, cancelled_at=None, invalid="columns")
        else:
            yield CancellationRow(line=line, msisdn=values["msisdn"], cancelled_at=values["cancelled_at"],
                                  reason=values.get("reason", ""), to_operator=values.get("to_operator", ""))


# --- parsing one line (pure Python, no queries) ----------------------------------------------


class _Reject(Exception):
    def __init__(self, code: str, message: str = ""):
        self.code, self.message = code, message


def _time(value, zone: ZoneInfo, name: str) -> datetime | None:
    """Parse an ISO 8601 time; a time without an offset is in TIME_ZONE. Empty gives None."""
    if value is None or value == "":
        return None
    if isinstance(value, datetime):
        parsed = value
    else:
        text = str(value).strip()
        if not text:
            return None
        try:
            parsed = datetime.fromisoformat(text)
        except ValueError:
            raise _Reject("invalid_time", _("%(name)s “%(value)s” is not an ISO 8601 time.")
                          % {"name": name, "value": text[:40]}) from None
    if parsed.tzinfo is None:
        parsed = parsed.replace(tzinfo=zone)
    return parsed.astimezone(ZoneInfo("UTC"))


def _msisdn(raw: str) -> tuple[str, bool]:
    """Return (E.164, fast): a number already in E.164 is checked in full only if it is not in the portal."""
    raw = raw.strip()
    if _E164.fullmatch(raw):
        return raw, True
    try:
        return normalize_msisdn(raw), False
    except InvalidMsisdn as exc:
        raise _Reject("invalid_msisdn", exc.messages[0]) from None


def _db_time(value: datetime | None):
    return None if value is None else connection.ops.adapt_datetimefield_value(value)


def _clean_raw(value) -> str:
    return str(value or "").replace("\x00", "")[:_MAX_RAW]


def _cancellation_values(row: CancellationRow, zone: ZoneInfo) -> tuple:
    raw = _clean_raw(row.msisdn)
    msisdn, fast, at, key = None, False, None, None
    reason = (row.reason or "").strip() or EventKind.CANCEL
    to_code = (row.to_operator or "").strip()[:16]
    try:
        if row.invalid:
            raise _Reject("invalid_line", _("The line does not have as many fields as the header."))
        if reason not in (EventKind.CANCEL, EventKind.PORT_OUT):
            raise _Reject("invalid_line", _("reason must be cancel or port_out, not “%(r)s”.") % {"r": reason[:20]})
        if reason == EventKind.PORT_OUT and not to_code:
            raise _Reject("invalid_line", _("A port (reason port_out) names the receiving operator in to_operator."))
        if reason == EventKind.CANCEL and to_code:
            raise _Reject("invalid_line", _("to_operator is only for a port (reason port_out)."))
        msisdn, fast = _msisdn(raw)
        at = _time(row.cancelled_at, zone, "cancelled_at")
        if at is None:
            raise _Reject("invalid_time", _("cancelled_at is empty."))
        key = f"{at.isoformat()}|{reason}|{to_code}"
        reject, message = None, ""
    except _Reject as rej:
        reject, message = rej.code, rej.message
    return (row.line, raw, msisdn, fast, _db_time(at), reason[:16], to_code, key, reject, message)


# --- the staging table -----------------------------------------------------------------------


def _types() -> dict:
    if connection.vendor == "postgresql":
        return {"ts": "timestamptz", "bool": "boolean", "big": "bigint", "temp": "TEMP"}
    return {"ts": "text", "bool": "integer", "big": "integer", "temp": "TEMP"}


CANCEL_STAGE = "feed_cancel_stage"
CANCEL_DDL = """
CREATE {temp} TABLE feed_cancel_stage (
    line integer NOT NULL, raw text NOT NULL, msisdn text, fast {bool} NOT NULL, cancelled_at {ts},
    reason text NOT NULL, to_code text NOT NULL, key text, reject text, message text NOT NULL,
    number_id {big}, to_operator_id {big}, period_id {big}, dup_of integer, outcome text)
"""
CANCEL_LOAD_COLUMNS = ("line", "raw", "msisdn", "fast", "cancelled_at", "reason", "to_code", "key", "reject",
                       "message")



class _Stage:
    """A temporary staging table on the current connection, dropped when the import ends."""

    def __init__(self, table: str, ddl: str, columns: tuple[str, ...]):
        self.table, self.ddl, self.columns = table, ddl, columns
        self.pg = connection.vendor == "postgresql"

    def __enter__(self):
        types = _types()
        false = "false" if self.pg else "0"
        with connection.cursor() as cursor:
            cursor.execute(f"DROP TABLE IF EXISTS {self.table}")
            cursor.execute(self.ddl.format(false=false, **types))
            if self.pg:
                # The statements below look costly to the planner, so JIT would compile each one (~0.2 s) and
                # gain nothing: every statement touches one chunk.
                cursor.execute("SET jit = off")
        return self

    def __exit__(self, *exc):
        with connection.cursor() as cursor:
            cursor.execute(f"DROP TABLE IF EXISTS {self.table}")
            if self.pg:
                cursor.execute("RESET jit")

    def load(self, values: Iterable[tuple]) -> int:
        """Stream the values into the table; return how many rows."""
        count = 0
        cols = ", ".join(self.columns)
        # In a transaction of its own: a file that fails half-way (a COPY aborted) leaves the connection usable.
        with transaction.atomic(), connection.cursor() as cursor:
            if self.pg:
                with cursor.copy(f"COPY {self.table} ({cols}) FROM STDIN") as copy:
                    # COPY's text format written by hand, in blocks: several times faster than write_row.
                    block = []
                    for row in values:
                        block.append("\t".join(map(_copy_field, row)))
                        if len(block) == LOAD_BATCH:
                            copy.write("\n".join(block) + "\n")
                            count += len(block)
                            block = []
                    if block:
                        copy.write("\n".join(block) + "\n")
                        count += len(block)
            else:
                sql = f"INSERT INTO {self.table} ({cols}) VALUES ({', '.join(['%s'] * len(self.columns))})"
                values = iter(values)
                while batch := list(islice(values, LOAD_BATCH)):
                    cursor.executemany(sql, batch)
                    count += len(batch)
            cursor.execute(f"CREATE UNIQUE INDEX {self.table}_line ON {self.table} (line)")
            cursor.execute(f"CREATE INDEX {self.table}_msisdn ON {self.table} (msisdn)")
            if self.pg:
                cursor.execute(f"ANALYZE {self.table}")
        return count

    def execute(self, sql: str, params=()) -> int:
        with connection.cursor() as cursor:
            cursor.execute(sql.format(s=self.table), params)
            return cursor.rowcount

    def one(self, sql: str, params=()):
        with connection.cursor() as cursor:
            cursor.execute(sql.format(s=self.table), params)
            return cursor.fetchone()[0]

    def summary(self, summary: FeedSummary) -> FeedSummary:
        with connection.cursor() as cursor:
            cursor.execute(f"SELECT outcome, reject, dup_of IS NULL, COUNT(*) FROM {self.table} "
                           "GROUP BY outcome, reject, dup_of IS NULL")
            for outcome, reject, primary, n in cursor.fetchall():
                if not primary:  # an identical line counts once, whatever its outcome
                    summary.duplicates += n
                elif outcome == "applied":
                    summary.applied += n
                elif outcome == "already_applied":
                    summary.already_applied += n
                else:
                    summary.rejected[reject] = summary.rejected.get(reject, 0) + n
        return summary

    def outcomes(self, *, rejected_only: bool) -> Iterator[LineOutcome]:
        """Stream the lines' outcomes in line order, a page at a time (keyset pagination)."""
        where = "AND outcome = 'rejected'" if rejected_only else ""
        last = -(2**31)
        while True:
            with connection.cursor() as cursor:
                cursor.execute(f"SELECT line, raw, outcome, reject, message, dup_of FROM {self.table} "
                               f"WHERE line > %s {where} ORDER BY line LIMIT %s", [last, REPORT_PAGE])
                rows = cursor.fetchall()
            for line, raw, outcome, reject, message, dup_of in rows:
                text = ""
                if outcome == "rejected":
                    text = message or str(REASONS.get(reject, reject))
                    if dup_of is not None:
                        text = _("%(m)s (the same line as line %(l)d)") % {"m": text, "l": dup_of}
                yield LineOutcome(line=line, msisdn=raw, outcome=outcome or "rejected", reason=reject or "",
                                  message=text, duplicate_of=dup_of)
            if len(rows) < REPORT_PAGE:
                return
            last = rows[-1][0]

    def finish_duplicates(self) -> None:
        """Give every identical line the outcome of the first one."""
        self.execute("UPDATE {s} SET outcome = p.outcome, reject = p.reject FROM {s} AS p "
                     "WHERE p.line = {s}.dup_of")


_COPY_ESCAPES = str.maketrans({"\\": "\\\\", "\t": "\\t", "\n": "\\n", "\r": "\\r"})


def _copy_field(value) -> str:
    """One field in COPY's text format."""
    if value is None:
        return "\\N"
    if value is True or value is False:
        return "t" if value else "f"
    if isinstance(value, datetime):
        return value.isoformat()
    if isinstance(value, str):
        return value.translate(_COPY_ESCAPES)
    return str(value)


def _json(pairs: list[tuple[str, str]]) -> str:
    func = "jsonb_build_object" if connection.vendor == "postgresql" else "json_object"
    args = ", ".join(f"'{k}', {v}" for k, v in pairs)
    return f"{func}({args})"


def _iso(column: str) -> str:
    """SQL for a stored time as the ISO 8601 string `datetime.isoformat()` gives (UTC)."""
    if connection.vendor == "postgresql":
        return column  # jsonb_build_object renders timestamptz as ISO 8601 in the session zone (UTC)
    return f"replace({column}, ' ', 'T') || '+00:00'"


def _plus_days(column: str, days_sql: str) -> str:
    """SQL for a stored time plus a number of 24-hour days."""
    if connection.vendor == "postgresql":
        return f"{column} + ({days_sql}) * interval '24 hours'"
    # datetime() drops the fraction of a second: add it back as Django stores it.
    return f"datetime({column}, '+' || ({days_sql}) || ' days') || substr({column}, 20)"


def _chunks(stage: _Stage, column: str, size: int) -> Iterator[tuple[int, int]]:
    """Yield (low, high] bounds of `column` covering at most `size` pending lines each, in order."""
    low = -(2**62)
    while True:
        high = stage.one(
            "SELECT MAX(c) FROM (SELECT " + column + " AS c FROM {s} WHERE outcome IS NULL AND dup_of IS NULL AND "
            + column + " > %s ORDER BY " + column + " LIMIT %s) AS t", [low, size])
        if high is None:
            return
        yield low, high
        low = high


def _range(column: str, low: int, high: int) -> str:
    """SQL for `low < column <= high`. Repeated on every big table of a join so that each is read by index,
    for the chunk's numbers only, whatever the planner thinks of its statistics."""
    return f"{column} > {int(low)} AND {column} <= {int(high)}"


def _report_and_summary(stage: _Stage, summary: FeedSummary, report: Report | None, all_lines: bool) -> FeedSummary:
    stage.finish_duplicates()
    stage.summary(summary)
    if report is not None:
        report(summary, stage.outcomes(rejected_only=not all_lines))
    return summary


# --- cancellations and ports -----------------------------------------------------------------

_PENDING = "outcome IS NULL AND dup_of IS NULL"
_APPLIED = "outcome = 'applied' AND dup_of IS NULL"


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
    with _Stage(CANCEL_STAGE, CANCEL_DDL, CANCEL_LOAD_COLUMNS) as stage:
        summary.lines = stage.load(_cancellation_values(row, zone) for row in rows)
        _cancellations_validate(stage)
        done = summary.lines - stage.one("SELECT COUNT(*) FROM {s} WHERE outcome IS NULL")
        for low, high in _chunks(stage, "number_id", chunk_size):
            with transaction.atomic():
                done += _cancellations_chunk(stage, low, high, operator=operator, actor=actor, now=now,
                                             dry_run=dry_run)
            if progress:
                progress(done, summary.lines)
        return _report_and_summary(stage, summary, report, all_lines)


def _cancellations_validate(stage: _Stage) -> None:
    """Resolve numbers and operators, mark identical lines, reject what needs no lock."""
    stage.execute("CREATE INDEX {s}_number ON {s} (number_id)")
    stage.execute("UPDATE {s} SET number_id = n.id FROM numbers_phonenumber AS n "
                  "WHERE n.msisdn = {s}.msisdn AND {s}.reject IS NULL")
    stage.execute("UPDATE {s} SET reject = 'unknown_number' WHERE reject IS NULL AND number_id IS NULL")
    _check_unknown_fast_numbers(stage)
    stage.execute("UPDATE {s} SET to_operator_id = o.id FROM numbers_operator AS o "
                  "WHERE o.code = {s}.to_code AND {s}.to_code <> ''")
    _mark_duplicates(stage, "number_id")
    stage.execute("UPDATE {s} SET outcome = 'rejected' WHERE reject IS NOT NULL")
    if connection.vendor == "postgresql":
        stage.execute("ANALYZE {s}")


def _check_unknown_fast_numbers(stage: _Stage) -> None:
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


def _mark_duplicates(stage: _Stage, by: str) -> None:
    """Identical lines (same number, same values) count once: the first stands for the others."""
    stage.execute(
        "UPDATE {s} SET dup_of = d.first FROM (SELECT " + by + " AS k, key, MIN(line) AS first FROM {s} "
        "WHERE reject IS NULL AND " + by + " IS NOT NULL GROUP BY " + by + ", key HAVING COUNT(*) > 1) AS d "
        "WHERE {s}." + by + " = d.k AND {s}.key = d.key AND {s}.line > d.first AND {s}.reject IS NULL")


def _cancellations_chunk(stage: _Stage, low: int, high: int, *, operator: Operator, actor: Actor, now: datetime,
                         dry_run: bool) -> int:
    chunk = _range("{s}.number_id", low, high)
    if connection.vendor == "postgresql" and not dry_run:
        # Lock in id order, as every bulk path does: concurrent imports queue instead of deadlocking.
        stage.execute("SELECT id FROM numbers_phonenumber WHERE " + _range("id", low, high)
                      + " AND id IN (SELECT number_id FROM {s} WHERE " + chunk + ") ORDER BY id FOR UPDATE")
    # 1. Already applied comes first: the same event is in the number's history.
    stage.execute(
        "UPDATE {s} SET outcome = 'already_applied' WHERE " + chunk + " AND " + _PENDING + " AND EXISTS ("
        "SELECT 1 FROM numbers_event AS e WHERE e.number_id = {s}.number_id AND e.kind = {s}.reason "
        "AND e.at = {s}.cancelled_at AND " + _range("e.number_id", low, high) + ")")
    # 2. Different lines for one number: reject them all.
    stage.execute(
        "UPDATE {s} SET outcome = 'rejected', reject = 'conflicting_lines' WHERE " + chunk + " AND " + _PENDING
        + " AND number_id IN (SELECT number_id FROM {s} WHERE " + chunk + " AND " + _PENDING
        + " GROUP BY number_id HAVING COUNT(*) > 1)")
    # 3. What depends on the number's state (the order of DESIGN.md), in one statement: each UPDATE of the
    # staging table writes new row versions, so the chunk's lines are rewritten as few times as possible. The
    # open holding is read by correlated subqueries: an index lookup per line, whatever the statistics say.
    op = int(operator.pk)
    period = "(SELECT hp.{col} FROM numbers_holderperiod AS hp WHERE hp.number_id = {{s}}.number_id " \
             "AND hp.ended_at IS NULL)"
    started = period.format(col="started_at")
    reject = (
        "CASE "
        f"WHEN n.serving_operator_id <> {op} THEN 'wrong_operator' "
        "WHEN n.state <> 'active' THEN 'not_active' "
        "WHEN {s}.cancelled_at > %s THEN 'future_time' "
        f"WHEN {{s}}.cancelled_at < {started} THEN 'stale' "
        "WHEN {s}.to_code <> '' AND {s}.to_operator_id IS NULL THEN 'unknown_operator' "
        f"WHEN {{s}}.to_operator_id = {op} THEN 'same_operator' END"
    )
    stage.execute(
        f"UPDATE {{s}} SET period_id = {period.format(col='id')}, reject = {reject}, "
        f"outcome = CASE WHEN ({reject}) IS NULL THEN 'applied' ELSE 'rejected' END "
        "FROM numbers_phonenumber AS n WHERE n.id = {s}.number_id AND " + _range("n.id", low, high) + " AND "
        + chunk + " AND {s}." + _PENDING,
        [_db_time(now), _db_time(now)])
    if not dry_run:
        _cancellations_apply(stage, low, high, operator=operator, actor=actor, now=now)
    return stage.one("SELECT COUNT(*) FROM {s} WHERE " + chunk)


def _cancellations_apply(stage: _Stage, low: int, high: int, *, operator: Operator, actor: Actor,
                         now: datetime) -> None:
    """The set-based equal of number_cancel and number_port for the chunk's applied lines."""
    chunk = _range("{s}.number_id", low, high)
    applied = chunk + " AND {s}." + _APPLIED
    cancel = applied + " AND {s}.reason = 'cancel'"
    in_force = "m.cycle_id = {s}.period_id AND m.lifted_at IS NULL AND m.ended_at IS NULL"
    extra = (f"COALESCE((SELECT MAX(m.extra_days) FROM numbers_riskmark AS m WHERE {in_force} "
             "AND m.effect = 'extend'), 0)")
    suspend = f"EXISTS (SELECT 1 FROM numbers_riskmark AS m WHERE {in_force} AND m.effect = 'suspend')"
    stage.execute(
        "UPDATE numbers_holderperiod SET ended_at = {s}.cancelled_at, customer_ref = '' FROM {s} "
        "WHERE numbers_holderperiod.id = {s}.period_id AND " + _range("numbers_holderperiod.number_id", low, high)
        + " AND " + cancel)
    frozen_until = _plus_days("{s}.cancelled_at", f"{int(settings.MIN_FREEZE_DAYS)} + {extra}")
    stage.execute(
        "UPDATE numbers_phonenumber SET serving_operator_id = range_holder_id, cycle_id = {s}.period_id, "
        f"cancelled_at = {{s}}.cancelled_at, released_at = NULL, frozen_until = {frozen_until}, "
        f"state = CASE WHEN {suspend} THEN 'suspended' ELSE 'frozen' END, "
        f"suspended_from = CASE WHEN {suspend} THEN 'frozen' ELSE '' END, updated_at = %s "
        "FROM {s} WHERE numbers_phonenumber.id = {s}.number_id AND " + _range("numbers_phonenumber.id", low, high)
        + " AND " + cancel, [_db_time(now)])
    stage.execute(
        "UPDATE numbers_phonenumber SET serving_operator_id = {s}.to_operator_id, updated_at = %s FROM {s} "
        "WHERE numbers_phonenumber.id = {s}.number_id AND " + _range("numbers_phonenumber.id", low, high)
        + " AND " + applied + " AND {s}.reason = 'port_out'",
        [_db_time(now)])
    code = "%s"
    cancel_detail = [("operator", code), ("frozen_until", _iso("n.frozen_until"))]
    detail = (
        "CASE WHEN {s}.reason = 'port_out' THEN " + _json([("from_operator", code), ("to_operator", "t.code")])
        + f" WHEN n.range_holder_id <> {int(operator.pk)} THEN "
        + _json([*cancel_detail, ("returned_to", "rh.code")]) + " ELSE " + _json(cancel_detail) + " END"
    )
    stage.execute(
        "INSERT INTO numbers_event (number_id, kind, from_state, to_state, actor, reason, detail, at, recorded_at) "
        "SELECT {s}.number_id, {s}.reason, 'active', n.state, %s, '', " + detail + ", {s}.cancelled_at, %s "
        "FROM {s} JOIN numbers_phonenumber AS n ON n.id = {s}.number_id "
        "JOIN numbers_operator AS rh ON rh.id = n.range_holder_id "
        "LEFT JOIN numbers_operator AS t ON t.id = {s}.to_operator_id "
        "WHERE " + _range("n.id", low, high) + " AND " + applied + " ORDER BY {s}.number_id",
        [actor_label(actor), operator.code, operator.code, operator.code, _db_time(timezone.now())])


# --- the report file -------------------------------------------------------------------------


def write_report(out, *, title: str) -> Report:
    """Return a report callback that writes the summary and every reported line to the text file `out`.

    Regulators open reports in spreadsheets, and the lines echo what the file said: cells are defused as the
    admin exports' are (csv_cell), and rows end in CRLF, the csv module's default, which makes it quote any
    cell holding a CR or LF (with LF endings a bare CR in a cell would start a new row in a spreadsheet).
    """

    def report(summary: FeedSummary, outcomes: Iterator[LineOutcome]) -> None:
        out.write(f"# {title}\r\n")
        for text in summary.text():
            out.write(f"# {text}\r\n")
        writer = csv.writer(out)
        writer.writerow(["line", "msisdn", "outcome", "reason", "message"])
        for o in outcomes:
            writer.writerow([csv_cell(value) for value in (o.line, o.msisdn, o.outcome, o.reason, o.message)])

    return report



# --- uploads through the admin (run by a task) -----------------------------------------------

UPLOAD_LEASE = timedelta(minutes=10)


def _feeds() -> dict:
    from numbers.inventory import inventory_import, read_inventory

    return {"cancellations": (cancellations_import, read_cancellations),
            "inventory": (inventory_import, read_inventory)}


def check_header(kind: str, file) -> None:
    """Raise FeedFileError unless the binary `file` starts with the header row of the `kind` feed."""
    reader = _feeds()[kind][1]
    first = file.readline(4096)
    file.seek(0)
    for _row in reader(open_text(io.BytesIO(first))):
        break


def feed_upload_process(*, upload_id: int, now: datetime | None = None) -> None:
    """Import an uploaded feed file and keep its report; a second call for the same upload does nothing."""
    from numbers.models import FeedStatus, FeedUpload

    now = now or timezone.now()
    # Claim it; a run whose worker died (no progress for a lease) may be taken over: the import is idempotent.
    claimed = FeedUpload.objects.filter(pk=upload_id).filter(
        models.Q(status=FeedStatus.QUEUED) | models.Q(status=FeedStatus.RUNNING, heartbeat_at__lt=now - UPLOAD_LEASE)
    ).update(status=FeedStatus.RUNNING, started_at=now, heartbeat_at=now, error="")
    if not claimed:
        return
    upload = FeedUpload.objects.select_related("operator", "uploaded_by").get(pk=upload_id)
    importer, reader = _feeds()[upload.kind]
    storage = upload.file.storage
    report_name = f"feeds/reports/{upload.pk}-{uuid.uuid4().hex}.csv"
    os.makedirs(os.path.dirname(storage.path(report_name)), exist_ok=True)

    def progress(done: int, total: int) -> None:
        FeedUpload.objects.filter(pk=upload_id).update(processed=done, lines=total, heartbeat_at=timezone.now())

    try:
        with upload.file.open("rb") as source, open(storage.path(report_name), "w", encoding="utf-8",
                                                     newline="") as out:
            summary = importer(
                operator=upload.operator, rows=reader(open_text(source)), actor=upload.uploaded_by or "upload",
                dry_run=upload.dry_run, progress=progress,
                report=write_report(out, title=f"{upload.get_kind_display()} {upload.original_name}"),
            )
    except FeedFileError as exc:
        FeedUpload.objects.filter(pk=upload_id).update(
            status=FeedStatus.FAILED, error=exc.message + " " + _("Nothing was changed."),
            finished_at=timezone.now())
        storage.delete(report_name)
        return
    except Exception:
        FeedUpload.objects.filter(pk=upload_id).update(
            status=FeedStatus.FAILED, finished_at=timezone.now(),
            error=_("The import stopped on an internal error. The chunks done so far are kept; upload the same "
                    "file again to finish (lines already applied are counted, not applied twice)."))
        raise
    FeedUpload.objects.filter(pk=upload_id).update(
        status=FeedStatus.DONE, lines=summary.lines, processed=summary.lines, applied=summary.applied,
        already_applied=summary.already_applied, rejected=summary.rejected_total, summary=summary.as_dict(),
        report=report_name, finished_at=timezone.now())
