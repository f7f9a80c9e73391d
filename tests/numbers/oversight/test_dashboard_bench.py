"""Benchmark: the dashboard's sections over a large number table (PostgreSQL), aggregated in the database.

    BENCH_DASHBOARD_ROWS=1000000 DATABASE_URL=postgres://… \
        .venv/bin/pytest -s -m bench tests/numbers/oversight/test_dashboard_bench.py

Loads N/10 numbers, times every section (the baseline), loads the rest up to N, times them again,
and prints both with the ratio. No timing is asserted; the figures are for reading.
"""

import os
import random
import time
from datetime import timedelta

import pytest
from django.db import connection
from django.utils import timezone

from numbers.charts import DashboardFilter
from numbers.models import Operator, PhoneNumber
from numbers.oversight import dashboard
from portal.dashboard import SECTIONS

ROWS = int(os.environ.get("BENCH_DASHBOARD_ROWS", "20000"))


def _load(operators: list[Operator], start: int, stop: int) -> None:
    rng = random.Random(start)
    now = timezone.now()
    base = now - timedelta(days=300)
    with connection.cursor() as cursor, cursor.cursor.copy(
        f"COPY {PhoneNumber._meta.db_table} (msisdn, range_holder_id, serving_operator_id, state, suspended_from, "
        "is_secondary, cancelled_at, frozen_until, released_at, updated_at) FROM STDIN"
    ) as copy:
        for i in range(start, stop):
            op = operators[i % len(operators)].pk
            roll = rng.random()
            if roll < 0.4:
                row = ("available", "", False, None, None, None)
            elif roll < 0.65:
                row = ("active", "", False, None, None, None)
            elif roll < 0.85:
                row = ("frozen", "", False, now - timedelta(days=10), now + timedelta(days=80), None)
            else:
                released = base + timedelta(days=90, seconds=rng.randrange(0, 86400 * 20))
                row = ("available", "", True, base, base + timedelta(days=90), released)
            copy.write_row((f"+86139{i:08d}", op, op, *row, now))
    with connection.cursor() as cursor:
        cursor.execute(f"ANALYZE {PhoneNumber._meta.db_table}")


def _time_sections() -> dict[str, float]:
    out = {}
    f = DashboardFilter.last_days(30)
    for section in SECTIONS:
        started = time.perf_counter()
        section.compute(f)
        out[section.key] = time.perf_counter() - started
    return out


@pytest.mark.bench
@pytest.mark.services
@pytest.mark.django_db
def test_dashboard_sections_at_scale(require_postgres):
    operators = [Operator.objects.create(code=c, name=c, coverage_start="2020-01-01") for c in ("B1", "B2", "B3")]
    _load(operators, 0, ROWS // 10)
    _time_sections()  # warm up
    baseline = _time_sections()
    _load(operators, ROWS // 10, ROWS)
    full = _time_sections()
    print(f"\ndashboard bench: {ROWS // 10:,} numbers (baseline) then {ROWS:,} numbers")
    for key in baseline:
        ratio = full[key] / baseline[key]
        print(f"  {key:<18} {baseline[key] * 1000:8.1f} ms  {full[key] * 1000:8.1f} ms  x{ratio:.1f}")
    print(f"  {'whole page':<18} {sum(baseline.values()) * 1000:8.1f} ms  {sum(full.values()) * 1000:8.1f} ms")
    rows = dashboard.numbers_by_state(DashboardFilter.last_days(30))["totals"]["total"]
    assert rows == ROWS
