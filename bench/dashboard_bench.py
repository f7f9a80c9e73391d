"""Benchmark of the compliance dashboard on PostgreSQL: the whole page against the bare SQL of its sections.

    DATABASE_URL=postgres://postgres@127.0.0.1:5432/portal_w18_scratch .venv/bin/python bench/dashboard_bench.py \
        --numbers 1000000 --platforms 240

On a scratch database (its tables are emptied first) it loads, set-based: 3 operators with 10 outlets each,
--numbers numbers (40 % never used, 25 % active, 23 % frozen, 12 % released), their holdings and events
(imports, allocations, cancellations, releases), --platforms live platforms, a recycle batch of every frozen
number pushed to every platform (deliveries in every state), 2,000 unbind requests to every platform, 2,000
harassment reports, 10,000 risk marks, and 30 days of daily snapshots (back-filled from the events). Then:
  * the page: GET /admin/dashboard/ as the regulator through Django's test client (default range: 30 days),
    the median of --repeat runs after one warm-up;
  * the baseline, in the same run: every SQL statement each section runs (captured from the section itself),
    replayed with a bare psycopg connection, the median of --repeat runs each, summed.
It prints each section's figures and the ratio baseline / page (the target: at least 0.5).
"""

import argparse
import os
import statistics
import subprocess
import sys
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

TABLES = ("renewal_unbindtask, renewal_unbindrequest, renewal_evidence, renewal_harassmentreport, "
          "renewal_delivery, renewal_batchentry, renewal_batchchunk, renewal_recyclebatch, renewal_platform, "
          "numbers_dailysnapshot, numbers_event, numbers_riskmark, numbers_declinedoffer, numbers_holderperiod, "
          "numbers_disclosure, numbers_phonenumber, numbers_staffprofile, numbers_outlet, numbers_operator")

