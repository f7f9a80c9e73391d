"""Benchmark: placing risk marks from a list through admin (one locked transition per line).

    BENCH_MARKS=2000 DATABASE_URL=postgres://… \
        .venv/bin/pytest -s -m bench tests/numbers/oversight/test_marks_admin_bench.py

Times a list of N/10 numbers (the baseline) and then of N, and prints lines/s and the ratio.
"""

import os
import time

import pytest
from django.urls import reverse

from numbers.models import Operator, PhoneNumber, RiskMark, State
from numbers.oversight import admin as admin_marks

MARKS = int(os.environ.get("BENCH_MARKS", "200"))


@pytest.mark.bench
@pytest.mark.services
@pytest.mark.django_db
def test_placing_a_list_of_marks(require_postgres, client, regulator, monkeypatch):
    monkeypatch.setattr(admin_marks, "MAX_LINES", max(MARKS, admin_marks.MAX_LINES))  # to measure longer lists
    operator = Operator.objects.create(code="BM", name="BM", coverage_start="2020-01-01")
    PhoneNumber.objects.bulk_create(
        PhoneNumber(msisdn=f"+86139{i:08d}", range_holder=operator, serving_operator=operator)
        for i in range(MARKS + MARKS // 10)
    )
    client.force_login(regulator)
    figures = []
    for start, count in ((0, MARKS // 10), (MARKS // 10, MARKS)):
        text = "\n".join(f"139{i:08d}" for i in range(start, start + count))
        started = time.perf_counter()
        response = client.post(reverse("admin:numbers_riskmark_add"), {
            "numbers": text, "category": "fraud", "authority": "MPS", "effect": "suspend"})
        seconds = time.perf_counter() - started
        assert len(response.context["report"].applied) == count
        figures.append((count, seconds))
    (base_n, base_s), (n, s) = figures
    print(f"\nmarks bench: {base_n:,} lines in {base_s:.2f} s ({base_n / base_s:,.0f}/s); "
          f"{n:,} lines in {s:.2f} s ({n / s:,.0f}/s); time x{s / base_s:.1f} for x{n / base_n:.0f} lines")
    assert RiskMark.objects.count() == base_n + n
    assert PhoneNumber.objects.filter(state=State.SUSPENDED).count() == base_n + n
