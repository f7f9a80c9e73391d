"""Benchmark of the inventory load and the cancellation feed on PostgreSQL: time and peak memory.

    DATABASE_URL=postgres://postgres@127.0.0.1:5432/portal_i3 .venv/bin/python bench/feed_bench.py \
        --sizes 100000 1000000 --reset

For each size N it generates (in --workdir, never committed) an inventory of N numbers (98 % active, 1 % never
used, 1 % frozen) and a feed of N lines (cancellations, 10 % ports, about 3 % bad lines: unknown numbers,
numbers that are not active, unparsable numbers, future times, unknown operators, conflicting pairs), then runs,
each in its own process measured with wait4 (wall time, peak RSS):
  1. baseline: the command on a header-only file (the interpreter + Django, and its memory floor);
  2. baseline: a bare psycopg COPY of the feed file into a scratch table (the floor for loading the lines);
  3. import_numbers FILE; 4. import_cancellations FILE --report; 5. the same feed again (all already applied).
It prints the figures and the ratios: to the baselines, and of the largest size to the smallest (memory flat
means a ratio near 1 while the time grows with N).

--reset TRUNCATEs the number tables of the database first: use it on a scratch database only.
"""

import argparse
import csv
import os
import random
import subprocess
import sys
import time
from datetime import datetime, timedelta
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
OPERATOR, OTHER = "BENCHA", "BENCHB"


def measure(args: list[str], env: dict) -> tuple[float, float, int]:
    """Run a process; return (seconds, peak RSS in MB, exit status)."""
    start = time.perf_counter()
    proc = subprocess.Popen(args, env=env, cwd=ROOT, stdout=subprocess.DEVNULL, stderr=subprocess.PIPE)
    _, status, usage = os.wait4(proc.pid, 0)
    seconds = time.perf_counter() - start
    err = proc.stderr.read().decode()
    proc.stderr.close()
    if os.waitstatus_to_exitcode(status) not in (0, 1):
        sys.exit(f"{' '.join(args)} failed:\n{err[-3000:]}")
    return seconds, usage.ru_maxrss / 1024, os.waitstatus_to_exitcode(status)


def msisdn(i: int) -> str:
    return f"+86138{i:08d}"


