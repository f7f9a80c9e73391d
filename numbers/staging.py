"""Bulk imports at the speed of the database: a staging table, set-based validation, a per-line report.

What every bulk path that reads a file shares (the inventory, the cancellation feed, risk lists):
1. rows stream into a temporary staging table (COPY on PostgreSQL, batched `executemany` on SQLite),
   with what Python must check per line (the number parses, the time parses) already decided;
2. set-based SQL resolves and validates them, marking identical lines as duplicates;
3. the caller applies the good lines in fixed-size chunks (`chunks`, `range_sql`), each in one transaction;
4. the counts and the per-line report are read back from the staging table, in pages, so memory stays
   flat whatever the file's size.
"""

from __future__ import annotations

import csv
import functools
import io
import logging
import re
import time
from collections.abc import Callable, Iterable, Iterator, Mapping, Sequence
from dataclasses import dataclass, field
from datetime import datetime
from itertools import islice
from typing import IO, TYPE_CHECKING, Any, ParamSpec, Self
from zoneinfo import ZoneInfo

from django.db import connection, transaction
from django.utils.translation import gettext as _
from django.utils.translation import gettext_lazy

from numbers import metrics
from numbers.errors import DomainError
from numbers.exports import csv_cell

if TYPE_CHECKING:
    from django_stubs_ext import StrOrPromise

# Numbers (cancellations) or lines (inventory) per transaction.
CHUNK_SIZE = 10_000
LOAD_BATCH = 5_000
REPORT_PAGE = 5_000
MAX_RAW = 64
# Where-clauses of the staging table: lines still to decide, and lines applied (duplicates excluded).
PENDING = "outcome IS NULL AND dup_of IS NULL"
APPLIED = "outcome = 'applied' AND dup_of IS NULL"


class FeedFileError(DomainError):
    """The file as a whole cannot be read (a usage error: exit status 2). Nothing was changed."""

    code = "unreadable_file"


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

    def as_dict(self) -> dict[str, Any]:
        return {"feed": self.feed, "operator": self.operator, "dry_run": self.dry_run, "lines": self.lines,
                "applied": self.applied, "already_applied": self.already_applied, "duplicates": self.duplicates,
                "rejected": self.rejected_total, "rejected_by_reason": dict(sorted(self.rejected.items()))}

    def text(self) -> list[str]:
        verb = _("would be applied") if self.dry_run else _("applied")
        out = [
            _("%(feed)s for %(operator)s%(dry)s: %(lines)d lines")
            % {"feed": FEED_LABELS.get(self.feed, self.feed), "operator": self.operator,
               "dry": _(" (dry run, nothing changed)") if self.dry_run else "", "lines": self.lines},
            f"  {verb}: {self.applied}",
            "  " + _("already applied: %(n)d") % {"n": self.already_applied},
            "  " + _("identical lines counted once: %(n)d") % {"n": self.duplicates},
            "  " + _("rejected: %(n)d") % {"n": self.rejected_total},
        ]
        out += [f"    {code}: {n}" for code, n in sorted(self.rejected.items())]
        return out


Report = Callable[[FeedSummary, Iterator[LineOutcome]], None]
# The summary names the feed in the reader's language (the report's columns keep their codes).
FEED_LABELS: dict[str, StrOrPromise] = {"cancellations": gettext_lazy("cancellations and ports"),
                                        "inventory": gettext_lazy("number inventory")}


Progress = Callable[[int, int], None]


def open_text(file: IO[bytes]) -> io.TextIOBase:
    """Wrap a binary file for the csv module: UTF-8, a BOM accepted, newlines left to csv."""
    return io.TextIOWrapper(file, encoding="utf-8-sig", newline="")


def read_csv(
    text: Iterable[str], columns: tuple[str, ...], required: tuple[str, ...]
) -> Iterator[tuple[int, dict[str, str] | None, str]]:
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
            if blank_record(fields):
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


def blank_record(fields: list[str]) -> bool:
    """A record with nothing in it: an empty line, or a spreadsheet's empty row (`,,,`): skipped, not rejected."""
    return not any(field.strip() for field in fields)


def decode_lines(file: IO[bytes]) -> Iterator[str]:
    """Stream the lines of a binary file as UTF-8 text (a BOM accepted, line endings kept for csv).

    Unlike a text wrapper, which decodes ahead in blocks, this names the line a bad byte is on.
    """
    for number, raw in enumerate(file, start=1):
        try:
            yield raw.decode("utf-8-sig" if number == 1 else "utf-8")
        except UnicodeDecodeError:
            raise FeedFileError(_("The file is not UTF-8: line %(line)d holds a byte that is not.") % {"line": number},
                                code="not_utf8") from None


