"""Benchmark of the reassignment queries on PostgreSQL: the API against its bare SQL, and under gunicorn.

    DATABASE_URL=postgres://postgres@127.0.0.1:5432/portal_w14_scratch .venv/bin/python bench/query_bench.py \
        --numbers 1000000

On a scratch database (its number tables are emptied first) it loads, set-based: 3 operators and --numbers
numbers (hashed in SQL as the inventory import does), a closed holding (a disconnection in the last two years)
for 30 % of them, a port for 5 %. Then:
  * 1,000-item calls (half in clear, half hashed, `since` spread over two years) through the real view
    (Django's test client: authentication, throttling, parsing, normalising, answering, the audit row), the
    median and p99 per call and items/s; beside them, in the same run, the answering SQL alone through psycopg on
    the same, pre-normalised items (target: the API at ≥ 0.5× its items/s), and a bare `msisdn = ANY(...)`
    lookup of the same numbers (for information);
  * one-item calls at c=8 and c=32 under gunicorn (2 workers, persistent connections) against a bare DRF view
    with the same authentication and throttling that does one indexed lookup (target ≥ 0.7× its requests/s).
"""

import argparse
import http.client
import json
import os
import random
import statistics
import subprocess
import sys
import threading
import time
from datetime import date, timedelta
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

LOAD = [
    "TRUNCATE renewal_reassignmentquerycall, numbers_event, numbers_holderperiod, numbers_phonenumber, "
    "numbers_operator CASCADE",
    "INSERT INTO numbers_operator (code, name, coverage_start, country) VALUES "
    "('QA', 'Bench A', '2020-01-01', 'CN'), ('QB', 'Bench B', '2020-01-01', 'CN'), "
    "('QC', 'Bench C', '2025-01-01', 'CN')",
    "CREATE TEMP TABLE gen AS SELECT i, random() AS r, random() AS t FROM generate_series(0, {n} - 1) AS i",
    "INSERT INTO numbers_phonenumber (msisdn, msisdn_sha256, range_holder_id, serving_operator_id, state, "
    "suspended_from, is_secondary, cancelled_at, frozen_until, updated_at) "
    "SELECT m, encode(sha256(convert_to(m, 'UTF8')), 'hex'), o.id, o.id, "
    "CASE WHEN r < 0.30 THEN 'frozen' ELSE 'active' END, '', false, "
    "CASE WHEN r < 0.30 THEN now() - t * interval '730 days' END, "
    "CASE WHEN r < 0.30 THEN now() - t * interval '730 days' + interval '90 days' END, now() "
    "FROM (SELECT i, r, t, '+8613' || lpad(i::text, 9, '0') AS m FROM gen) AS g "
    "JOIN numbers_operator AS o ON o.code = (ARRAY['QA', 'QB', 'QC'])[i % 3 + 1] ORDER BY i",
    "INSERT INTO numbers_holderperiod (number_id, operator_id, started_at, ended_at, customer_ref, "
    "requires_disclosure) SELECT id, range_holder_id, COALESCE(cancelled_at, now()) - interval '700 days', "
    "cancelled_at, CASE WHEN cancelled_at IS NULL THEN 'C' ELSE '' END, false FROM numbers_phonenumber ORDER BY id",
    "UPDATE numbers_phonenumber AS n SET cycle_id = hp.id FROM numbers_holderperiod AS hp "
    "WHERE hp.number_id = n.id AND hp.ended_at IS NOT NULL",
    "INSERT INTO numbers_event (number_id, kind, from_state, to_state, actor, reason, detail, at, recorded_at) "
    "SELECT id, 'port_out', 'active', 'active', 'bench', '', "
    "jsonb_build_object('from_operator', 'QC', 'to_operator', 'QA'), now() - (id % 700) * interval '1 day', now() "
    "FROM numbers_phonenumber WHERE state = 'active' AND id % 20 = 0",
    "ANALYZE",
]


def load(numbers: int) -> float:
    from django.db import connection

    start = time.perf_counter()
    with connection.cursor() as cursor:
        for statement in LOAD:
            cursor.execute(statement.format(n=int(numbers)))
    return time.perf_counter() - start


def quantile(values: list[float], q: float) -> float:
    values = sorted(values)
    return values[min(len(values) - 1, int(q * len(values)))]


