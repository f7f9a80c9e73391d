"""Reassignment answers: was this number disconnected on or after a date? (DESIGN.md, "Reassignment queries").

Read from the lifecycle's own records: a disconnection is the end of a holder period (a cancellation, or a
holding the inventory loaded as ended); a port is an event that changes the serving operator and is no
disconnection. Every question of a call is answered by one SQL statement, whatever their number.
"""

from __future__ import annotations

import json
from dataclasses import dataclass
from datetime import date, datetime, time

from django.conf import settings
from django.db import connection
from django.utils import timezone

from numbers.phone import msisdn_sha256
from numbers.staging import db_time

YES, NO, NO_DATA = "yes", "no", "no_data"
# A test number asked by hash is the prefix padded to this many characters (+86 and 11 digits).
TEST_NUMBER_LENGTH = 14
ANSWERS = (YES, NO, NO_DATA)


@dataclass(frozen=True)
class Question:
    """One number, in clear (E.164) or as `msisdn_sha256`, and the local date the asker last verified it."""

    since: date
    msisdn: str | None = None
    sha256: str | None = None


def day_start(day: date) -> datetime:
    """The first moment of a local day (TIME_ZONE): a disconnection at or after it is on or after that day."""
    return timezone.make_aware(datetime.combine(day, time.min))


# yes: a holding of the number ended on or after `since`. no: the number is known, and its serving operator
# and every operator it was ported away from since `since` have data covering that date. no_data otherwise.
_ANSWER = """
    CASE
      WHEN n.id IS NULL THEN 'no_data'
      WHEN EXISTS (SELECT 1 FROM numbers_holderperiod AS hp
                   WHERE hp.number_id = n.id AND hp.ended_at >= q.since_at) THEN 'yes'
      WHEN so.coverage_start <= q.since_day AND NOT EXISTS (
             SELECT 1 FROM numbers_event AS e JOIN numbers_operator AS o ON o.code = {from_operator}
             WHERE e.number_id = n.id AND e.kind IN ('port_out', 'port_in') AND e.at >= q.since_at
               AND o.coverage_start > q.since_day) THEN 'no'
      ELSE 'no_data'
    END"""
# The number by its E.164 form or by its stored hash: each an index lookup.
_NUMBER = """
    LEFT JOIN numbers_phonenumber AS n ON n.id = COALESCE(
      (SELECT p.id FROM numbers_phonenumber AS p WHERE p.msisdn = q.msisdn),
      (SELECT p.id FROM numbers_phonenumber AS p WHERE p.msisdn_sha256 = q.sha))
    LEFT JOIN numbers_operator AS so ON so.id = n.serving_operator_id"""

# PostgreSQL: the items as three comma-separated text parameters (quick to bind, whatever their count), unnested
# in request order; the local midnight of `since` computed in the database.
_POSTGRES = ("SELECT q.idx - 1, " + _ANSWER.format(from_operator="e.detail ->> 'from_operator'") + " FROM ("
             "SELECT NULLIF(u.m, '') AS msisdn, NULLIF(u.h, '') AS sha, u.d::date AS since_day, "
             "u.d::date::timestamp AT TIME ZONE %s AS since_at, u.idx FROM unnest(string_to_array(%s, ','), "
             "string_to_array(%s, ','), string_to_array(%s, ',')) WITH ORDINALITY AS u(m, h, d, idx)) AS q" + _NUMBER)
_SQLITE = ("SELECT q.idx, " + _ANSWER.format(from_operator="json_extract(e.detail, '$.from_operator')")
           + " FROM (SELECT json_extract(value, '$[0]') AS idx, json_extract(value, '$[1]') AS msisdn, "
           "json_extract(value, '$[2]') AS sha, json_extract(value, '$[3]') AS since_at, "
           "json_extract(value, '$[4]') AS since_day FROM json_each(%s)) AS q" + _NUMBER)


def reassignment_answers(questions: list[Question]) -> list[str]:
    """Answer each question `yes`, `no` or `no_data`, in order, with one query."""
    if not questions:
        return []
    with connection.cursor() as cursor:
        if connection.vendor == "postgresql":
            cursor.execute(_POSTGRES, postgres_params(questions))
        else:
            rows = [(i, q.msisdn, q.sha256, db_time(day_start(q.since)), q.since.isoformat())
                    for i, q in enumerate(questions)]
            cursor.execute(_SQLITE, [json.dumps(rows, default=str)])
        answers = dict(cursor.fetchall())
    return [answers[i] for i in range(len(questions))]


def postgres_params(questions: list[Question]) -> list[str]:
    """The parameters of the PostgreSQL statement (the benchmark binds them to it without Django)."""
    return [settings.TIME_ZONE, ",".join(q.msisdn or "" for q in questions),
            ",".join(q.sha256 or "" for q in questions), ",".join(q.since.isoformat() for q in questions)]


# --- reserved test numbers (sandbox platforms) -----------------------------------------------


def is_test_number(msisdn: str) -> bool:
    """A reserved test number: SANDBOX_NUMBER_PREFIX followed by digits (never in any operator's inventory)."""
    prefix = settings.SANDBOX_NUMBER_PREFIX
    rest = msisdn[len(prefix):]
    return bool(prefix) and msisdn.startswith(prefix) and rest.isdigit() and len(msisdn) <= 16


def test_number_answer(msisdn: str) -> str:
    """The fixed answer of a test number, by its last digit: 1 yes, 2 no, anything else no_data."""
    return {"1": YES, "2": NO}.get(msisdn[-1], NO_DATA)


def test_numbers_by_sha256() -> dict[str, str]:
    """The test numbers a sandbox may ask by hash: the prefix padded with zeros to a whole number, ending 0-9."""
    prefix = settings.SANDBOX_NUMBER_PREFIX
    cached = _TEST_HASHES.get(prefix)
    if cached is None:
        width = max(0, TEST_NUMBER_LENGTH - len(prefix) - 1)
        numbers = [f"{prefix}{'0' * width}{digit}" for digit in range(10)]
        cached = _TEST_HASHES[prefix] = {msisdn_sha256(n): n for n in numbers}
    return cached


_TEST_HASHES: dict[str, dict[str, str]] = {}