def reject_wrong_country(stage: Stage, country: str) -> None:
    """Reject the lines whose number belongs to another country than `country` (ISO 3166 alpha-2): wrong_country.

    One UPDATE by the calling code; where several countries share it (+1, +7, +44…) the lines with that code are
    also checked in Python, page by page, against the country the numbering plan gives them.
    """
    import phonenumbers

    region = country.upper()
    code = phonenumbers.country_code_for_region(region)
    message = _("The number belongs to another country than the operator's (%(country)s).") % {"country": region}
    stage.execute("UPDATE {s} SET reject = 'wrong_country', message = %s WHERE reject IS NULL AND msisdn IS NOT NULL "
                  "AND msisdn NOT LIKE %s", [message, f"+{code}%"])
    if len(phonenumbers.region_codes_for_country_code(code)) < 2:
        return
    last = -(2**31)
    while True:
        with connection.cursor() as cursor:
            cursor.execute(f"SELECT line, msisdn FROM {stage.table} WHERE reject IS NULL AND msisdn IS NOT NULL "
                           "AND line > %s ORDER BY line LIMIT %s", [last, REPORT_PAGE])
            rows = cursor.fetchall()
            foreign = [(message, line) for line, msisdn in rows if _region_of(msisdn) not in (region, None)]
            if foreign:
                cursor.executemany(f"UPDATE {stage.table} SET reject = 'wrong_country', message = %s WHERE line = %s",
                                   foreign)
        if len(rows) < REPORT_PAGE:
            return
        last = rows[-1][0]


def _region_of(msisdn: str) -> str | None:
    import phonenumbers

    try:
        region: str | None = phonenumbers.region_code_for_number(phonenumbers.parse(msisdn))
    except phonenumbers.NumberParseException:
        return None  # not a number at all: the parser's own reason is given later
    return region


class Reject(Exception):
    def __init__(self, code: str, message: str = "") -> None:
        self.code, self.message = code, message


def parse_time(value: object, zone: ZoneInfo, name: str) -> datetime | None:
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
            if "\x00" in text:  # fromisoformat reads up to a NUL and ignores the rest
                raise ValueError
            parsed = datetime.fromisoformat(text)
        except ValueError:
            raise Reject("invalid_time", _("%(name)s “%(value)s” is not an ISO 8601 time.")
                          % {"name": name, "value": text[:40]}) from None
    if parsed.tzinfo is None:
        parsed = parsed.replace(tzinfo=zone)
    return parsed.astimezone(ZoneInfo("UTC"))


def db_time(value: datetime | None) -> datetime | str | None:
    # What the backend takes as a query parameter: a datetime on PostgreSQL, text on SQLite.
    return None if value is None else _time_adapter()(value)


@functools.cache
def _time_adapter() -> Callable[[datetime], datetime | str | None]:
    # Looked up once: bulk loads call db_time per line, and `connection` is a per-thread proxy. The adapter reads
    # only settings, never the connection's state, so any thread may use it.
    adapt: Callable[[datetime], datetime | str | None] = connection.ops.adapt_datetimefield_value
    return adapt


def db_time_text(value: datetime | None, iso: str | None = None) -> str | None:
    """`db_time` as text for a staging table: the ISO 8601 form on PostgreSQL (`iso` when the caller has it)."""
    if value is None:
        return None
    if connection_is_postgres():
        return iso or value.isoformat()
    adapted = db_time(value)
    return adapted if isinstance(adapted, str) or adapted is None else adapted.isoformat()


@functools.cache
def connection_is_postgres() -> bool:
    """Whether the default database is PostgreSQL (asked once per process: bulk loads ask per line)."""
    return connection.vendor == "postgresql"


def clean_raw(value: object) -> str:
    return str(value or "").replace("\x00", "")[:MAX_RAW]


def db_types() -> dict[str, str]:
    if connection.vendor == "postgresql":
        return {"ts": "timestamptz", "bool": "boolean", "big": "bigint", "temp": "TEMP"}
    return {"ts": "text", "bool": "integer", "big": "integer", "temp": "TEMP"}


