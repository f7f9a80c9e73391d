"""Benchmark the inventory load and the cancellation feed on PostgreSQL against same-run psycopg baselines.

    DATABASE_URL=postgres://postgres@127.0.0.1:5432/portal_w19_scratch .venv/bin/python bench/feed_bench.py \\
        --sizes 100000 1000000 --reset

For each size N it generates (in --workdir, never committed) realistic files: N numbers spread at random over the
real mobile segments, half written nationally (`13800138000`) and half in E.164 (`+8613800138000`), in no order.
The inventory is 98 % active, 1 % never used, 1 % frozen; the feed has a line per number (cancellations, 10 %
ports) and about 3 % bad lines (unknown numbers, numbers that are not active, unparsable numbers, future times,
unknown operators, conflicting pairs). Then, each step in its own process measured with wait4 (wall time, peak
RSS, CPU):
  1. baseline for the inventory (psycopg, no Django): COPY the file into a staging table, INSERT the numbers and
     their holder periods set-based, in one transaction (rolled back, so the product then loads the same file);
  2. import_numbers FILE;
  3. baseline for the feed (psycopg, no Django): COPY the file into staging, UPDATE the numbers and their open
     holder periods set-based, one event per number, in one transaction (rolled back);
  4. import_cancellations FILE --report; 5. the same feed again (every line already applied).
It records lines/s against each baseline and the peak RSS, and compares the largest size's memory to the
smallest's (flat memory: within 20 %). --reset TRUNCATEs the number tables first: a scratch database only.
"""

import argparse
import csv
import os
import random
import sys
import time
from datetime import datetime, timedelta
from pathlib import Path
from urllib.parse import urlsplit

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))
from bench.common import BackendCpu, Result, measure, random_numbers, record  # noqa: E402

OPERATOR, OTHER = "BENCHA", "BENCHB"
TARGET = 0.5

INVENTORY_BASELINE = """
import sys, psycopg
conn = psycopg.connect(sys.argv[1])
conn.execute("SET TIME ZONE 'Asia/Shanghai'")
op = conn.execute("SELECT id FROM numbers_operator WHERE code = %s", [sys.argv[3]]).fetchone()[0]
conn.execute("CREATE TEMP TABLE raw (msisdn text, state text, holder_since text, cancelled_at text)")
with conn.cursor().copy("COPY raw FROM STDIN (FORMAT csv, HEADER true)") as copy, open(sys.argv[2], "rb") as f:
    while block := f.read(1 << 16):
        copy.write(block)
e164 = "CASE WHEN left(raw.msisdn, 1) = '+' THEN raw.msisdn ELSE '+86' || raw.msisdn END"
conn.execute(
    "INSERT INTO numbers_phonenumber (msisdn, range_holder_id, serving_operator_id, state, suspended_from, "
    "is_secondary, cancelled_at, frozen_until, released_at, updated_at) "
    f"SELECT {e164}, %(op)s, %(op)s, state, '', false, nullif(cancelled_at, '')::timestamptz, "
    "nullif(cancelled_at, '')::timestamptz + interval '90 days', NULL, now() FROM raw", {"op": op})
conn.execute(
    "INSERT INTO numbers_holderperiod (number_id, operator_id, started_at, ended_at, customer_ref, "
    "requires_disclosure) SELECT n.id, %(op)s, nullif(raw.holder_since, '')::timestamptz, "
    "nullif(raw.cancelled_at, '')::timestamptz, '', false FROM raw JOIN numbers_phonenumber AS n "
    f"ON n.msisdn = {e164} WHERE raw.state <> 'available'", {"op": op})
conn.rollback()
"""

FEED_BASELINE = """
import sys, psycopg
conn = psycopg.connect(sys.argv[1])
conn.execute("SET TIME ZONE 'Asia/Shanghai'")
conn.execute("CREATE TEMP TABLE raw (msisdn text, cancelled_at text, reason text, to_operator text)")
with conn.cursor().copy("COPY raw FROM STDIN (FORMAT csv, HEADER true)") as copy, open(sys.argv[2], "rb") as f:
    while block := f.read(1 << 16):
        copy.write(block)
conn.execute(
    "CREATE TEMP TABLE s AS SELECT DISTINCT ON (n.id) n.id AS number_id, raw.cancelled_at::timestamptz AS at, "
    "coalesce(nullif(raw.reason, ''), 'cancel') AS reason, raw.to_operator FROM raw JOIN numbers_phonenumber AS n "
    "ON n.msisdn = CASE WHEN left(raw.msisdn, 1) = '+' THEN raw.msisdn ELSE '+86' || raw.msisdn END "
    "WHERE n.state = 'active' ORDER BY n.id")
conn.execute(
    "UPDATE numbers_phonenumber AS n SET state = 'frozen', serving_operator_id = n.range_holder_id, "
    "cancelled_at = s.at, frozen_until = s.at + interval '90 days', cycle_id = hp.id, updated_at = now() "
    "FROM s, numbers_holderperiod AS hp WHERE n.id = s.number_id AND s.reason = 'cancel' "
    "AND hp.number_id = n.id AND hp.ended_at IS NULL")
conn.execute(
    "UPDATE numbers_holderperiod AS hp SET ended_at = s.at, customer_ref = '' FROM s "
    "WHERE hp.number_id = s.number_id AND hp.ended_at IS NULL AND s.reason = 'cancel'")
conn.execute(
    "UPDATE numbers_phonenumber AS n SET serving_operator_id = o.id, updated_at = now() FROM s, numbers_operator o "
    "WHERE n.id = s.number_id AND s.reason = 'port_out' AND o.code = s.to_operator")
conn.execute(
    "INSERT INTO numbers_event (number_id, kind, from_state, to_state, actor, reason, detail, at, recorded_at) "
    "SELECT s.number_id, s.reason, 'active', n.state, 'baseline', '', jsonb_build_object('operator', %s, "
    "'frozen_until', n.frozen_until), s.at, now() FROM s JOIN numbers_phonenumber AS n ON n.id = s.number_id",
    [sys.argv[3]])
conn.rollback()
"""


