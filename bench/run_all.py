"""Run every benchmark of the portal against scratch databases; write bench/results.json and bench/REPORT.md.

    make bench                        # every scenario at its default size (under 30 minutes on 2 cores)
    make bench-smoke                  # CI's small sizes: the benchmarks still run
    make bench-national-day           # a national working day's sizes, one after another, scaled by BENCH_SCALE
    bench/run_all.py [--smoke | --national-day] [--only NAME …]
    make bench BENCH_ARGS="--only NAME … --update"   # re-run some scenarios; the others' rows stay as they were

DATABASE_URL names the PostgreSQL server and a database whose name the scratch copies take
(`<name>_scratch`, `<name>_bench`, `test_<name>`): the configured database itself is never written.
CELERY_BROKER_URL is the Redis the benchmarks' workers use; BENCH_AMQP_URL the RabbitMQ of the scenarios that
run on it. Each benchmark prints its figures and ratios against a baseline measured in the same run (these
machines are noisy: absolute times mean little) and records them (bench/common.py: `record`).

A scenario is one entry of SCENARIOS: a name, the command at the default size, at the smoke size and at the
national day's size (a function of BENCH_SCALE), and what it needs.
"""

import argparse
import json
import os
import platform
import re
import subprocess
import sys
import tempfile
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import UTC, datetime
from pathlib import Path
from urllib.parse import urlsplit, urlunsplit

ROOT = Path(__file__).resolve().parent.parent
PYTHON = sys.executable
RESULTS = ROOT / "bench" / "results.json"
REPORT = ROOT / "bench" / "REPORT.md"
# Baselines measured on a quiet machine (nothing else running), shown beside each run's: a run whose baselines
# are far below these ran on a busy or slower machine.
REFERENCE = ROOT / "bench" / "reference.json"
DEFAULT_AMQP = "amqp://guest:guest@127.0.0.1:5672//"

# A national working day: cancellations from each of three operators, a million numbers pushed to 240
# platforms, tens of thousands of unbind requests; BENCH_SCALE shrinks it (0.01 = a hundredth).
DAY = {"feed_lines": 900_000, "release": 1_000_000, "push_numbers": 1_000_000, "platforms": 240,
       "unbind_requests": 30_000}


def scaled(key: str, scale: float, floor: int = 1) -> str:
    return str(max(floor, round(DAY[key] * scale)))


def parse_unbind(out: str) -> list[dict]:
    """bench_unbind prints its figures: results per second coalesced, against the uncoalesced baseline."""
    rates, peak = {}, None
    for line in out.splitlines():
        match = re.search(r"(baseline: no coalescing|coalesced \(one window\))\s+\d+ requests\s+(\d+) tasks.*?"
                          r"all final in\s+([\d.]+) s", line)
        if match:
            rates[match[1]] = (int(match[2]) / float(match[3]), float(match[3]))
    if len(rates) < 2:
        return []
    (rate, seconds), (base, base_seconds) = rates["coalesced (one window)"], rates["baseline: no coalescing"]
    return [{"name": "unbind requests to all final states", "figure": rate, "baseline": base,
             "unit": "results/s", "higher_is_better": True, "peak_rss_mb": peak, "target": None,
             "baseline_label": "the same requests without coalescing (one delivery per request and platform)",
             "ratio": round(rate / base, 3), "extra": {"seconds": seconds, "baseline_seconds": base_seconds}}]


def parse_number_book(out: str) -> list[dict]:
    """bench_number_book prints each search's median with its indexes and without (the baseline)."""
    results = []
    for line in out.splitlines():
        match = re.match(r"(.+?)\s+([\d.]+)\s+([\d.]+)\s+([\d.]+)x\s+(\d+)$", line)
        if match and not line.startswith("search"):
            fast, slow = float(match[2]), float(match[3])
            results.append({"name": f"number book: {match[1].strip()}", "figure": fast, "baseline": slow,
                            "unit": "ms", "higher_is_better": False, "peak_rss_mb": None, "target": None,
                            "baseline_label": "the same search without the number book's indexes",
                            "ratio": round(slow / fast, 3) if fast else None, "extra": {}})
    return results


@dataclass(frozen=True)
class Scenario:
    name: str
    full: list[str]  # the command (run from the repository's root with this Python) at the default size
    smoke: list[str]
    day: Callable[[float], list[str]] | None = None  # the national day's command at a scale
    scratch: bool = False  # runs on <name>_scratch, recreated and migrated first
    broker: str = "redis"  # or "amqp": CELERY_BROKER_URL becomes BENCH_AMQP_URL
    env: dict[str, str] = field(default_factory=dict)
    # For a command that prints its figures instead of recording them (bench.common.record): its output -> results.
    parse: Callable[[str], list[dict]] | None = None