class Stage:
    """A temporary staging table on the current connection, dropped when the import ends."""

    def __init__(self, table: str, ddl: str, columns: tuple[str, ...], *,
                 reasons: Mapping[str, StrOrPromise] | None = None, indexes: tuple[str, ...] = ("line", "msisdn"),
                 fillfactor: int | None = None) -> None:
        # `reasons`: the message of each rejection code, for lines rejected without a message of their own.
        # `indexes`: the columns indexed once the rows are loaded (`line` is unique). Index only what later
        # statements look rows up by: an UPDATE that changes no indexed column, on a page with room
        # (`fillfactor`, PostgreSQL), writes the new row version in place (HOT) instead of into every index.
        self.table, self.ddl, self.columns, self.reasons = table, ddl, columns, reasons or {}
        self.indexes, self.fillfactor = indexes, fillfactor
        self.pg = connection.vendor == "postgresql"

    def __enter__(self) -> Self:
        types = db_types()
        false = "false" if self.pg else "0"
        with connection.cursor() as cursor:
            cursor.execute(f"DROP TABLE IF EXISTS {self.table}")
            cursor.execute(self.ddl.format(false=false, **types))
            if self.pg and self.fillfactor:
                cursor.execute(f"ALTER TABLE {self.table} SET (fillfactor = {int(self.fillfactor)})")
            if self.pg:
                # The statements below look costly to the planner, so JIT would compile each one (~0.2 s) and
                # gain nothing: every statement touches one chunk.
                cursor.execute("SET jit = off")
        return self

    def __exit__(self, *exc: object) -> None:
        with connection.cursor() as cursor:
            cursor.execute(f"DROP TABLE IF EXISTS {self.table}")
            if self.pg:
                cursor.execute("RESET jit")

    def load(self, values: Iterable[tuple[Any, ...]]) -> int:
        """Stream the values into the table; return how many rows."""
        count = 0
        cols = ", ".join(self.columns)
        # In a transaction of its own: a file that fails half-way (a COPY aborted) leaves the connection usable.
        with transaction.atomic(), connection.cursor() as cursor:
            if self.pg:
                with cursor.copy(f"COPY {self.table} ({cols}) FROM STDIN") as copy:
                    # COPY's text format written by hand, in blocks: several times faster than write_row.
                    block: list[str] = []
                    for row in values:
                        block.append("\t".join(map(copy_field, row)))
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
            for column in self.indexes:
                unique = "UNIQUE " if column == "line" else ""
                cursor.execute(f"CREATE {unique}INDEX {self.table}_{column} ON {self.table} ({column})")
            if self.pg:
                cursor.execute(f"ANALYZE {self.table}")
        return count

    def execute(self, sql: str, params: Sequence[Any] = ()) -> int:
        with connection.cursor() as cursor:
            cursor.execute(sql.format(s=self.table), params)
            return int(cursor.rowcount)

    def one(self, sql: str, params: Sequence[Any] = ()) -> Any:
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
                    text = message or str(self.reasons.get(reject, reject))
                    if dup_of is not None:
                        text = _("%(m)s (the same line as line %(l)d)") % {"m": text, "l": dup_of}
                yield LineOutcome(line=line, msisdn=raw, outcome=outcome or "rejected", reason=reject or "",
                                  message=text, duplicate_of=dup_of)
            if len(rows) < REPORT_PAGE:
                return
            last = rows[-1][0]

    def finish_duplicates(self) -> None:
        """Give every identical line the outcome of the first one."""
        # Only the identical lines are looked at (few), each finding its first line by the line index.
        self.execute("UPDATE {s} SET outcome = p.outcome, reject = p.reject FROM {s} AS p "
                     "WHERE {s}.dup_of IS NOT NULL AND p.line = {s}.dup_of")


# PostgreSQL's text cannot hold NUL, escaped or not: a NUL in a file's field becomes U+FFFD, which the
# field's own check then refuses (that line is rejected) instead of the whole COPY failing.
COPY_ESCAPES = str.maketrans({"\\": "\\\\", "\t": "\\t", "\n": "\\n", "\r": "\\r", "\x00": "\ufffd"})


_COPY_SPECIAL = re.compile(r"[\\\t\n\r\x00]")


def copy_field(value: object) -> str:
    """One field in COPY's text format."""
    if value.__class__ is str:  # most fields: escaped only when they hold a character COPY reads specially
        text: str = value
        return text.translate(COPY_ESCAPES) if _COPY_SPECIAL.search(text) else text
    if value is None:
        return "\\N"
    if value is True or value is False:
        return "t" if value else "f"
    if isinstance(value, datetime):
        return value.isoformat()
    if isinstance(value, str):
        return value.translate(COPY_ESCAPES)
    return str(value)