def items_for(rng: random.Random, numbers: int, count: int) -> list[dict]:
    from numbers.phone import msisdn_sha256

    today = date.today()
    out = []
    for k in range(count):
        msisdn = f"+8613{rng.randrange(numbers):09d}"
        since = (today - timedelta(days=rng.randrange(1, 800))).isoformat()
        out.append({"msisdn": msisdn, "since": since} if k % 2 else
                   {"msisdn_sha256": msisdn_sha256(msisdn), "since": since})
    return out


def batch_calls(args, key: str, dsn: str) -> None:
    import psycopg
    from django.test import Client

    from bench.common import Result, peak_rss_mb, record
    from numbers import reassignment

    rng = random.Random(14)
    calls = [items_for(rng, args.numbers, 1000) for _ in range(args.calls)]
    client = Client()
    headers = {"HTTP_AUTHORIZATION": f"Bearer {key}"}

    def api(items):
        response = client.post("/api/v1/reassignment-queries", json.dumps({"items": items}),
                               content_type="application/json", **headers)
        assert response.status_code == 200, response.content[:300]

    api(calls[0])  # warm-up
    api_times = []
    for items in calls:
        start = time.perf_counter()
        api(items)
        api_times.append(time.perf_counter() - start)
    sql_times, any_times = [], []
    with psycopg.connect(dsn, autocommit=True) as bare:
        bare.execute("SET jit = off")
        for items in calls:  # pre-normalised: the parameters the view would bind
            params = reassignment.postgres_params([reassignment.Question(
                since=date.fromisoformat(i["since"]), msisdn=i.get("msisdn"), sha256=i.get("msisdn_sha256"))
                for i in items])
            start = time.perf_counter()
            bare.execute(reassignment._POSTGRES, params).fetchall()
            sql_times.append(time.perf_counter() - start)
            msisdns = [i.get("msisdn") or f"+8613{rng.randrange(args.numbers):09d}" for i in items]
            start = time.perf_counter()
            bare.execute("SELECT id, msisdn FROM numbers_phonenumber WHERE msisdn = ANY(%s)", [msisdns]).fetchall()
            any_times.append(time.perf_counter() - start)
    api_rate, sql_rate, any_rate = (1000 / statistics.median(t) for t in (api_times, sql_times, any_times))
    print(f"\n1,000-item calls ({len(calls)}):  p50 / p99 ms")
    for label, times in (("API (test client)", api_times), ("answering SQL (psycopg)", sql_times),
                         ("bare = ANY lookup", any_times)):
        print(f"  {label:<26} {statistics.median(times) * 1000:8.1f} {quantile(times, 0.99) * 1000:8.1f}"
              f"   {1000 / statistics.median(times):,.0f} items/s")
    record(Result("reassignment queries: 1,000-item calls", api_rate, sql_rate, "items/s", target=0.5,
                  peak_rss_mb=peak_rss_mb(), baseline_label="the same answering SQL through psycopg, pre-normalised",
                  extra={"p50_ms": statistics.median(api_times) * 1000, "p99_ms": quantile(api_times, 0.99) * 1000,
                         "sql_p50_ms": statistics.median(sql_times) * 1000,
                         "sql_p99_ms": quantile(sql_times, 0.99) * 1000, "any_items_per_s": any_rate,
                         "any_p50_ms": statistics.median(any_times) * 1000, "numbers": args.numbers}))


