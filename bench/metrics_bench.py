"""What a /metrics scrape costs as the delivery history grows.

    DATABASE_URL=postgres://… CELERY_BROKER_URL=redis://… .venv/bin/python bench/metrics_bench.py --deliveries 1000000

In a throwaway database: 240 live platforms, N deliveries of which 1% are open (pending, sent, dead) and the rest
confirmed history, and N/50 batch chunks of which 1% are incomplete. The figure is the gauges' database work
of one scrape (`portal.metrics.gauge_samples`, the partial indexes at work; the broker's queues are not
counted). The baseline, in the same run, is the one query a gauge without those indexes would make: counting
every delivery by platform and state. Both are the median of the repeats, on a warm cache.
"""

import argparse
import statistics
import sys
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from bench.common import report, setup_django, throwaway_database  # noqa: E402

PLATFORMS = 240


def _load(deliveries: int) -> None:
    from django.db import connection
    from django.utils import timezone

    from numbers.models import Operator
    from renewal.models import BatchChunk, Delivery, Platform, RecycleBatch
    from renewal.platforms import crypto

    now = timezone.now()
    secret = crypto.encrypt(crypto.new_signing_secret())
    Platform.objects.bulk_create([Platform(name=f"Platform {i:03d}", category="payment", status="live",
                                           signing_secret_encrypted=secret) for i in range(PLATFORMS)])
    ids = list(Platform.objects.values_list("id", flat=True))
    operator = Operator.objects.create(code="CMCC", name="China Mobile", coverage_start=now.date())
    batch = RecycleBatch.objects.create(operator=operator, created_at=now, size=0)
    chunks = max(1, deliveries // 50)
    with connection.cursor() as cursor:
        with cursor.copy(f"COPY {BatchChunk._meta.db_table} (batch_id, seq, size, deliveries_total, "
                         "deliveries_done) FROM STDIN") as copy:
            for seq in range(chunks):
                copy.write_row((batch.pk, seq, 1000, PLATFORMS, PLATFORMS - (1 if seq % 100 == 0 else 0)))
        states = ["pending", "sent", "dead"]
        with cursor.copy(f"COPY {Delivery._meta.db_table} (id, event, platform_id, state, attempts, last_error, "
                         "created_at, priority) FROM STDIN") as copy:
            for i in range(deliveries):
                state = states[i % 3] if i % 100 == 0 else "confirmed"
                copy.write_row((f"{i:032x}", "unbind.request", ids[i % PLATFORMS], state, 1, "", now, 0))
        cursor.execute("ANALYZE")


def _median(fn, repeat: int) -> float:
    times = []
    for _ in range(repeat):
        started = time.perf_counter()
        fn()
        times.append(time.perf_counter() - started)
    return statistics.median(times)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--deliveries", type=int, default=1_000_000)
    parser.add_argument("--repeat", type=int, default=7)
    args = parser.parse_args()
    setup_django()
    from django.db import connection
    from django.test.utils import CaptureQueriesContext

    from portal import metrics

    metrics._queues = lambda: iter(())  # the broker is not what is measured here
    with throwaway_database():
        started = time.perf_counter()
        _load(args.deliveries)
        load_seconds = time.perf_counter() - started

        def gauges():
            metrics.cache.delete(metrics.CACHE_KEY)
            metrics.gauge_samples()

        def baseline():
            with connection.cursor() as cursor:
                cursor.execute("SELECT platform_id, state, COUNT(*) FROM renewal_delivery GROUP BY 1, 2")
                cursor.fetchall()

        gauges(), baseline()  # warm
        with CaptureQueriesContext(connection) as queries:
            gauges()
        figure = _median(gauges, args.repeat)
        base = _median(baseline, args.repeat)
    report(f"/metrics gauges over {args.deliveries:,} deliveries ({args.deliveries // 100:,} open), "
           f"{PLATFORMS} platforms", [
               ("load", f"{load_seconds:.1f} s"),
               ("gauges of one scrape (figure)", f"{figure * 1000:.1f} ms, {len(queries)} queries"),
               ("count every delivery (baseline)", f"{base * 1000:.1f} ms, 1 query"),
               ("ratio baseline / figure", f"{base / figure:.1f} (above 1: a scrape costs less than a count)"),
           ])


if __name__ == "__main__":
    main()