SCENARIOS = [
    Scenario(
        "release", ["bench/release_bench.py", "--numbers", "100000"], ["bench/release_bench.py", "--numbers", "2000"],
        day=lambda s: ["bench/release_bench.py", "--numbers", scaled("release", s, 1000)]),
    Scenario(
        "feed", ["bench/feed_bench.py", "--sizes", "100000", "1000000", "--reset"],
        ["bench/feed_bench.py", "--sizes", "2000", "--reset", "--workdir", "/tmp/feed-bench-smoke"],
        day=lambda s: ["bench/feed_bench.py", "--sizes", scaled("feed_lines", s, 1000), "--reset", "--no-baselines"],
        scratch=True),
    Scenario(
        "batch", ["bench/batch_bench.py", "--numbers", "100000", "--platforms", "20"],
        ["bench/batch_bench.py", "--numbers", "2000", "--platforms", "3", "--timeout", "300"],
        day=lambda s: ["bench/batch_bench.py", "--numbers", scaled("push_numbers", s, 1000), "--platforms",
                       str(DAY["platforms"]), "--timeout", "86400"]),
    Scenario(
        "batch on RabbitMQ", ["bench/batch_bench.py", "--numbers", "20000", "--platforms", "20", "--port", "8490"],
        ["bench/batch_bench.py", "--numbers", "2000", "--platforms", "3", "--timeout", "300", "--port", "8490"],
        broker="amqp"),
    Scenario(
        "number book", ["manage.py", "bench_number_book", "--rows", "1000000"],
        ["manage.py", "bench_number_book", "--rows", "20000", "--repeat", "3"], scratch=True,
        parse=parse_number_book),
    Scenario(
        "unbind", ["manage.py", "bench_unbind", "--requests", "1000", "--platforms", "20"],
        ["manage.py", "bench_unbind", "--requests", "20", "--platforms", "3", "--baseline-requests", "5",
         "--timeout", "180"],
        day=lambda s: ["manage.py", "bench_unbind", "--requests", scaled("unbind_requests", s, 20), "--platforms",
                       str(DAY["platforms"]), "--baseline-requests", "5", "--timeout", "86400"],
        scratch=True, parse=parse_unbind),
    Scenario(
        "risk list", ["bench/risk_list_bench.py", "--sizes", "100000", "1000000", "--feed", "100000"],
        ["bench/risk_list_bench.py", "--sizes", "2000", "20000", "--feed", "2000", "--workdir",
         "/tmp/risk-list-bench-smoke"], scratch=True),
    Scenario(
        "dashboard", ["bench/dashboard_bench.py", "--numbers", "1000000", "--platforms", "240"],
        ["bench/dashboard_bench.py", "--numbers", "20000", "--platforms", "20", "--repeat", "3"], scratch=True),
    Scenario(
        "queries", ["bench/query_bench.py", "--numbers", "1000000"],
        ["bench/query_bench.py", "--numbers", "20000", "--calls", "5", "--seconds", "3"], scratch=True),
    Scenario(
        "latency", ["bench/latency_bench.py", "--numbers", "100000", "--platforms", "20", "--latency", "200"],
        ["bench/latency_bench.py", "--numbers", "2000", "--platforms", "3", "--latency", "50", "--timeout", "300"]),
    Scenario(
        "load", ["bench/load_bench.py", "--numbers", "100000", "--platforms", "20", "--subscribers", "200",
                 "--seconds", "60"],
        ["bench/load_bench.py", "--numbers", "5000", "--platforms", "5", "--subscribers", "20", "--seconds", "15",
         "--timeout", "300"]),
    Scenario(
        "metrics", ["bench/metrics_bench.py", "--deliveries", "1000000"],
        ["bench/metrics_bench.py", "--deliveries", "20000", "--repeat", "3"]),
    Scenario(
        "scaling", ["bench/scaling_bench.py", "--feed-lines", "100000", "--numbers", "20000", "--platforms", "20"],
        ["bench/scaling_bench.py", "--feed-lines", "2000", "--numbers", "1000", "--platforms", "2"], scratch=True),
]
NAMES = [s.name for s in SCENARIOS]


def _with_db(url: str, name: str) -> str:
    return urlunsplit(urlsplit(url)._replace(path=f"/{name}"))


