"""Past one machine: throughput and CPU-seconds with one and two worker processes, and the database's share.

    DATABASE_URL=postgres://…/portal_w19_scratch CELERY_BROKER_URL=redis://… .venv/bin/python bench/scaling_bench.py \\
        --feed-lines 100000 --numbers 20000 --platforms 20

* Feed: one import_cancellations of N lines alone, then two at once (two operators' files of N lines each, as
  two worker processes would run two uploads). For each: lines/s, CPU-seconds per 1,000 lines of the importing
  processes and of PostgreSQL's backends, and the database's share of the CPU.
* Deliveries: bench/batch_bench.py with one worker of concurrency 1, then 2 (the worker's processes), the
  simulator confirming: deliveries/s, CPU-seconds per delivery of the worker, of PostgreSQL and of the simulator,
  and the database's share.
The ratio of the two-process run to the one-process run is the speed-up on this machine (2 cores shared by the
workers, PostgreSQL and the simulator): it is one-machine evidence, the input of docs/scaling.md.
"""

import argparse
import csv
import json
import os
import random
import subprocess
import sys
import time
from datetime import datetime, timedelta
from pathlib import Path
from urllib.parse import urlsplit

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))
from bench.common import ROOT, BackendCpu, Result, measure, random_numbers, record  # noqa: E402

OPERATORS = ("SCALEA", "SCALEB", "SCALEC")


def files(workdir: Path, n: int) -> dict[str, tuple[Path, Path]]:
    """An inventory of n active numbers and a feed of n lines (cancellations, 10 % ports) per operator."""
    rng = random.Random(23)
    numbers = random_numbers(n * len(OPERATORS), 23)
    now = datetime.now()
    out = {}
    for k, code in enumerate(OPERATORS):
        mine = numbers[k * n:(k + 1) * n]
        inventory, feed = workdir / f"scaling-inventory-{code}-{n}.csv", workdir / f"scaling-feed-{code}-{n}.csv"
        with open(inventory, "w", newline="") as f:
            w = csv.writer(f)
            w.writerow(["msisdn", "state", "holder_since"])
            for number in mine:
                since = now - timedelta(days=rng.randrange(30, 3000))
                w.writerow([number, "active", since.isoformat(timespec="seconds")])
        rng.shuffle(mine)
        with open(feed, "w", newline="") as f:
            w = csv.writer(f)
            w.writerow(["msisdn", "cancelled_at", "reason", "to_operator"])
            for number in mine:
                at = (now - timedelta(days=1, seconds=rng.randrange(86400))).isoformat(timespec="seconds")
                other = OPERATORS[(k + 1) % len(OPERATORS)]
                w.writerow([number if rng.random() < 0.5 else "+86" + number, at,
                            *(("port_out", other) if rng.random() < 0.1 else ("", ""))])
        out[code] = (inventory, feed)
    return out


def run_together(argvs: list[list[str]], env: dict) -> tuple[float, float]:
    """Run processes at once; return (wall seconds until the last ends, their CPU seconds)."""
    start = time.perf_counter()
    procs = [subprocess.Popen(a, env=env, cwd=ROOT, stdout=subprocess.DEVNULL, stderr=subprocess.PIPE) for a in argvs]
    cpu = 0.0
    for proc in procs:
        err = proc.stderr.read().decode()
        _, status, usage = os.wait4(proc.pid, 0)
        proc.stderr.close()
        if os.waitstatus_to_exitcode(status) != 0:
            sys.exit(f"{proc.args} failed:\n{err[-3000:]}")
        cpu += usage.ru_utime + usage.ru_stime
    return time.perf_counter() - start, cpu