LOAD = [
    "INSERT INTO numbers_operator (code, name, coverage_start, country) VALUES "
    "('DA', 'Bench A', '2020-01-01', 'CN'), ('DB', 'Bench B', '2020-01-01', 'CN'), "
    "('DC', 'Bench C', '2020-01-01', 'CN')",
    "INSERT INTO numbers_outlet (operator_id, code, name, address) SELECT o.id, o.code || '-' || i, "
    "'门店 ' || o.code || ' ' || i, '' FROM numbers_operator AS o, generate_series(1, 10) AS i ORDER BY o.id, i",
    "CREATE TEMP TABLE first_outlet AS SELECT operator_id, MIN(id) AS id FROM numbers_outlet GROUP BY operator_id",
    # numbers: r decides the state; the operator by i mod 3
    "CREATE TEMP TABLE gen AS SELECT i, random() AS r, random() AS t FROM generate_series(0, {n} - 1) AS i",
    "INSERT INTO numbers_phonenumber (msisdn, range_holder_id, serving_operator_id, state, suspended_from, "
    "is_secondary, cancelled_at, frozen_until, released_at, updated_at) "
    "SELECT '+8613' || lpad(i::text, 9, '0'), o.id, o.id, "
    "CASE WHEN r < 0.40 THEN 'available' WHEN r < 0.65 THEN 'active' WHEN r < 0.88 THEN 'frozen' "
    "ELSE 'available' END, '', r >= 0.88, "
    "CASE WHEN r >= 0.65 AND r < 0.88 THEN now() - t * interval '60 days' "
    "WHEN r >= 0.88 THEN now() - interval '95 days' - t * interval '60 days' END, "
    "CASE WHEN r >= 0.65 AND r < 0.88 THEN now() - t * interval '60 days' + interval '90 days' "
    "WHEN r >= 0.88 THEN now() - interval '5 days' - t * interval '60 days' END, "
    "CASE WHEN r >= 0.88 THEN now() - interval '4 days' - t * interval '60 days' END, now() "
    "FROM gen JOIN numbers_operator AS o ON o.code = (ARRAY['DA', 'DB', 'DC'])[i % 3 + 1] ORDER BY i",
    # holdings: open for the active numbers (sold at an outlet), closed for the frozen and released ones
    "INSERT INTO numbers_holderperiod (number_id, operator_id, started_at, ended_at, customer_ref, "
    "requires_disclosure, outlet_id) SELECT n.id, n.range_holder_id, "
    "CASE WHEN n.state = 'active' THEN now() - (n.id % 400) * interval '1 day' "
    "ELSE n.cancelled_at - interval '700 days' END, n.cancelled_at, "
    "CASE WHEN n.state = 'active' THEN 'C' || n.id ELSE '' END, false, "
    "fo.id + n.id % 10 FROM numbers_phonenumber AS n JOIN first_outlet AS fo ON fo.operator_id = n.range_holder_id "
    "WHERE n.state = 'active' OR n.cancelled_at IS NOT NULL ORDER BY n.id",
    "INSERT INTO numbers_disclosure (number_id, outlet_id, staff_id, method, facts, customer_confirmed, recorded_at, "
    "signature) SELECT number_id, outlet_id, {user}, 'spoken', '{{}}', true, started_at, '' FROM numbers_holderperiod "
    "WHERE ended_at IS NULL AND id % 10 = 0",
    "UPDATE numbers_holderperiod AS hp SET requires_disclosure = true, disclosure_id = d.id "
    "FROM numbers_disclosure AS d WHERE d.number_id = hp.number_id AND hp.ended_at IS NULL",
    "UPDATE numbers_phonenumber AS n SET cycle_id = hp.id FROM numbers_holderperiod AS hp "
    "WHERE hp.number_id = n.id AND hp.ended_at IS NOT NULL",
    # events: the inventory import of every number, then each holding's allocation, cancellation, release
    "INSERT INTO numbers_event (number_id, kind, from_state, to_state, actor, reason, detail, at, recorded_at) "
    "SELECT id, 'import', '', state, 'bench', '', '{{}}', now() - interval '800 days', now() "
    "FROM numbers_phonenumber ORDER BY id",
    "INSERT INTO numbers_event (number_id, kind, from_state, to_state, actor, reason, detail, at, recorded_at) "
    "SELECT number_id, 'allocate', 'available', 'active', 'bench', '', '{{}}', started_at, now() "
    "FROM numbers_holderperiod WHERE ended_at IS NULL ORDER BY id",
    "INSERT INTO numbers_event (number_id, kind, from_state, to_state, actor, reason, detail, at, recorded_at) "
    "SELECT id, 'cancel', 'active', 'frozen', 'bench', '', '{{}}', cancelled_at, now() "
    "FROM numbers_phonenumber WHERE cancelled_at IS NOT NULL ORDER BY id",
    "INSERT INTO numbers_event (number_id, kind, from_state, to_state, actor, reason, detail, at, recorded_at) "
    "SELECT id, 'release', 'frozen', 'available', 'bench', '', '{{}}', released_at, now() "
    "FROM numbers_phonenumber WHERE released_at IS NOT NULL ORDER BY id",
    "INSERT INTO numbers_declinedoffer (number_id, outlet_id, staff_id, was_secondary, reason, declined_at) "
    "SELECT n.id, hp.outlet_id, {user}, n.is_secondary, '', now() - (n.id % 30) * interval '1 day' "
    "FROM numbers_phonenumber AS n JOIN numbers_holderperiod AS hp ON hp.number_id = n.id "
    "WHERE hp.ended_at IS NULL AND n.id % 50 = 0",
    "INSERT INTO numbers_riskmark (number_id, cycle_id, category, authority, reference, effect, extra_days, "
    "placed_at, placed_by_id) SELECT id, cycle_id, (ARRAY['fraud', 'harassing_marketing', 'other'])[id % 3 + 1], "
    "'bench', '', 'extend', 30, now() - (id % 30) * interval '1 day', NULL FROM numbers_phonenumber "
    "WHERE state = 'frozen' AND id % 23 = 0 LIMIT 10000",
    # platforms, and one batch of every frozen number per operator, in chunks of 1,000, to every platform
    "INSERT INTO renewal_platform (name, category, kind, webhook_url, status, signing_secret_encrypted, "
    "previous_secret_encrypted, created_at, max_in_flight, support_phone, support_url) "
    "SELECT '平台 ' || lpad(i::text, 3, '0'), 'other', 'application', '', 'live', 'x', '', now(), 8, '', '' "
    "FROM generate_series(1, {platforms}) AS i",
    "INSERT INTO renewal_recyclebatch (operator_id, created_at, size) SELECT id, now() - interval '20 days', 0 "
    "FROM numbers_operator",
    "CREATE TEMP TABLE frozen AS SELECT n.id, n.cycle_id, n.cancelled_at, n.frozen_until, b.id AS batch_id, "
    "(ROW_NUMBER() OVER (PARTITION BY n.range_holder_id ORDER BY n.id) - 1) / 1000 AS seq "
    "FROM numbers_phonenumber AS n JOIN renewal_recyclebatch AS b ON b.operator_id = n.range_holder_id "
    "WHERE n.state = 'frozen'",
    "INSERT INTO renewal_batchchunk (batch_id, seq, size, deliveries_total, deliveries_done) "
    "SELECT batch_id, seq, COUNT(*), {platforms}, 0 FROM frozen GROUP BY batch_id, seq",
    "INSERT INTO renewal_batchentry (number_id, cycle_id, chunk_id, disconnected_at, release_not_before) "
    "SELECT f.id, f.cycle_id, c.id, f.cancelled_at, f.frozen_until FROM frozen AS f "
    "JOIN renewal_batchchunk AS c ON c.batch_id = f.batch_id AND c.seq = f.seq ORDER BY f.id",
    "INSERT INTO renewal_delivery (id, event, platform_id, operator_id, chunk_id, state, attempts, next_attempt_at, "
    "last_error, created_at, sent_at, confirmed_at, priority) SELECT gen_random_uuid(), 'recycled_numbers.batch', "
    "p.id, b.operator_id, c.id, CASE WHEN (p.id + c.id) % 20 = 0 THEN 'dead' WHEN (p.id + c.id) % 20 = 1 THEN 'sent' "
    "WHEN (p.id + c.id) % 20 = 2 THEN 'pending' ELSE 'confirmed' END, 1, NULL, '', "
    "now() - interval '20 days' + (c.seq % 15) * interval '1 day', "
    "now() - interval '20 days' + (c.seq % 15) * interval '1 day', "
    "CASE WHEN (p.id + c.id) % 20 > 2 THEN now() - interval '20 days' + (c.seq % 15) * interval '1 day' "
    "+ (p.id % 48) * interval '1 hour' END, 1 FROM renewal_batchchunk AS c "
    "JOIN renewal_recyclebatch AS b ON b.id = c.batch_id, renewal_platform AS p",
    "UPDATE renewal_batchchunk AS c SET deliveries_done = (SELECT COUNT(*) FROM renewal_delivery AS d "
    "WHERE d.chunk_id = c.id AND d.state IN ('confirmed', 'cancelled'))",
    # unbind requests of active numbers to every platform, and harassment reports
    "INSERT INTO renewal_unbindrequest (id, number_id, holder_period_id, bound_before, created_at, finished_at, "
    "reference) SELECT gen_random_uuid(), hp.number_id, hp.id, hp.started_at, now() - (hp.id % 30) * interval '1 day', "
    "NULL, 'B' || hp.id "
    "FROM numbers_holderperiod AS hp WHERE hp.ended_at IS NULL ORDER BY hp.id LIMIT 2000",
    "INSERT INTO renewal_unbindtask (id, request_id, platform_id, delivery_id, created_at, deadline_at, result, "
    "accounts, detail, reported_at, reason) SELECT gen_random_uuid(), r.id, p.id, NULL, r.created_at, "
    "r.created_at + interval '1 day', (ARRAY['unbound', 'nothing_bound', 'rejected', 'no_answer', ''])"
    "[(p.id + abs(hashtext(r.id::text))) % 5 + 1], NULL, '', r.created_at + interval '2 hours', "
    "CASE WHEN (p.id + abs(hashtext(r.id::text))) % 5 = 2 THEN 'other' ELSE '' END "
    "FROM renewal_unbindrequest AS r, renewal_platform AS p",
    "INSERT INTO renewal_harassmentreport (reference, number_id, holder_period_id, category, sender, occurred_at, "
    "description, created_at, status, notes, handled_by, retention_hold) SELECT 'HR-B' || r.number_id, r.number_id, "
    "r.holder_period_id, (ARRAY['debt_collection', 'marketing', 'fraud', 'other'])[r.number_id % 4 + 1], '95xxx', "
    "r.created_at, 'bench', r.created_at, 'new', '', '', false FROM renewal_unbindrequest AS r",
    "ANALYZE",
]