def _recreate(url: str) -> None:
    import psycopg

    name = urlsplit(url).path.lstrip("/")
    with psycopg.connect(_with_db(url, "postgres"), autocommit=True) as conn:
        conn.execute(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')
        conn.execute(f'CREATE DATABASE "{name}"')


def _load_average() -> float:
    return os.getloadavg()[0]


def _run(scenario: Scenario, argv: list[str], url: str, amqp: str) -> tuple[int, float, list[dict]]:
    env = {**os.environ, "DEBUG": "true", **scenario.env}
    env.pop("DJANGO_SETTINGS_MODULE", None)
    if scenario.broker == "amqp":
        env["CELERY_BROKER_URL"] = amqp
    if scenario.scratch:
        scratch = _with_db(url, urlsplit(url).path.lstrip("/") + "_scratch")
        _recreate(scratch)
        env["DATABASE_URL"] = scratch
        for command in (["migrate", "--no-input", "-v0"], ["createcachetable"]):
            subprocess.run([PYTHON, "manage.py", *command], cwd=ROOT, env=env, check=True)
    with tempfile.NamedTemporaryFile("r", suffix=".jsonl") as results:
        env["BENCH_RESULTS_FILE"] = results.name
        started = time.monotonic()
        proc = subprocess.Popen([PYTHON, *argv], cwd=ROOT, env=env, stdout=subprocess.PIPE, text=True)
        output = []
        for line in proc.stdout:  # shown as it comes, and kept for the scenario's parser
            print(line, end="", flush=True)
            output.append(line)
        status = proc.wait()
        seconds = time.monotonic() - started
        recorded = [json.loads(line) for line in results.read().splitlines() if line.strip()]
        if scenario.parse and status == 0:
            recorded += scenario.parse("".join(output))
    for item in recorded:
        item["scenario"] = scenario.name
    return status, seconds, recorded


def _fmt(value: float | None, unit: str = "") -> str:
    if value is None:
        return "–"
    text = f"{value:,.0f}" if abs(value) >= 100 else f"{value:,.2f}"
    return f"{text} {unit}".strip()


def _rss(value: float | None) -> str:
    return "–" if value is None else f"{value:,.0f}"


def write_report(run: dict, path: Path) -> None:
    reference = json.loads(REFERENCE.read_text()) if REFERENCE.exists() else {}
    quiet = reference.get("baselines", {})
    lines = [
        "# Benchmarks",
        "",
        f"`{run['command']}` on {run['started']} — {run['machine']}; load average {run['load_before']:.1f} before, "
        f"{run['load_after']:.1f} after; {run['seconds'] / 60:.1f} minutes.",
        *[f"Re-run since, replacing their rows: {', '.join(u['scenarios'])} (`{u['command']}` on {u['started']}; "
          f"load average {u['load_before']:.1f} before, {u['load_after']:.1f} after)." for u in run.get("updates", [])],
        "",
        "Each figure is measured against a baseline in the same run (ratio: how the product does against it; "
        "target ≥ the ratio the issue asks). The quiet baseline is the same baseline measured on a quiet machine "
        f"({reference.get('measured', 'not yet measured')}): a run baseline far below it means a busy machine.",
        "",
        "| scenario | result | figure | baseline | quiet baseline | ratio | target | peak RSS MB | baseline is |",
        "|---|---|---|---|---|---|---|---|---|",
    ]
    for r in run["results"]:
        ratio = "–" if r.get("ratio") is None else f"{r['ratio']:.2f}"
        target = "–" if r.get("target") is None else f"≥ {r['target']:g}"
        if r.get("ratio") is not None and r.get("target") is not None and r["ratio"] < r["target"]:
            target += " (missed)"
        lines.append(
            f"| {r['scenario']} | {r['name']} | {_fmt(r['figure'], r['unit'])} | {_fmt(r.get('baseline'), r['unit'])} "
            f"| {_fmt(quiet.get(r['name']), r['unit'])} | {ratio} | {target} | {_rss(r.get('peak_rss_mb'))} "
            f"| {r.get('baseline_label', '')} |")
    lines += ["", "| scenario | exit | minutes | run |", "|---|---|---|---|"]
    lines += [f"| {s['name']} | {s['exit']} | {s['seconds'] / 60:.1f} | {s.get('started', run['started'])} |"
              for s in run["scenarios"]]
    extras = [r for r in run["results"] if r.get("extra")]
    if extras:
        lines += ["", "Details:", ""]
        lines += [f"* {r['name']}: " + ", ".join(f"{k} {v}" for k, v in r["extra"].items()) for r in extras]
    if run.get("projection"):
        lines += ["", run["projection"]]
    path.write_text("\n".join(lines) + "\n")


def merged(previous: dict, rerun: dict) -> dict:
    """`previous` with the scenarios of `rerun` (and their rows) in place of its own, in the scenarios' order."""
    names = {s["name"] for s in rerun["scenarios"]}
    order = [s.name for s in SCENARIOS]
    scenarios = [s for s in previous["scenarios"] if s["name"] not in names] + rerun["scenarios"]
    scenarios.sort(key=lambda s: order.index(s["name"]) if s["name"] in order else len(order))
    results = [r for r in previous["results"] if r["scenario"] not in names] + rerun["results"]
    results.sort(key=lambda r: order.index(r["scenario"]) if r["scenario"] in order else len(order))
    updates = [*previous.get("updates", []), {"command": rerun["command"], "started": rerun["started"],
                                              "load_before": rerun["load_before"],
                                              "load_after": rerun["load_after"], "scenarios": sorted(names)}]
    return {**previous, "scenarios": scenarios, "results": results, "updates": updates}


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    mode = parser.add_mutually_exclusive_group()
    mode.add_argument("--smoke", action="store_true", help="small sizes, to show that the benchmarks still run")
    mode.add_argument("--national-day", action="store_true",
                      help="a national working day's sizes scaled by BENCH_SCALE, no time bound; prints the projection")
    parser.add_argument("--only", nargs="+", choices=NAMES, metavar="NAME", help=f"run only these: {NAMES}")
    parser.add_argument("--write", type=Path, help="write results.json and REPORT.md into this folder "
                        "(default: bench/ for a default-size run of every scenario, nowhere otherwise)")
    parser.add_argument("--update", action="store_true",
                        help="with --only at the default size: replace those scenarios' rows in bench/results.json "
                             "and REPORT.md, keeping the other scenarios' rows of the run they came from")
    parser.add_argument("--report-from", type=Path, metavar="RESULTS_JSON",
                        help="only write REPORT.md (beside the file) again from a run's results.json")
    args = parser.parse_args()
    if args.update and (args.smoke or args.national_day or not args.only or args.write):
        parser.error("--update re-runs some scenarios (--only) at the default size into bench/ (no --write)")
    if args.report_from:
        write_report(json.loads(args.report_from.read_text()), args.report_from.parent / REPORT.name)
        return 0
    url = os.environ.get("DATABASE_URL", "")
    if not url.startswith("postgres") or not os.environ.get("CELERY_BROKER_URL", "").startswith("redis"):
        print("The benchmarks need PostgreSQL and Redis: set DATABASE_URL=postgres://… and "
              "CELERY_BROKER_URL=redis://… (make bench starts local ones when they are down).", file=sys.stderr)
        return 2
    amqp = os.environ.get("BENCH_AMQP_URL", DEFAULT_AMQP)
    scale = float(os.environ.get("BENCH_SCALE", "1"))
    kind = "smoke" if args.smoke else "national-day" if args.national_day else "full"
    plan = [s for s in SCENARIOS if not args.only or s.name in args.only]
    if args.national_day:
        plan = [s for s in plan if s.day is not None]
    run = {"command": " ".join(["bench/run_all.py", *sys.argv[1:]]), "kind": kind, "scale": scale,
           "started": datetime.now(UTC).strftime("%Y-%m-%d %H:%M UTC"),
           "machine": f"{os.cpu_count()} cores, {platform.platform(terse=True)}, Python {platform.python_version()}",
           "load_before": _load_average(), "scenarios": [], "results": []}
    started = time.monotonic()
    failed = []
    for scenario in plan:
        argv = scenario.smoke if args.smoke else scenario.day(scale) if args.national_day and scenario.day else \
            scenario.full
        print(f"\n===== {scenario.name} ({kind}): {' '.join(argv)}", flush=True)
        status, seconds, results = _run(scenario, argv, url, amqp)
        print(f"===== {scenario.name}: exit {status} after {seconds:.0f} s", flush=True)
        run["scenarios"].append({"name": scenario.name, "exit": status, "seconds": round(seconds, 1),
                                 "argv": argv, "started": run["started"]})
        run["results"] += results
        if status != 0:
            failed.append(scenario.name)
    run["seconds"] = round(time.monotonic() - started, 1)
    run["load_after"] = _load_average()
    if args.national_day:
        hours = sum(s["seconds"] for s in run["scenarios"]) / 3600 / scale
        run["projection"] = (
            f"National day at BENCH_SCALE={scale:g}: {run['seconds'] / 60:.1f} minutes for "
            f"{', '.join(s['name'] for s in run['scenarios'])}; projected to the full day (times divided by the "
            f"scale, set-up included, so an upper bound for the bulk paths): {hours:.2f} hours on this machine, "
            "one step after another.")
        print("\n" + run["projection"])
    print(f"\nall scenarios: {run['seconds'] / 60:.1f} minutes")
    if args.update:
        run = merged(json.loads(RESULTS.read_text()), run)
    out = args.write or (ROOT / "bench" if kind == "full" and (not args.only or args.update) else None)
    if out is not None:
        out.mkdir(parents=True, exist_ok=True)
        (out / RESULTS.name).write_text(json.dumps(run, indent=2) + "\n")
        write_report(run, out / REPORT.name)
        print(f"wrote {out / RESULTS.name} and {out / REPORT.name}")
    if failed:
        print(f"\nFailed: {', '.join(failed)}", file=sys.stderr)
        return 1
    return 0


if __name__ == "__main__":
    sys.exit(main())
