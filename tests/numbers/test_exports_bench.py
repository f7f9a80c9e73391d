"""Benchmark: the CSV export streams with flat memory (PostgreSQL, server-side cursor).

Smoke size by default; the real figure with a million rows:

    BENCH_EXPORT_ROWS=1000000 DATABASE_URL=postgres://… .venv/bin/pytest -s -m bench tests/numbers/test_exports_bench.py

It prints rows/s and how much the process's resident memory (RSS, sampled while the response is
consumed) grew while streaming N/10 rows (the baseline, same run), then N rows, then while holding
N rows in a list (what a non-streaming export would hold). The only assertion is the shape of
memory: streaming N rows must not grow it by more than a small fixed amount, whatever N.
"""

import os
import time

import pytest
from django.db import connection
from django.urls import reverse
from django.utils import timezone

from numbers.models import Operator, PhoneNumber

ROWS = int(os.environ.get("BENCH_EXPORT_ROWS", "20000"))


def _load(operator: Operator, count: int) -> None:
    now = timezone.now()
    with connection.cursor() as cursor, cursor.cursor.copy(
        f"COPY {PhoneNumber._meta.db_table} (msisdn, range_holder_id, serving_operator_id, state, suspended_from, "
        "is_secondary, updated_at) FROM STDIN"
    ) as copy:
        for i in range(count):
            copy.write_row((f"+86139{i:08d}", operator.pk, operator.pk, "available", "", i % 4 == 0, now))


def _rss() -> int:
    """The process's resident memory now, in bytes (Linux)."""
    with open("/proc/self/statm") as statm:
        return int(statm.read().split()[1]) * os.sysconf("SC_PAGE_SIZE")


def _stream(client, params: dict) -> tuple[int, int, float]:
    """Return (rows, largest growth of RSS in bytes while consuming, seconds) of the export."""
    before = peak = _rss()
    started = time.perf_counter()
    response = client.get(reverse("admin:numbers_phonenumber_export_csv"), params)
    lines = 0
    for n, chunk in enumerate(response.streaming_content):
        lines += chunk.count(b"\n")
        if n % 20 == 0:
            peak = max(peak, _rss())
    seconds = time.perf_counter() - started
    return lines - 1, max(peak, _rss()) - before, seconds


@pytest.mark.bench
@pytest.mark.services
@pytest.mark.django_db
def test_export_memory_is_flat(require_postgres, client, regulator):
    operator = Operator.objects.create(code="BENCH", name="Bench", coverage_start="2020-01-01")
    started = time.perf_counter()
    _load(operator, ROWS)
    load_s = time.perf_counter() - started
    client.force_login(regulator)
    tenth = f"+86139{ROWS // 10:08d}"
    base_rows, base_peak, base_s = _stream(client, {"msisdn__lt": tenth})
    rows, peak, seconds = _stream(client, {})
    before = _rss()
    held = list(PhoneNumber.objects.values_list("msisdn", "state", "range_holder__code", "cancelled_at",
                                                "updated_at"))
    list_growth = _rss() - before
    del held
    print(f"\nexport bench: loaded {ROWS:,} rows by COPY in {load_s:.1f} s ({ROWS / load_s:,.0f} rows/s)")
    print(f"  baseline  {base_rows:>10,} rows  RSS +{base_peak / 1e6:6.1f} MB  {base_rows / base_s:>9,.0f} rows/s")
    print(f"  full      {rows:>10,} rows  RSS +{peak / 1e6:6.1f} MB  {rows / seconds:>9,.0f} rows/s")
    print(f"  ratio full/baseline: rows x{rows / base_rows:.1f}, time x{seconds / base_s:.1f}")
    print(f"  holding the {ROWS:,} rows in a list instead: RSS +{list_growth / 1e6:.1f} MB")
    assert rows == ROWS and base_rows == ROWS // 10
    assert peak < 32 * 1024 * 1024  # flat: a fixed buffer, not a share of the rows