def feed(args: argparse.Namespace, env: dict, dsn: str) -> None:
    import psycopg

    database = urlsplit(dsn).path.lstrip("/")
    with psycopg.connect(dsn, autocommit=True) as conn:
        for code in OPERATORS:
            conn.execute("INSERT INTO numbers_operator (code, name, coverage_start) VALUES (%s, %s, '2020-01-01') "
                         "ON CONFLICT (code) DO NOTHING", [code, code])
    paths = files(args.workdir, args.feed_lines)
    manage = [sys.executable, "manage.py"]
    for code, (inventory, _) in paths.items():
        measure([*manage, "import_numbers", str(inventory), "--operator", code], env, ok=(0,))
    with psycopg.connect(dsn, autocommit=True) as conn:
        conn.execute("VACUUM ANALYZE")
    runs = {}
    for processes, codes in ((1, OPERATORS[:1]), (2, OPERATORS[1:])):
        with BackendCpu(dsn, database) as db:
            wall, cpu = run_together([[*manage, "import_cancellations", str(paths[c][1]), "--operator", c]
                                      for c in codes], env)
        lines = args.feed_lines * len(codes)
        runs[processes] = lines / wall
        print(f"feed, {processes} process(es): {lines:,} lines in {wall:.1f} s = {lines / wall:,.0f} lines/s; "
              f"CPU {cpu:.1f} s, PostgreSQL {db.seconds:.1f} s", flush=True)
        record(Result(
            name=f"feed, {processes} worker process{'es' if processes > 1 else ''}", figure=lines / wall,
            baseline=runs[1] if processes > 1 else None, unit="lines/s",
            baseline_label="the same feed in one process (the ratio is the speed-up)" if processes > 1 else "",
            extra={"cpu_s_per_1000_lines": round(cpu / lines * 1000, 3),
                   "db_cpu_s_per_1000_lines": round(db.seconds / lines * 1000, 3),
                   "db_cpu_share": round(db.seconds / (cpu + db.seconds), 3)}))


def deliveries(args: argparse.Namespace, env: dict) -> None:
    runs = {}
    for concurrency in (1, 2):
        argv = [sys.executable, "bench/batch_bench.py", "--numbers", str(args.numbers), "--platforms",
                str(args.platforms), "--concurrency", str(concurrency), "--port", "8580"]
        child_env = {**env, "BENCH_RESULTS_FILE": ""}  # its own line is recorded below, with the scaling figures
        subprocess.run(argv, env=child_env, cwd=ROOT, check=True)
        result = json.loads((ROOT / "bench-results" / "batch_bench.json").read_text())
        rate = result["deliveries"] / result["all_confirmed_seconds"]
        runs[concurrency] = rate
        record(Result(
            name=f"push to all confirmed, {concurrency} worker process{'es' if concurrency > 1 else ''}",
            figure=rate, baseline=runs[1] if concurrency > 1 else None, unit="deliveries/s",
            baseline_label="the same push with one worker process (the ratio is the speed-up)" if concurrency > 1
            else "",
            extra={k: result[k] for k in ("deliveries", "deliveries_per_second", "worker_cpu_s_per_delivery",
                                          "db_cpu_s_per_delivery", "simulator_cpu_s_per_delivery",
                                          "db_cpu_share")}))


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--feed-lines", type=int, default=100_000, help="lines per feed file")
    parser.add_argument("--numbers", type=int, default=20_000, help="numbers of the push")
    parser.add_argument("--platforms", type=int, default=20)
    parser.add_argument("--workdir", type=Path, default=Path("/tmp/scaling-bench"))
    args = parser.parse_args()
    url = os.environ.get("DATABASE_URL", "")
    if not url.startswith("postgres"):
        sys.exit("Set DATABASE_URL to a scratch PostgreSQL database.")
    args.workdir.mkdir(parents=True, exist_ok=True)
    env = {**os.environ, "DEBUG": "true", "LOG_LEVEL": "WARNING"}
    env.pop("DJANGO_SETTINGS_MODULE", None)
    feed(args, env, url.replace("postgres://", "postgresql://", 1))
    deliveries(args, env)


if __name__ == "__main__":
    main()
