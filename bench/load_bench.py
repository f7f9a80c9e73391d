"""Benchmark: S subscribers for T seconds during an N-number push to P platforms — the subscribers' latency, and the
push's throughput under that load beside its throughput alone.

    DATABASE_URL=postgres://postgres@127.0.0.1:5432/portal CELERY_BROKER_URL=redis://127.0.0.1:6379/15 \\
        CACHE_URL=redis://127.0.0.1:6379/14 .venv/bin/python bench/load_bench.py \\
        --numbers 100000 --platforms 20 --subscribers 200 --seconds 60

It makes a fresh database `<name>_load` beside DATABASE_URL's, and sets up what the CI load test
(tests/reliability/test_load.py) does, at the benchmark's size: gunicorn with deploy/gunicorn.conf.py and DEBUG off
(tests/reliability/helpers.py: start_gunicorn; CACHE_URL is its cache), one worker (prefork, every queue), the
platforms' receivers in this process, verifying every signature and confirming through that gunicorn's API, and,
each second, what beat does for unbind requests (the coalescer and the due sweep). The numbers, the receivers and
the worker are those of bench/batch_bench.py. Then, in this order:

1. the push alone: N frozen numbers swept into one batch and pushed to the P platforms, timed from the sweep to
   every delivery sent and confirmed;
2. N more numbers (a second batch of the same size), and S subscribers with verified sessions in locust
   (tests/reliability/locustfile.py: each starts an unbind request, then polls its progress about once a second,
   with a 10 s client timeout) for T seconds; once every subscriber has made its request, the sweep runs and the
   push is timed as before;
3. a third batch of the same size, pushed alone again: each push runs on tables a batch bigger than the one before
   (and a shared machine drifts), so the baseline is the mean of the runs before and after the loaded one.

The push's throughput on each run is the deliveries sent (and, apart, confirmed) within the same window — from the
sweep to the end of the subscribers' load, or to the last one if that came first — per second. It records the
push under load against the push alone (the ratio), and the subscribers' p50 and p99 latency, requests per
second and failed requests (any answer other than the expected one, or a timeout).
"""

import argparse
import shutil
import statistics
import subprocess
import sys
import tempfile
import threading
import time
from pathlib import Path

BASE_DIR = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(BASE_DIR))


class Subscribers(threading.Thread):
    """locust (tests/reliability/load.py: run_locust) in a thread, so the push can be timed meanwhile."""

    def __init__(self, *, host: str, sessions: list[str], seconds: int, out: Path) -> None:
        super().__init__(daemon=True)
        self.kwargs = {"host": host, "sessions": sessions, "users": len(sessions), "seconds": seconds, "out": out}
        self.stats: dict | None = None
        self.error: BaseException | None = None
        self.started_at = 0.0

    def run(self) -> None:
        from tests.reliability.load import run_locust

        self.started_at = time.perf_counter()
        try:
            self.stats = run_locust(**self.kwargs)
        except BaseException as exc:  # reported by the main thread
            self.error = exc


def wait_for_requests(count: int, seconds: float) -> int:
    """Wait until `count` unbind requests exist (every subscriber has started), at most `seconds`; return how many."""
    from renewal.models import UnbindRequest

    deadline = time.monotonic() + seconds
    made = 0
    while time.monotonic() < deadline:
        made = UnbindRequest.objects.count()
        if made >= count:
            break
        time.sleep(0.25)
    return made