def load_run(port: int, path: str, bodies: list[bytes], key: str, concurrency: int, seconds: float) -> list[float]:
    """`concurrency` keep-alive clients POSTing for `seconds`; return each request's latency."""
    latencies: list[float] = []
    lock = threading.Lock()
    stop = time.monotonic() + seconds

    def client(n: int) -> None:
        conn = http.client.HTTPConnection("127.0.0.1", port, timeout=30)
        mine = []
        k = n
        while time.monotonic() < stop:
            body = bodies[k % len(bodies)]
            k += concurrency
            start = time.perf_counter()
            conn.request("POST", path, body, {"Authorization": f"Bearer {key}", "Content-Type": "application/json"})
            response = conn.getresponse()
            response.read()
            assert response.status == 200, response.status
            mine.append(time.perf_counter() - start)
        conn.close()
        with lock:
            latencies.extend(mine)

    threads = [threading.Thread(target=client, args=(n,)) for n in range(concurrency)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    return latencies


def served(args, key: str) -> None:
    from bench.common import Result, record

    port = args.port
    # DEBUG as the other benchmarks' servers run (no production secrets here); the same for both views.
    env = {**os.environ, "DEBUG": "true", "CONN_MAX_AGE": "600", "RENEWAL_API_RATE": "100000000/min",
           "DJANGO_SETTINGS_MODULE": "portal.settings",
           "CACHE_URL": os.environ.get("CACHE_URL", "redis://127.0.0.1:6379/1")}
    server = subprocess.Popen([sys.executable, "-m", "gunicorn", "bench.query_wsgi:application", "-w", "2",
                               "-b", f"127.0.0.1:{port}", "--log-level", "warning"], cwd=ROOT, env=env)
    try:
        deadline = time.monotonic() + 60
        while True:
            try:
                http.client.HTTPConnection("127.0.0.1", port, timeout=2).request("GET", "/api/v1/health/live")
                break
            except OSError:
                if time.monotonic() > deadline:
                    raise
                time.sleep(0.3)
        rng = random.Random(8)
        bodies = [json.dumps({"items": items_for(rng, args.numbers, 1)}).encode() for _ in range(2000)]
        load_run(port, "/bench/bare-lookup", bodies, key, 4, 2)  # warm both workers' connections
        load_run(port, "/api/v1/reassignment-queries", bodies, key, 4, 2)
        for concurrency in (8, 32):
            view = load_run(port, "/api/v1/reassignment-queries", bodies, key, concurrency, args.seconds)
            bare = load_run(port, "/bench/bare-lookup", bodies, key, concurrency, args.seconds)
            rate, base = len(view) / args.seconds, len(bare) / args.seconds
            print(f"one-item calls c={concurrency}: API {rate:,.0f}/s p50 {statistics.median(view) * 1000:.1f} ms "
                  f"p99 {quantile(view, 0.99) * 1000:.1f} ms; bare view {base:,.0f}/s "
                  f"p50 {statistics.median(bare) * 1000:.1f} ms p99 {quantile(bare, 0.99) * 1000:.1f} ms")
            record(Result(f"reassignment queries: one-item calls, c={concurrency}, gunicorn 2 workers", rate, base,
                          "requests/s", target=0.7,
                          baseline_label="a bare DRF view, same auth and throttling, one indexed lookup",
                          extra={"p50_ms": statistics.median(view) * 1000, "p99_ms": quantile(view, 0.99) * 1000,
                                 "bare_p50_ms": statistics.median(bare) * 1000,
                                 "bare_p99_ms": quantile(bare, 0.99) * 1000}))
    finally:
        server.terminate()
        server.wait(timeout=30)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--numbers", type=int, default=1_000_000)
    parser.add_argument("--calls", type=int, default=30, help="1,000-item calls to time")
    parser.add_argument("--seconds", type=float, default=10, help="each gunicorn run's length")
    parser.add_argument("--port", type=int, default=8497)
    parser.add_argument("--no-load", action="store_true", help="keep the data of the previous run")
    args = parser.parse_args()
    url = os.environ.get("DATABASE_URL", "")
    if not url.startswith("postgres"):
        sys.exit("Set DATABASE_URL to a scratch PostgreSQL database (its number tables are emptied).")
    env = {**os.environ, "DEBUG": "true"}
    subprocess.run([sys.executable, "manage.py", "migrate", "-v0"], env=env, cwd=ROOT, check=True)
    from bench.common import setup_django

    os.environ["DEBUG"] = "true"
    setup_django()
    from django.conf import settings

    from renewal.models import Platform, PlatformKind, PlatformStatus
    from renewal.platforms import services

    settings.ALLOWED_HOSTS = ["*"]
    settings.RENEWAL_API_RATE = "100000000/min"
    seconds = 0.0 if args.no_load else load(args.numbers)
    print(f"loaded {args.numbers:,} numbers in {seconds:.0f} s")
    site = Platform.objects.filter(name="bench query site").first() or services.platform_create(
        name="bench query site", category="other", kind=PlatformKind.QUERY_ONLY, status=PlatformStatus.LIVE)
    key = services.api_key_create(platform=site, name="bench")[1]
    dsn = url.replace("postgres://", "postgresql://", 1)
    batch_calls(args, key, dsn)
    served(args, key)


if __name__ == "__main__":
    main()
