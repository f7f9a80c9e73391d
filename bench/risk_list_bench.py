"""Benchmark of a risk list from the authorities on PostgreSQL: lines/s and peak memory against a psycopg baseline.

    DATABASE_URL=postgres://postgres@127.0.0.1:5432/portal_w18_scratch .venv/bin/python bench/risk_list_bench.py \
        --sizes 100000 1000000 [--feed 100000]

For each size N (on a scratch database: the number tables are emptied first) it loads N + N/10 numbers with
COPY (90 % frozen with a closed holding, 5 % active, 5 % never used), writes a list of N lines in random order
(E.164 and national forms, 1 % unknown numbers, 0.5 % unparsable, 0.5 % repeated lines), then runs, each in
its own process measured with wait4 (wall time, peak RSS):
  1. the baseline: a bare psycopg script that COPYs the list into a staging table and, in one transaction,
     INSERTs one mark per number, UPDATEs `frozen_until` and the state set-based and INSERTs one event per
     changed number (what the product does, without its validation, report, chunks or locks);
  2. `manage.py place_risk_list FILE --effect extend --extra-days 30 --report …` (the task's service).
Then, in the same run, the cancellation feed at --feed lines (bench/feed_bench.py's files) for lines/s beside it.
It prints the figures, the ratio to the baseline, and the peak memory of the largest list to the smallest's.
"""

import argparse
import os
import random
import subprocess
import sys
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from bench.feed_bench import OPERATOR as FEED_OPERATOR  # noqa: E402
from bench.feed_bench import OTHER, generate, measure  # noqa: E402

OPERATOR = "RISKOP"
TRUNCATE = ("TRUNCATE numbers_event, numbers_holderperiod, numbers_riskmark, numbers_disclosure, "
            "numbers_declinedoffer, numbers_feedupload, numbers_risklist, numbers_phonenumber RESTART IDENTITY CASCADE")

LOAD = """
INSERT INTO numbers_phonenumber (msisdn, range_holder_id, serving_operator_id, state, suspended_from, is_secondary,
                                 cancelled_at, frozen_until, released_at, updated_at)
SELECT '+86139' || lpad(i::text, 8, '0'), %(op)s, %(op)s,
       CASE WHEN i %% 20 = 0 THEN 'active' WHEN i %% 20 = 1 THEN 'available' ELSE 'frozen' END, '', false,
       CASE WHEN i %% 20 > 1 THEN now() - interval '10 days' END,
       CASE WHEN i %% 20 > 1 THEN now() + interval '80 days' END, NULL, now()
FROM generate_series(0, %(n)s - 1) AS i;
INSERT INTO numbers_holderperiod (number_id, operator_id, started_at, ended_at, customer_ref, requires_disclosure)
SELECT id, %(op)s, now() - interval '400 days', CASE WHEN state = 'frozen' THEN cancelled_at END, '', false
FROM numbers_phonenumber WHERE state <> 'available' ORDER BY id;
UPDATE numbers_phonenumber AS n SET cycle_id = hp.id FROM numbers_holderperiod AS hp
WHERE hp.number_id = n.id AND n.state = 'frozen';
ANALYZE numbers_phonenumber; ANALYZE numbers_holderperiod;
"""