def written(number: str, rng: random.Random) -> str:
    """Half the lines national, half E.164."""
    return number if rng.random() < 0.5 else "+86" + number


def generate(workdir: Path, n: int, seed: int = 19) -> tuple[Path, Path, int]:
    rng = random.Random(seed)
    now = datetime.now()
    numbers = random_numbers(n + n // 100, seed)
    known, unknown = numbers[:n], numbers[n:]
    inventory, feed = workdir / f"inventory-{n}.csv", workdir / f"cancellations-{n}.csv"
    states = []
    with open(inventory, "w", newline="") as f:
        w = csv.writer(f)
        w.writerow(["msisdn", "state", "holder_since", "cancelled_at"])
        for number in known:
            roll = rng.random()
            if roll < 0.01:
                w.writerow([written(number, rng), "available", "", ""])
                states.append("a")
            elif roll < 0.02:
                at = now - timedelta(days=rng.randrange(1, 80), seconds=rng.randrange(86400))
                w.writerow([written(number, rng), "frozen", "", at.isoformat(timespec="seconds")])
                states.append("f")
            else:
                since = now - timedelta(days=rng.randrange(30, 3000), seconds=rng.randrange(86400))
                w.writerow([written(number, rng), "active", since.isoformat(timespec="seconds"), ""])
                states.append("x")
    order = list(range(n))
    rng.shuffle(order)  # the feed lists the numbers in no particular order
    bad = 0
    with open(feed, "w", newline="") as f:
        w = csv.writer(f)
        w.writerow(["msisdn", "cancelled_at", "reason", "to_operator"])
        for i in order:
            number = written(known[i], rng)
            at = (now - timedelta(days=1, seconds=rng.randrange(86400))).isoformat(timespec="seconds")
            roll = rng.random()
            if states[i] != "x":
                bad += 1  # not_active
            if roll < 0.004:
                w.writerow([written(unknown[i % len(unknown)], rng), at, "", ""])  # unknown_number
                bad += states[i] == "x"
            elif roll < 0.006:
                w.writerow([f"12-{i}" if roll < 0.005 else f"12{i:09d}"[:11], at, "", ""])  # invalid_msisdn
                bad += states[i] == "x"
            elif roll < 0.008:
                w.writerow([number, (now + timedelta(days=2)).isoformat(timespec="seconds"), "", ""])  # future_time
                bad += states[i] == "x"
            elif roll < 0.009:
                w.writerow([number, at, "port_out", "NOSUCH"])  # unknown_operator
                bad += states[i] == "x"
            elif roll < 0.010:
                w.writerow([number, at, "", ""])  # a conflicting pair
                w.writerow([number, (now - timedelta(days=3)).isoformat(timespec="seconds"), "", ""])
                bad += 1 + (states[i] == "x")
            elif roll < 0.11:
                w.writerow([number, at, "port_out", OTHER])
            else:
                w.writerow([number, at, "", ""])
    return inventory, feed, bad


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--sizes", type=int, nargs="+", default=[100_000, 1_000_000])
    parser.add_argument("--workdir", type=Path, default=Path("/tmp/feed-bench"))
    parser.add_argument("--reset", action="store_true", help="TRUNCATE the number tables first (scratch DB only)")
    parser.add_argument("--no-baselines", action="store_true", help="the product only (the national day)")
    args = parser.parse_args()
    url = os.environ.get("DATABASE_URL", "")
    if not url.startswith("postgres"):
        sys.exit("Set DATABASE_URL to a PostgreSQL database (a scratch one: --reset empties its number tables).")
    env = {**os.environ, "DEBUG": "true", "DJANGO_SETTINGS_MODULE": "portal.settings", "LOG_LEVEL": "WARNING"}
    env.pop("PYTEST_CURRENT_TEST", None)
    args.workdir.mkdir(parents=True, exist_ok=True)
    py = sys.executable
    manage = [py, "manage.py"]
    measure([*manage, "migrate", "-v0"], env, ok=(0,))

    import psycopg

    dsn = url.replace("postgres://", "postgresql://", 1)
    database = urlsplit(dsn).path.lstrip("/")
    runs = {}
    for n in args.sizes:
        with psycopg.connect(dsn, autocommit=True) as conn:
            if args.reset:
                conn.execute("TRUNCATE numbers_event, numbers_holderperiod, numbers_riskmark, numbers_disclosure, "
                             "numbers_declinedoffer, numbers_feedupload, numbers_phonenumber RESTART IDENTITY CASCADE")
            elif conn.execute("SELECT EXISTS (SELECT 1 FROM numbers_phonenumber)").fetchone()[0]:
                sys.exit("The database holds numbers already: use --reset (on a scratch database).")
            for code in (OPERATOR, OTHER):
                conn.execute("INSERT INTO numbers_operator (code, name, coverage_start) VALUES (%s, %s, '2020-01-01') "
                             "ON CONFLICT (code) DO NOTHING", [code, f"bench {code}"])
        t0 = time.perf_counter()
        inventory, feed, bad = generate(args.workdir, n)
        print(f"\n{n:,} lines: the two files generated in {time.perf_counter() - t0:.1f} s; running…", flush=True)

        def vacuum() -> None:
            with psycopg.connect(dsn, autocommit=True) as conn:
                conn.execute("VACUUM ANALYZE numbers_phonenumber")
                conn.execute("VACUUM ANALYZE numbers_holderperiod")
                conn.execute("VACUUM ANALYZE numbers_event")

        def step(argv: list[str]) -> tuple[float, float, float, float]:
            with BackendCpu(dsn, database) as db:
                seconds, rss, cpu = measure(argv, env)
            return seconds, rss, cpu, db.seconds

        steps = {}
        if not args.no_baselines:
            steps["inventory baseline"] = step([py, "-c", INVENTORY_BASELINE, dsn, str(inventory), OPERATOR])
            vacuum()
        steps["import_numbers"] = step([*manage, "import_numbers", str(inventory), "--operator", OPERATOR])
        vacuum()
        if not args.no_baselines:
            steps["feed baseline"] = step([py, "-c", FEED_BASELINE, dsn, str(feed), OPERATOR])
            vacuum()
        report = args.workdir / f"report-{n}.csv"
        steps["import_cancellations"] = step([*manage, "import_cancellations", str(feed), "--operator", OPERATOR,
                                              "--report", str(report)])
        steps["import_cancellations again"] = step([*manage, "import_cancellations", str(feed), "--operator",
                                                    OPERATOR])
        reported = sum(1 for line in open(report) if not line.startswith("#")) - 1
        print(f"{'step':<28} {'seconds':>8} {'lines/s':>9} {'peak MB':>8} {'CPU s':>6} {'DB CPU s':>8}")
        for name, (s, mb, cpu, db_cpu) in steps.items():
            print(f"{name:<28} {s:>8.1f} {n / s:>9,.0f} {mb:>8.0f} {cpu:>6.1f} {db_cpu:>8.1f}")
        print(f"bad lines written: {bad:,}; rejected lines in the report: {reported:,}", flush=True)
        runs[n] = steps
        for name, product, baseline, label in (
            ("inventory", "import_numbers", "inventory baseline",
             "psycopg: COPY, INSERT numbers and holder periods, one transaction"),
            ("feed", "import_cancellations", "feed baseline",
             "psycopg: COPY, UPDATE numbers and open holder periods, one event per number, one transaction"),
        ):
            s, rss, cpu, db_cpu = steps[product]
            base = steps.get(baseline)
            record(Result(
                name=f"{name} {n:,} lines", figure=n / s, baseline=n / base[0] if base else None, unit="lines/s",
                peak_rss_mb=round(rss, 1), target=TARGET, baseline_label=label,
                extra={"seconds": round(s, 2), "cpu_s_per_1000_lines": round(cpu / n * 1000, 4),
                       # The same comparison in CPU-seconds (this process and PostgreSQL's), which a busy machine
                       # disturbs less than wall time.
                       "cpu_ratio": round((base[2] + base[3]) / (cpu + db_cpu), 3) if base else None,
                       "db_cpu_s_per_1000_lines": round(db_cpu / n * 1000, 4),
                       "db_cpu_share": round(db_cpu / (cpu + db_cpu), 3) if cpu + db_cpu else None,
                       "baseline_seconds": round(base[0], 2) if base else None}))
        again = steps["import_cancellations again"]
        print(f"the same feed again (all already applied): {n / again[0]:,.0f} lines/s", flush=True)
    if len(runs) > 1:
        small, large = min(runs), max(runs)
        for name, product in (("inventory", "import_numbers"), ("feed", "import_cancellations")):
            growth = runs[large][product][1] / runs[small][product][1]
            record(Result(
                name=f"{name} memory, {large:,} vs {small:,} lines", figure=growth, baseline=1.2, unit="x peak RSS",
                higher_is_better=False, target=1.0, baseline_label="at most 1.2x the smaller run's",
                peak_rss_mb=round(runs[large][product][1], 1)))


if __name__ == "__main__":
    main()
