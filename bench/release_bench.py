"""Benchmark the release sweep against a bare set-based UPDATE of the same rows.

    .venv/bin/python bench/release_bench.py [--numbers 100000] [--chunk 5000]

The baseline is one `UPDATE … WHERE id IN (chunk)` per chunk with no events and
no checks; the sweep adds the releasable filter, row locks and one event per
number (INSERT … SELECT). The ratio says what those cost.
"""

import argparse
import sys
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))
from bench.common import Result, peak_rss_mb, record, report, setup_django, throwaway_database, timed  # noqa: E402


def make_frozen_numbers(count: int, cancelled_at) -> None:
    """Insert `count` frozen numbers, each with its closed holder period, set-based."""
    from datetime import timedelta

    from django.db import connection

    from numbers.models import HolderPeriod, Operator, PhoneNumber

    op = Operator.objects.create(code="BENCH", name="Bench", coverage_start="2020-01-01")
    frozen_until = cancelled_at + timedelta(days=90)
    batch = 20000
    for start in range(0, count, batch):
        rows = [PhoneNumber(msisdn=f"+86139{i:08d}", range_holder=op, serving_operator=op, state="frozen",
                            cancelled_at=cancelled_at, frozen_until=frozen_until)
                for i in range(start, min(start + batch, count))]
        PhoneNumber.objects.bulk_create(rows, batch_size=5000)
    with connection.cursor() as cursor:
        cursor.execute(
            f"INSERT INTO {HolderPeriod._meta.db_table} (number_id, operator_id, ended_at, customer_ref, "
            "requires_disclosure) SELECT id, range_holder_id, cancelled_at, '', false "
            f"FROM {PhoneNumber._meta.db_table}"
        )
        cursor.execute(
            f"UPDATE {PhoneNumber._meta.db_table} SET cycle_id = (SELECT p.id FROM {HolderPeriod._meta.db_table} p "
            f"WHERE p.number_id = {PhoneNumber._meta.db_table}.id)"
        )


def reset(cancelled_at) -> None:
    from numbers.models import PhoneNumber

    PhoneNumber.objects.update(state="frozen", released_at=None, is_secondary=False)
    vacuum()


def vacuum() -> None:
    """Clear the dead row versions of the previous run, so that both runs start from the same table."""
    from django.db import connection

    with connection.cursor() as cursor:
        cursor.execute("VACUUM ANALYZE numbers_phonenumber")


def baseline(now, chunk: int) -> int:
    from django.db import transaction

    from numbers.models import PhoneNumber

    done = 0
    ids = list(PhoneNumber.objects.order_by("id").values_list("id", flat=True))
    for start in range(0, len(ids), chunk):
        with transaction.atomic():
            done += PhoneNumber.objects.filter(id__in=ids[start:start + chunk]).update(
                state="available", is_secondary=True, released_at=now)
    return done


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--numbers", type=int, default=100_000)
    parser.add_argument("--chunk", type=int, default=5000)
    args = parser.parse_args()
    setup_django()
    from datetime import timedelta

    from django.db import connection
    from django.utils import timezone

    from numbers.models import Event
    from numbers.services import release_sweep

    now = timezone.now()
    cancelled_at = now - timedelta(days=100)
    results: dict[str, float] = {}
    with throwaway_database():
        make_frozen_numbers(args.numbers, cancelled_at)
        vacuum()
        with timed("baseline", results):
            assert baseline(now, args.chunk) == args.numbers
        reset(cancelled_at)
        with timed("sweep", results):
            released = release_sweep(now=now, chunk_size=args.chunk)
        assert released == args.numbers, released
        assert Event.objects.filter(kind="release").count() == args.numbers
        vendor = connection.vendor
    n = args.numbers
    report(f"release sweep, {n:,} frozen numbers, chunks of {args.chunk:,}, on {vendor}", [
        ("baseline: bare UPDATE per chunk", f"{results['baseline']:.2f} s  ({n / results['baseline']:,.0f} rows/s)"),
        ("release_sweep (locks + events)", f"{results['sweep']:.2f} s  ({n / results['sweep']:,.0f} numbers/s)"),
        ("ratio sweep / baseline", f"{results['sweep'] / results['baseline']:.2f}x"),
        ("peak memory of this process", f"{peak_rss_mb():.0f} MB"),
    ])
    record(Result(name=f"release sweep {n:,} numbers", figure=n / results["sweep"], baseline=n / results["baseline"],
                  unit="numbers/s", peak_rss_mb=round(peak_rss_mb(), 1), target=0.5,
                  baseline_label="a bare UPDATE of the same rows per chunk, no events",
                  extra={"seconds": round(results["sweep"], 2), "baseline_seconds": round(results["baseline"], 2)}))


if __name__ == "__main__":
    main()