BASELINE = r"""
import psycopg, sys
conn = psycopg.connect(sys.argv[1])
with conn.transaction():
    conn.execute("CREATE TEMP TABLE stage (line bigserial, msisdn text)")
    with conn.cursor().copy("COPY stage (msisdn) FROM STDIN") as copy, open(sys.argv[2], "rb") as f:
        while (block := f.read(1 << 16)):
            copy.write(block)
    conn.execute("CREATE INDEX ON stage (msisdn)")
    conn.execute("ANALYZE stage")
    conn.execute("UPDATE stage SET msisdn = '+86' || msisdn WHERE msisdn NOT LIKE '+%'")
    conn.execute("CREATE TEMP TABLE hit AS SELECT DISTINCT n.id, n.state, n.cycle_id FROM stage AS s "
                 "JOIN numbers_phonenumber AS n ON n.msisdn = s.msisdn")
    conn.execute("INSERT INTO numbers_riskmark (number_id, cycle_id, category, authority, reference, effect, "
                 "extra_days, placed_at, placed_by_id) SELECT id, cycle_id, 'fraud', 'bench', '', 'extend', 30, "
                 "now(), NULL FROM hit WHERE cycle_id IS NOT NULL ORDER BY id")
    conn.execute("UPDATE numbers_phonenumber AS n SET frozen_until = n.cancelled_at + interval '120 days', "
                 "state = CASE WHEN n.state = 'available' THEN 'frozen' ELSE n.state END, updated_at = now() "
                 "FROM hit WHERE hit.id = n.id AND hit.state <> 'active' AND n.cycle_id IS NOT NULL")
    conn.execute("INSERT INTO numbers_event (number_id, kind, from_state, to_state, actor, reason, detail, at, "
                 "recorded_at) SELECT h.id, 'mark_placed', h.state, n.state, 'bench', 'fraud', "
                 "jsonb_build_object('effect', 'extend', 'extra_days', 30), now(), now() FROM hit AS h "
                 "JOIN numbers_phonenumber AS n ON n.id = h.id WHERE h.cycle_id IS NOT NULL ORDER BY h.id")
"""


