"""The chart primitives of the numbers core: SVG bar charts, and percentiles computed in the database."""

import math
import random
from datetime import timedelta

import pytest
from django.db import connection
from django.db.models import F
from django.utils import timezone

from numbers.charts import DurationSeconds, bar_chart, percentiles
from numbers.models import Operator, PhoneNumber
from tests.factories import PhoneNumberFactory


def test_labels_in_charts_are_escaped():
    svg = bar_chart(title="<t>", labels=["<script>x</script>"], series=[("a&b", [3])])
    assert "<script>" not in svg and "&lt;script&gt;" in svg and "a&amp;b" in svg


# --- the percentile helper -----------------------------------------------------------------------


def percentile_reference(values: list[float], fraction: float) -> float:
    """percentile_cont: linear interpolation at position fraction·(n−1) of the sorted values."""
    ordered = sorted(values)
    pos = fraction * (len(ordered) - 1)
    lo = math.floor(pos)
    hi = min(lo + 1, len(ordered) - 1)
    return ordered[lo] + (ordered[hi] - ordered[lo]) * (pos - lo)


def released_numbers(durations: dict[str, list[float]]) -> None:
    """Released numbers per operator code, each released `seconds` after its cancellation."""
    base = timezone.now() - timedelta(days=500)
    rows = []
    for k, (code, seconds) in enumerate(sorted(durations.items())):
        operator = Operator.objects.create(code=code, name=code, coverage_start="2020-01-01")
        for i, s in enumerate(seconds):
            rows.append(PhoneNumber(
                msisdn=f"+86137{k:02d}{i:06d}", range_holder=operator, serving_operator=operator, is_secondary=True,
                cancelled_at=base, frozen_until=base + timedelta(days=90),
                released_at=base + timedelta(days=90, seconds=s),
            ))
    PhoneNumber.objects.bulk_create(rows)


def check_percentiles_match_the_definition(seed: int) -> None:
    rng = random.Random(seed)
    durations = {
        "ONE": [rng.uniform(0, 86400 * 30)],
        "TWO": [rng.uniform(0, 86400 * 30) for _ in range(2)],
        "MANY": [float(rng.randrange(0, 86400 * 60)) for _ in range(257)],
        "TIES": [3600.0] * 5 + [7200.0] * 5,
    }
    released_numbers(durations)
    # one number still frozen-released without a release time must be ignored (NULL values)
    fractions = (0.0, 0.25, 0.5, 0.9, 0.95, 1.0)
    rows = percentiles(PhoneNumber.objects.all(), value=DurationSeconds(F("released_at"), F("cancelled_at")),
                       group_by="range_holder__code", fractions=fractions)
    assert [r.group for r in rows] == sorted(durations)
    for row in rows:
        values = [90 * 86400 + s for s in durations[row.group]]
        assert row.count == len(values)
        for f in fractions:
            assert row.values[f] == pytest.approx(percentile_reference(values, f), abs=1e-3), (row.group, f)
    overall = percentiles(PhoneNumber.objects.filter(released_at__isnull=False),
                          value=DurationSeconds(F("released_at"), F("cancelled_at")))
    every = [90 * 86400 + s for v in durations.values() for s in v]
    assert overall[0].group is None and overall[0].count == len(every)
    assert overall[0].values[0.5] == pytest.approx(percentile_reference(every, 0.5), abs=1e-3)


def test_percentiles_on_this_database(db):
    check_percentiles_match_the_definition(seed=7)


def test_percentiles_ignore_nulls_and_empty_groups(db):
    released_numbers({"SOME": [10.0, 20.0, 30.0]})
    PhoneNumberFactory(range_holder=Operator.objects.get(code="SOME"))  # never cancelled: NULL duration
    rows = percentiles(PhoneNumber.objects.all(), value=DurationSeconds(F("released_at"), F("cancelled_at")),
                       group_by="range_holder__code")
    assert [(r.group, r.count) for r in rows] == [("SOME", 3)]
    assert rows[0].values[0.5] == pytest.approx(90 * 86400 + 20.0, abs=1e-3)
    assert percentiles(PhoneNumber.objects.none(), value=DurationSeconds(F("released_at"), F("cancelled_at"))) == []


def test_percentile_fractions_are_checked(db):
    with pytest.raises(ValueError):
        percentiles(PhoneNumber.objects.all(), value=DurationSeconds(F("released_at"), F("cancelled_at")),
                    fractions=(1.5,))


@pytest.mark.services
@pytest.mark.django_db  # not transactional: a flush would drop the role groups the data migrations made
def test_percentiles_use_percentile_cont_on_postgresql(require_postgres, django_assert_num_queries):
    assert connection.vendor == "postgresql"
    check_percentiles_match_the_definition(seed=11)
    with django_assert_num_queries(1) as ctx:
        percentiles(PhoneNumber.objects.all(), value=DurationSeconds(F("released_at"), F("cancelled_at")),
                    group_by="range_holder__code")
    assert "percentile_cont(0.5) WITHIN GROUP" in ctx.captured_queries[0]["sql"]


def test_legends_are_laid_out_for_chinese_names():
    import re
    from datetime import date

    from numbers.charts import column_chart, text_width

    assert text_width("号码") == 22.0 and text_width("ab") == pytest.approx(13.2)
    names = ["批量续期已完成的号码", "尚未完成续期的号码", "已暂停的号码", "延长冻结期的号码", "其他原因的号码",
             "因骚扰营销被延长冻结期的号码"]
    svg = column_chart(title="趋势", buckets=[date(2026, 1, 1)], series=[(n, [1]) for n in names])
    keys = [(float(x), int(y)) for x, y in re.findall(r'<rect x="([\d.]+)" y="(\d+)" width="12"', svg)]
    assert len({y for _x, y in keys}) == 2  # six wide names do not fit one row of 640 px: the legend wraps
    row = sorted(x for x, y in keys if y == keys[0][1])
    for (x1, name), x2 in zip(zip(row, names, strict=False), row[1:], strict=False):
        assert x2 - x1 >= 16 + text_width(name)  # no key overlaps the name before it