def _pair(values: list[float]) -> str:
    return " and ".join(f"{v:.1f}" for v in values)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--numbers", type=int, default=100_000, help="numbers of each push")
    parser.add_argument("--platforms", type=int, default=20)
    parser.add_argument("--subscribers", type=int, default=200)
    parser.add_argument("--seconds", type=int, default=60, help="how long the subscribers' load lasts")
    parser.add_argument("--concurrency", type=int, default=2, help="worker processes of the one worker")
    parser.add_argument("--web-workers", type=int, default=2, help="gunicorn processes (WEB_CONCURRENCY)")
    parser.add_argument("--web-threads", type=int, default=8, help="threads of each (GUNICORN_THREADS)")
    parser.add_argument("--timeout", type=float, default=1800, help="the longest a push may take")
    args = parser.parse_args()

    from bench.common import required_services

    source, _broker = required_services()
    from bench.batch_bench import fresh_database, run_push, seed_frozen_numbers, start_simulator, start_worker

    db_url, env = fresh_database(source, "_load")
    # The unbind summaries' SMS go to the database (as the web's do under start_gunicorn), not the console.
    env["SMS_BACKEND"] = "renewal.active.sms.DatabaseBackend"

    from bench.common import Result, record
    from numbers import roles
    from numbers.models import Operator
    from renewal.models import PlatformStatus, UnbindRequest
    from renewal.platforms import services as platform_services
    from tests.factories import OutletFactory, staff_user
    from tests.reliability.helpers import free_port, start_gunicorn, stop, wait_until_serving
    from tests.reliability.load import Beat, verified_sessions
    from tests.renewal.helpers_subscriber import allocated

    workdir = Path(tempfile.mkdtemp(prefix="load-bench-"))
    print(f"   gunicorn's log and locust's files: {workdir}", flush=True)
    server = worker = sim = None
    beat = Beat()
    try:
        # --- data: the first batch's numbers, the platforms, the subscribers (each holding a number) ---
        t = time.perf_counter()
        operator = Operator.objects.create(code="BENCH", name="Bench operator", coverage_start="2020-01-01")
        seed_frozen_numbers(operator, args.numbers)
        platforms = [platform_services.platform_create(name=f"Bench platform {i:02d}", category="payment",
                                                       status=PlatformStatus.LIVE) for i in range(args.platforms)]
        outlet = OutletFactory(operator=operator, code="BENCH-001", name="Bench outlet")
        clerk = staff_user(role=roles.SALES_STAFF, outlet=outlet, username="bench-clerk")
        periods = [allocated(operator, outlet, clerk)[1] for _ in range(args.subscribers)]
        print(f"   {args.numbers} frozen numbers, {args.platforms} platforms and {args.subscribers} signed-in "
              f"subscribers in {time.perf_counter() - t:.1f} s", flush=True)

        # --- processes: gunicorn (production settings), receivers (in this process), one worker, beat's ticks ---
        server, base = start_gunicorn(database_url=db_url, log_path=workdir / "gunicorn.log",
                                      WEB_CONCURRENCY=str(args.web_workers), GUNICORN_THREADS=str(args.web_threads),
                                      # the receivers confirm over plain HTTP, not through nginx
                                      SECURE_SSL_REDIRECT="false")
        sim = start_simulator(platforms, port=free_port(), api_url=base)
        worker = start_worker(env, args.concurrency)
        wait_until_serving(f"{base}/api/v1/health/live", workdir / "gunicorn.log", timeout=120)
        beat.start()

        # --- 1. the push alone ---
        print("== the push alone", flush=True)
        before = run_push(worker_pid=worker.pid, timeout=args.timeout)

        # --- 2. the same push again, with the subscribers' load ---
        seed_frozen_numbers(operator, args.numbers, first=args.numbers)
        # signed in now, so that the push alone, however long, cannot make them idle (SUBSCRIBER_IDLE_SECONDS)
        sessions = verified_sessions(periods)
        print(f"== {args.subscribers} subscribers for {args.seconds} s, and the push again", flush=True)
        load = Subscribers(host=base, sessions=sessions, seconds=args.seconds, out=workdir)
        load.start()
        started = wait_for_requests(args.subscribers, args.seconds / 3)
        sweep_at = time.perf_counter()
        loaded = run_push(worker_pid=worker.pid, timeout=args.timeout)
        load.join(args.seconds + 150)
        if load.stats is None:
            sys.exit(f"locust did not run: {load.error!r}")
        stats = load.stats
        final = UnbindRequest.objects.filter(finished_at__isnull=False).count()

        # --- 3. alone again: each push runs on tables a batch bigger than the one before, and a busy machine
        # drifts; the baseline is the mean of the runs on either side of the loaded one ---
        seed_frozen_numbers(operator, args.numbers, first=2 * args.numbers)
        print("== the push alone again", flush=True)
        after = run_push(worker_pid=worker.pid, timeout=args.timeout)

        # --- figures ---
        # The window: from the sweep to the end of the load (locust's clock starts with it; the few seconds it
        # takes to start make the window end early rather than late).
        window = max(1.0, load.started_at + args.seconds - sweep_at)
        alone = (before, after)
        sent, sent_alone = loaded.rate_within(window), [p.rate_within(window) for p in alone]
        confirmed = loaded.rate_within(window, confirmed=True)
        confirmed_alone = [p.rate_within(window, confirmed=True) for p in alone]
        size = f"{args.numbers:,} numbers x {args.platforms} platforms"
        load_label = f"{args.subscribers} subscribers for {args.seconds} s"
        print(f"== within {window:.0f} s of the sweep, deliveries/s sent under load {sent:.1f} (alone "
              f"{_pair(sent_alone)}), confirmed {confirmed:.1f} (alone {_pair(confirmed_alone)}); all sent "
              f"{loaded.sent_seconds:.1f} s (alone {_pair([p.sent_seconds for p in alone])}), all confirmed "
              f"{loaded.confirmed_seconds:.1f} s (alone {_pair([p.confirmed_seconds for p in alone])})", flush=True)
        print(f"== subscribers: {stats['requests']} requests, {stats['rps']:.1f}/s, p50 {stats['p50_ms']:.0f} ms, "
              f"p99 {stats['p99_ms']:.0f} ms, {stats['failures']} failed; {started} unbind requests made before "
              f"the sweep, {final} of {UnbindRequest.objects.count()} final", flush=True)
        if stats["failures"]:
            print(stats["failures_csv"][-3000:], flush=True)
        peak = loaded.worker_peak_kib
        record(Result(
            name=f"push {size} under {load_label}", figure=sent, baseline=statistics.mean(sent_alone),
            unit="deliveries/s", peak_rss_mb=round((peak[0] + peak[1]) / 1024, 1),
            baseline_label="the same push with no subscribers, before and after (same gunicorn, worker, "
                           "receivers; sent within the same window)",
            extra={"window_seconds": round(window, 1), "deliveries": loaded.deliveries,
                   "alone_before_after": _pair(sent_alone), "all_sent_seconds": round(loaded.sent_seconds, 2),
                   "alone_all_sent_seconds": _pair([p.sent_seconds for p in alone])}))
        # The platforms confirm through the gunicorn the subscribers load: the push is done when they have.
        record(Result(
            name=f"push {size} confirmed under {load_label}", figure=confirmed,
            baseline=statistics.mean(confirmed_alone), unit="deliveries/s",
            baseline_label="the same push's confirmations with no subscribers, before and after (within the "
                           "same window)",
            extra={"alone_before_after": _pair(confirmed_alone),
                   "all_confirmed_seconds": round(loaded.confirmed_seconds, 2),
                   "alone_all_confirmed_seconds": _pair([p.confirmed_seconds for p in alone])}))
        during = f"{load_label} during the push"
        record(Result(name=f"subscribers' requests, {during}", figure=stats["rps"], baseline=None,
                      unit="requests/s",
                      extra={"requests": stats["requests"], "failures": stats["failures"],
                             "unbind_requests_final": final, "web": f"{args.web_workers} x {args.web_threads}"}))
        record(Result(name=f"subscribers' p50 latency, {during}", figure=stats["p50_ms"], baseline=None, unit="ms",
                      higher_is_better=False))
        record(Result(name=f"subscribers' p99 latency, {during}", figure=stats["p99_ms"], baseline=None, unit="ms",
                      higher_is_better=False))
        record(Result(name=f"subscribers' failed requests, {during}", figure=stats["failures"], baseline=None,
                      unit="requests", higher_is_better=False))
        if stats["requests"] == 0 or stats["exit"] not in (0, 1):  # 1: some requests failed (recorded above)
            sys.exit(f"locust exited {stats['exit']}:\n{stats['output']}")
        assert sim.stats.bad_signature == 0, sim.stats
    finally:
        beat.stopping.set()
        if sim is not None:
            sim.stop()
        if worker is not None:
            worker.terminate()
            try:
                worker.wait(15)
            except subprocess.TimeoutExpired:
                worker.kill()
        if server is not None:
            stop(server)
    shutil.rmtree(workdir, ignore_errors=True)  # kept when the run failed: gunicorn's log and locust's CSV files


if __name__ == "__main__":
    main()