def json_object(pairs: list[tuple[str, str]]) -> str:
    func = "jsonb_build_object" if connection.vendor == "postgresql" else "json_object"
    args = ", ".join(f"'{k}', {v}" for k, v in pairs)
    return f"{func}({args})"


def iso_sql(column: str) -> str:
    """SQL for a stored time as the ISO 8601 string `datetime.isoformat()` gives (UTC)."""
    if connection.vendor == "postgresql":
        return column  # jsonb_build_object renders timestamptz as ISO 8601 in the session zone (UTC)
    return f"replace({column}, ' ', 'T') || '+00:00'"


def plus_days_sql(column: str, days_sql: str) -> str:
    """SQL for a stored time plus a number of 24-hour days."""
    if connection.vendor == "postgresql":
        return f"{column} + ({days_sql}) * interval '24 hours'"
    # datetime() drops the fraction of a second: add it back as Django stores it.
    return f"datetime({column}, '+' || ({days_sql}) || ' days') || substr({column}, 20)"


def chunks(stage: Stage, column: str, size: int) -> Iterator[tuple[int, int]]:
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


def range_sql(column: str, low: int, high: int) -> str:
    """SQL for `low < column <= high`. Repeated on every big table of a join so that each is read by index,
    for the chunk's numbers only, whatever the planner thinks of its statistics."""
    return f"{column} > {int(low)} AND {column} <= {int(high)}"


def report_and_summary(stage: Stage, summary: FeedSummary, report: Report | None, all_lines: bool) -> FeedSummary:
    stage.finish_duplicates()
    stage.summary(summary)
    if report is not None:
        report(summary, stage.outcomes(rejected_only=not all_lines))
    return summary


def mark_duplicates(stage: Stage, by: str) -> None:
    """Identical lines (same number, same values) count once: the first stands for the others."""
    stage.execute(
        "UPDATE {s} SET dup_of = d.first FROM (SELECT " + by + " AS k, key, MIN(line) AS first FROM {s} "
        "WHERE reject IS NULL AND " + by + " IS NOT NULL GROUP BY " + by + ", key HAVING COUNT(*) > 1) AS d "
        "WHERE {s}." + by + " = d.k AND {s}.key = d.key AND {s}.line > d.first AND {s}.reject IS NULL")


def write_report(out: IO[str], *, title: str) -> Report:
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


# --- what every feed import tells the operators: a log line at its start and end, a count by outcome ----

_feed_log = logging.getLogger("numbers.feeds")
_P = ParamSpec("_P")


def observed_import(kind: str) -> Callable[[Callable[_P, FeedSummary]], Callable[_P, FeedSummary]]:
    """Log an import's start and end (with its counts) and count it by outcome (portal_feed_imports_total)."""

    def decorate(importer: Callable[_P, FeedSummary]) -> Callable[_P, FeedSummary]:
        @functools.wraps(importer)
        def run(*args: _P.args, **kwargs: _P.kwargs) -> FeedSummary:
            operator = getattr(kwargs.get("operator"), "code", None)
            context = {"kind": kind, "operator": operator, "dry_run": bool(kwargs.get("dry_run"))}
            _feed_log.info("feed import started", extra={"event": "feed_import_started", **context})
            started = time.monotonic()
            try:
                summary = importer(*args, **kwargs)
            except FeedFileError as exc:
                metrics.FEED_IMPORTS.labels(kind=kind, outcome="refused").inc()
                _feed_log.warning("feed import refused: %s", exc.message,
                                  extra={"event": "feed_import_refused", **context})
                raise
            except Exception:
                metrics.FEED_IMPORTS.labels(kind=kind, outcome="failed").inc()
                _feed_log.exception("feed import failed", extra={"event": "feed_import_failed", **context})
                raise
            outcome = "rejected_lines" if summary.rejected_total else "ok"
            metrics.FEED_IMPORTS.labels(kind=kind, outcome=outcome).inc()
            _feed_log.info("feed import finished", extra={
                "event": "feed_import_finished", **context, "outcome": outcome, "lines": summary.lines,
                "applied": summary.applied, "already_applied": summary.already_applied,
                "duplicates": summary.duplicates, "rejected": summary.rejected_total,
                "rejected_by_reason": dict(summary.rejected),
                "seconds": round(time.monotonic() - started, 3)})
            return summary

        return run

    return decorate