def write_list(path: Path, n: int, numbers: int, seed: int = 11) -> int:
    """A list of n lines over the first `numbers` numbers, in random order; return how many lines are bad."""
    rng = random.Random(seed)
    picked = rng.sample(range(numbers), n)
    bad = 0
    with open(path, "w") as f:
        f.write("msisdn\n")
        for k, i in enumerate(picked):
            roll = rng.random()
            if roll < 0.01:
                f.write(f"+86137{i:08d}\n")  # not in the portal
                bad += 1
            elif roll < 0.015:
                f.write(f"12-{i}\n")  # not a number
                bad += 1
            elif roll < 0.02 and k:
                f.write(f"+86139{picked[k - 1]:08d}\n")  # the line before, again
            elif roll < 0.5:
                f.write(f"139{i:08d}\n")  # national
            else:
                f.write(f"+86139{i:08d}\n")
    return bad


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--sizes", type=int, nargs="+", default=[100_000, 1_000_000])
    parser.add_argument("--feed", type=int, default=100_000, help="lines of the feed run beside (0: none)")
    parser.add_argument("--workdir", type=Path, default=Path("/tmp/risk-list-bench"))
    args = parser.parse_args()
    url = os.environ.get("DATABASE_URL", "")
    if not url.startswith("postgres"):
        sys.exit("Set DATABASE_URL to a scratch PostgreSQL database (its number tables are emptied).")
    env = {**os.environ, "DEBUG": "true", "DJANGO_SETTINGS_MODULE": "portal.settings"}
    env.pop("PYTEST_CURRENT_TEST", None)
    args.workdir.mkdir(parents=True, exist_ok=True)
    py, dsn = sys.executable, url.replace("postgres://", "postgresql://", 1)
    subprocess.run([py, "manage.py", "migrate", "-v0"], env=env, cwd=ROOT, check=True)
    subprocess.run([py, "manage.py", "shell", "-c",
                    "from tests.factories import staff_user; from numbers import roles; "
                    "from django.contrib.auth.models import User; "
                    "User.objects.filter(username='bench-regulator').exists() or "
                    "staff_user(role=roles.REGULATOR, username='bench-regulator')"], env=env, cwd=ROOT, check=True)
    import psycopg

    rows = []
    for n in args.sizes:
        with psycopg.connect(dsn, autocommit=True) as conn:
            conn.execute(TRUNCATE)
            op = conn.execute("INSERT INTO numbers_operator (code, name, coverage_start, country) VALUES "
                              "(%s, 'risk bench', '2020-01-01', 'CN') ON CONFLICT (code) DO UPDATE SET name = "
                              "EXCLUDED.name RETURNING id", [OPERATOR]).fetchone()[0]
            started = time.perf_counter()
            conn.execute(LOAD.replace("%(op)s", str(op)).replace("%(n)s", str(n + n // 10)).replace("%%", "%"))
            load = time.perf_counter() - started
        listing = args.workdir / f"list-{n}.txt"
        bad = write_list(listing, n, n + n // 10)
        baseline = measure([py, "-c", BASELINE, dsn, str(listing)], env)
        with psycopg.connect(dsn, autocommit=True) as conn:  # the product starts from the same state
            conn.execute("TRUNCATE numbers_event, numbers_riskmark")
            conn.execute("UPDATE numbers_phonenumber SET frozen_until = cancelled_at + interval '90 days' "
                         "WHERE cycle_id IS NOT NULL")
            conn.execute("VACUUM ANALYZE numbers_phonenumber")
        report = args.workdir / f"report-{n}.csv"
        product = measure([py, "manage.py", "place_risk_list", str(listing), "--regulator", "bench-regulator",
                           "--category", "fraud", "--authority", "bench", "--effect", "extend", "--extra-days", "30",
                           "--report", str(report)], env)
        with psycopg.connect(dsn, autocommit=True) as conn:
            marks, events = (conn.execute(f"SELECT COUNT(*) FROM {t}").fetchone()[0]
                             for t in ("numbers_riskmark", "numbers_event"))
        rejected = sum(1 for line in open(report) if not line.startswith("#")) - 1
        rows.append((n, load, baseline, product, marks, events, bad, rejected))

    feed = None
    if args.feed:
        with psycopg.connect(dsn, autocommit=True) as conn:
            conn.execute(TRUNCATE)
            for code in (FEED_OPERATOR, OTHER):
                conn.execute("INSERT INTO numbers_operator (code, name, coverage_start) VALUES (%s, %s, "
                             "'2020-01-01') ON CONFLICT (code) DO NOTHING", [code, f"bench {code}"])
        inventory, feed_file, _bad = generate(args.workdir, args.feed)
        measure([py, "manage.py", "import_numbers", str(inventory), "--operator", FEED_OPERATOR], env)
        feed = measure([py, "manage.py", "import_cancellations", str(feed_file), "--operator", FEED_OPERATOR], env)

    print(f"\nRisk lists on PostgreSQL, {os.cpu_count()} cores; each step its own process (wall time, peak RSS)\n")
    print(f"{'lines':>10} {'step':<44} {'seconds':>8} {'lines/s':>9} {'peak MB':>8}")
    for n, load, (bs, bmb, _bx), (ps, pmb, px), marks, events, bad, rejected in rows:
        print(f"{n:>10,} {'loading the numbers (not timed against)':<44} {load:>8.1f}")
        print(f"{n:>10,} {'baseline: bare psycopg, one transaction':<44} {bs:>8.1f} {n / bs:>9,.0f} {bmb:>8.0f}")
        print(f"{n:>10,} {'place_risk_list (exit ' + str(px) + ')':<44} {ps:>8.1f} {n / ps:>9,.0f} {pmb:>8.0f}")
        print(f"{'':>10} ratio (baseline time / product time): {bs / ps:.2f}; marks {marks:,}, events {events:,}; "
              f"bad lines written {bad:,}, rejected lines reported {rejected:,}")
    if feed:
        print(f"{args.feed:>10,} {'import_cancellations (the feed, same run)':<44} {feed[0]:>8.1f} "
              f"{args.feed / feed[0]:>9,.0f} {feed[1]:>8.0f}")
    if len(rows) > 1:
        small, large = rows[0], rows[-1]
        print(f"\npeak RSS of place_risk_list: {large[0]:,} lines {large[3][1]:.0f} MB vs {small[0]:,} lines "
              f"{small[3][1]:.0f} MB: x{large[3][1] / small[3][1]:.2f}")


if __name__ == "__main__":
    main()