def generate(workdir: Path, n: int, seed: int = 7) -> tuple[Path, Path, int]:
    rng = random.Random(seed)
    now = datetime.now()
    inventory, feed = workdir / f"inventory-{n}.csv", workdir / f"cancellations-{n}.csv"
    states = []
    with open(inventory, "w", newline="") as f:
        w = csv.writer(f)
        w.writerow(["msisdn", "state", "holder_since", "cancelled_at"])
        for i in range(n):
            roll = rng.random()
            if roll < 0.01:
                w.writerow([msisdn(i), "available", "", ""])
                states.append("a")
            elif roll < 0.02:
                w.writerow([msisdn(i), "frozen", "", (now - timedelta(days=rng.randrange(1, 80))).isoformat()])
                states.append("f")
            else:
                w.writerow([msisdn(i), "active", (now - timedelta(days=rng.randrange(30, 3000))).isoformat(), ""])
                states.append("x")
    bad = 0
    with open(feed, "w", newline="") as f:
        w = csv.writer(f)
        w.writerow(["msisdn", "cancelled_at", "reason", "to_operator"])
        for i in range(n):
            at = (now - timedelta(days=1, seconds=rng.randrange(86400))).isoformat(timespec="seconds")
            roll = rng.random()
            if states[i] != "x":
                bad += 1  # not_active
            if roll < 0.004:
                w.writerow([f"+86139{i:08d}", at, "", ""])  # unknown_number
                bad += states[i] == "x"
            elif roll < 0.006:
                w.writerow([f"12-{i}", at, "", ""])  # invalid_msisdn
                bad += states[i] == "x"
            elif roll < 0.008:
                w.writerow([msisdn(i), (now + timedelta(days=2)).isoformat(), "", ""])  # future_time
                bad += states[i] == "x"
            elif roll < 0.009:
                w.writerow([msisdn(i), at, "port_out", "NOSUCH"])  # unknown_operator
                bad += states[i] == "x"
            elif roll < 0.010:
                w.writerow([msisdn(i), at, "", ""])  # a conflicting pair
                w.writerow([msisdn(i), (now - timedelta(days=3)).isoformat(), "", ""])
                bad += 1 + (states[i] == "x")
            elif roll < 0.11:
                w.writerow([msisdn(i), at, "port_out", OTHER])
            else:
                w.writerow([msisdn(i), at, "", ""])
    return inventory, feed, bad


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--sizes", type=int, nargs="+", default=[100_000, 1_000_000])
    parser.add_argument("--workdir", type=Path, default=Path("/tmp/feed-bench"))
    parser.add_argument("--reset", action="store_true", help="TRUNCATE the number tables first (scratch DB only)")
    args = parser.parse_args()
    url = os.environ.get("DATABASE_URL", "")
    if not url.startswith("postgres"):
        sys.exit("Set DATABASE_URL to a PostgreSQL database (a scratch one: --reset empties its number tables).")
    env = {**os.environ, "DEBUG": "true", "DJANGO_SETTINGS_MODULE": "portal.settings"}
    env.pop("PYTEST_CURRENT_TEST", None)
    args.workdir.mkdir(parents=True, exist_ok=True)
    py = sys.executable
    manage = [py, "manage.py"]
    subprocess.run([*manage, "migrate", "-v0"], env=env, cwd=ROOT, check=True)

    import psycopg

    dsn = url.replace("postgres://", "postgresql://", 1)
    rows = []
    for n in args.sizes:
        with psycopg.connect(dsn, autocommit=True) as conn:
            if args.reset:
                conn.execute("TRUNCATE numbers_event, numbers_holderperiod, numbers_riskmark, numbers_disclosure, "
                             "numbers_declinedoffer, numbers_feedupload, numbers_phonenumber RESTART IDENTITY CASCADE")
            elif conn.execute("SELECT EXISTS (SELECT 1 FROM numbers_phonenumber WHERE msisdn LIKE '+86138%%')"
                              ).fetchone()[0]:
                sys.exit("The database holds +86138… numbers already: use --reset (on a scratch database).")
            for code in (OPERATOR, OTHER):
                conn.execute("INSERT INTO numbers_operator (code, name, coverage_start) VALUES (%s, %s, '2020-01-01') "
                             "ON CONFLICT (code) DO NOTHING", [code, f"bench {code}"])
        t0 = time.perf_counter()
        inventory, feed, bad = generate(args.workdir, n)
        gen = time.perf_counter() - t0
        empty = args.workdir / "empty.csv"
        empty.write_text("msisdn,cancelled_at\n")
        base = measure([*manage, "import_cancellations", str(empty), "--operator", OPERATOR], env)
        copy_script = (
            "import psycopg,sys\n"
            f"c=psycopg.connect({dsn!r})\n"
            "c.execute('CREATE TEMP TABLE t (a text, b text, c text, d text)')\n"
            "with c.cursor().copy('COPY t FROM STDIN (FORMAT csv, HEADER true)') as cp, open(sys.argv[1],'rb') as f:\n"
            "    while (b := f.read(1 << 16)): cp.write(b)\n"
        )
        copy = measure([py, "-c", copy_script, str(feed)], env)
        load = measure([*manage, "import_numbers", str(inventory), "--operator", OPERATOR], env)
        report = args.workdir / f"report-{n}.csv"
        first = measure([*manage, "import_cancellations", str(feed), "--operator", OPERATOR, "--report",
                         str(report)], env)
        again = measure([*manage, "import_cancellations", str(feed), "--operator", OPERATOR], env)
        reported = sum(1 for line in open(report) if not line.startswith("#")) - 1
        rows.append((n, gen, base, copy, load, first, again, bad, reported))

    print(f"\nPostgreSQL, {os.cpu_count()} cores; each step its own process (wall time, peak RSS)\n")
    print(f"{'lines':>9} {'step':<34} {'seconds':>8} {'lines/s':>9} {'peak MB':>8} {'exit':>4}")
    for n, gen, base, copy, load, first, again, bad, reported in rows:
        print(f"{n:>9,} generating the two files: {gen:.1f} s")
        steps = [("baseline: Django, header-only file", base), ("baseline: bare COPY of the feed", copy),
                 ("import_numbers", load), ("import_cancellations", first), ("import_cancellations again", again)]
        for name, (s, mb, code) in steps:
            rate = f"{n / s:,.0f}" if "header-only" not in name else "-"
            print(f"{n:>9,} {name:<34} {s:>8.1f} {rate:>9} {mb:>8.0f} {code:>4}")
        print(f"{'':>9} bad lines written: {bad:,}; rejected lines in the report: {reported:,}")
        print(f"{'':>9} ratios: import_cancellations / bare COPY time {first[0] / copy[0]:.1f}x; "
              f"peak RSS over the Django baseline: numbers +{load[1] - base[1]:.0f} MB, "
              f"cancellations +{first[1] - base[1]:.0f} MB")
    if len(rows) > 1:
        small, large = rows[0], rows[-1]
        k = large[0] / small[0]
        print(f"\n{large[0]:,} vs {small[0]:,} lines ({k:.0f}x): time import_numbers {large[4][0] / small[4][0]:.1f}x, "
              f"import_cancellations {large[5][0] / small[5][0]:.1f}x; peak RSS import_numbers "
              f"{large[4][1] / small[4][1]:.2f}x, import_cancellations {large[5][1] / small[5][1]:.2f}x")


if __name__ == "__main__":
    main()