def load(numbers: int, platforms: int) -> float:
    from django.db import connection

    from numbers import roles
    from numbers.snapshots import snapshots_backfill, snapshots_take
    from tests.factories import staff_user

    started = time.perf_counter()
    with connection.cursor() as cursor:
        cursor.execute(f"TRUNCATE {TABLES} RESTART IDENTITY CASCADE")
    user = staff_user(role=roles.REGULATOR, username="bench-regulator")
    with connection.cursor() as cursor:
        for sql in LOAD:
            cursor.execute(sql.format(n=numbers, platforms=platforms, user=user.pk))
    snapshots_take()
    snapshots_backfill(days=30)
    return time.perf_counter() - started


def median_time(fn, repeat: int) -> float:
    times = []
    for _ in range(repeat):
        started = time.perf_counter()
        fn()
        times.append(time.perf_counter() - started)
    return statistics.median(times)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--numbers", type=int, default=1_000_000)
    parser.add_argument("--platforms", type=int, default=240)
    parser.add_argument("--repeat", type=int, default=5)
    parser.add_argument("--no-load", action="store_true", help="keep the data of the previous run")
    args = parser.parse_args()
    url = os.environ.get("DATABASE_URL", "")
    if not url.startswith("postgres"):
        sys.exit("Set DATABASE_URL to a scratch PostgreSQL database (its tables are emptied).")
    env = {**os.environ, "DEBUG": "true"}
    subprocess.run([sys.executable, "manage.py", "migrate", "-v0"], env=env, cwd=ROOT, check=True)
    from bench.common import peak_rss_mb, setup_django

    os.environ["DEBUG"] = "true"
    setup_django()
    import psycopg
    from django.conf import settings
    from django.db import connection
    from django.test import Client
    from django.test.utils import CaptureQueriesContext
    from django.urls import reverse

    from numbers.charts import DashboardFilter
    from portal.dashboard import SECTIONS

    settings.ALLOWED_HOSTS = ["*"]
    # The page as a regulator sees it, without the second-factor step of the sign-in (the demo's setting).
    settings.ADMIN_2FA_RELAXED = True
    seconds = 0.0 if args.no_load else load(args.numbers, args.platforms)
    from django.contrib.auth import get_user_model

    client = Client()
    client.force_login(get_user_model().objects.get(username="bench-regulator"))
    page_url = reverse("admin:dashboard")
    assert client.get(page_url).status_code == 200  # warm-up

    page = median_time(lambda: client.get(page_url), args.repeat)
    f = DashboardFilter.last_days(30)
    sections = []
    dsn = url.replace("postgres://", "postgresql://", 1)
    with psycopg.connect(dsn, autocommit=True) as bare:
        bare.execute("SET jit = off")  # as the portal's connections run these statements (plain, short)
        for section in SECTIONS:
            with CaptureQueriesContext(connection) as captured:
                section.compute(f)
            statements = [q["sql"] for q in captured.captured_queries]
            compute = median_time(lambda s=section: s.compute(f), args.repeat)
            sql = sum(median_time(lambda q=q: bare.execute(q).fetchall(), args.repeat) for q in statements)
            sections.append((section.key, len(statements), compute, sql))
    total_sql = sum(s[3] for s in sections)
    with connection.cursor() as cursor:
        cursor.execute("SELECT (SELECT COUNT(*) FROM numbers_phonenumber), (SELECT COUNT(*) FROM numbers_event), "
                       "(SELECT COUNT(*) FROM renewal_platform), (SELECT COUNT(*) FROM renewal_delivery), "
                       "(SELECT COUNT(*) FROM renewal_unbindtask)")
        counts = cursor.fetchone()
    print(f"\nDashboard on PostgreSQL, {os.cpu_count()} cores: {counts[0]:,} numbers, {counts[1]:,} events, "
          f"{counts[2]:,} platforms, {counts[3]:,} deliveries, {counts[4]:,} unbind tasks (loaded in {seconds:.0f} s)")
    print(f"{'section':<22} {'queries':>7} {'compute ms':>11} {'bare SQL ms':>12}")
    for key, n, compute, sql in sections:
        print(f"{key:<22} {n:>7} {compute * 1000:>11.1f} {sql * 1000:>12.1f}")
    print(f"{'the page (GET, median)':<22} {'':>7} {page * 1000:>11.1f} {total_sql * 1000:>12.1f}")
    print(f"ratio (sum of the sections' bare SQL / the page): {total_sql / page:.2f}   peak RSS {peak_rss_mb():.0f} MB")


if __name__ == "__main__":
    main()
