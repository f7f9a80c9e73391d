"""Run every benchmark of the portal, each against a fresh scratch database, and print their figures.

    DATABASE_URL=postgres://postgres@127.0.0.1:5432/portal CELERY_BROKER_URL=redis://127.0.0.1:6379/15 \\
        .venv/bin/python bench/run_all.py [--smoke]

Each benchmark prints its own figures and ratios against a baseline measured in the same run (these
machines are noisy: absolute times mean little). The configured database is never written: the
benchmarks use `<name>_scratch` (recreated before each one) or their own `test_…`/`…_bench` copies.
`--smoke` runs them at small sizes, as CI does, to show that they still work.
"""

import argparse
import os
import subprocess
import sys
import time
from pathlib import Path
from urllib.parse import urlsplit, urlunsplit

ROOT = Path(__file__).resolve().parent.parent
PYTHON = sys.executable

FULL = {
    "release": ["bench/release_bench.py", "--numbers", "100000"],
    "feed": ["bench/feed_bench.py", "--sizes", "100000", "1000000", "--reset"],
    "batch": ["bench/batch_bench.py", "--numbers", "100000", "--platforms", "20"],
    "number book": ["manage.py", "bench_number_book", "--rows", "1000000"],
    "unbind": ["manage.py", "bench_unbind", "--requests", "1000", "--platforms", "20"],
    "risk list": ["bench/risk_list_bench.py", "--sizes", "100000", "1000000", "--feed", "100000"],
    "dashboard": ["bench/dashboard_bench.py", "--numbers", "1000000", "--platforms", "240"],
}
SMOKE = {
    "release": ["bench/release_bench.py", "--numbers", "2000"],
    "feed": ["bench/feed_bench.py", "--sizes", "2000", "--reset", "--workdir", "/tmp/feed-bench-smoke"],
    "batch": ["bench/batch_bench.py", "--numbers", "2000", "--platforms", "3", "--timeout", "300"],
    "number book": ["manage.py", "bench_number_book", "--rows", "20000", "--repeat", "3"],
    "unbind": ["manage.py", "bench_unbind", "--requests", "20", "--platforms", "3", "--baseline-requests", "5",
               "--timeout", "180"],
    "risk list": ["bench/risk_list_bench.py", "--sizes", "2000", "20000", "--feed", "2000", "--workdir",
                  "/tmp/risk-list-bench-smoke"],
    "dashboard": ["bench/dashboard_bench.py", "--numbers", "20000", "--platforms", "20", "--repeat", "3"],
}
SCRATCH = {"feed", "number book", "unbind", "risk list", "dashboard"}


def _with_db(url: str, name: str) -> str:
    return urlunsplit(urlsplit(url)._replace(path=f"/{name}"))


def _recreate(url: str) -> None:
    import psycopg

    name = urlsplit(url).path.lstrip("/")
    with psycopg.connect(_with_db(url, "postgres"), autocommit=True) as conn:
        conn.execute(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')
        conn.execute(f'CREATE DATABASE "{name}"')


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--smoke", action="store_true", help="small sizes, to show the benchmarks still run")
    parser.add_argument("--only", nargs="+", choices=sorted(FULL), help="run only these")
    args = parser.parse_args()
    url = os.environ.get("DATABASE_URL", "")
    if not url.startswith("postgres") or not os.environ.get("CELERY_BROKER_URL", "").startswith("redis"):
        print("The benchmarks need PostgreSQL and Redis: set DATABASE_URL=postgres://… and "
              "CELERY_BROKER_URL=redis://… (see README.md).", file=sys.stderr)
        return 2
    scratch = _with_db(url, urlsplit(url).path.lstrip("/") + "_scratch")
    plan = SMOKE if args.smoke else FULL
    failed = []
    for name, argv in plan.items():
        if args.only and name not in args.only:
            continue
        env = {**os.environ, "DEBUG": "true"}
        if name in SCRATCH:
            _recreate(scratch)
            env["DATABASE_URL"] = scratch
            for command in (["migrate", "--no-input", "-v0"], ["createcachetable"]):
                subprocess.run([PYTHON, "manage.py", *command], cwd=ROOT, env=env, check=True)
        print(f"\n===== {name} {'(smoke)' if args.smoke else ''}", flush=True)
        started = time.monotonic()
        status = subprocess.run([PYTHON, *argv], cwd=ROOT, env=env).returncode
        print(f"===== {name}: exit {status} after {time.monotonic() - started:.0f} s", flush=True)
        if status != 0:
            failed.append(name)
    if failed:
        print(f"\nFailed: {', '.join(failed)}", file=sys.stderr)
        return 1
    return 0


if __name__ == "__main__":
    sys.exit(main())
