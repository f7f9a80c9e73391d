"""Benchmark: one batch of N numbers pushed to P simulated platforms by one Celery worker.

    DATABASE_URL=postgres://postgres@127.0.0.1:5432/portal_i4 CELERY_BROKER_URL=redis://127.0.0.1:6379/4 \\
        .venv/bin/python bench/batch_bench.py --numbers 100000 --platforms 20

It creates a fresh database `<name>_bench` next to DATABASE_URL's (migrated),
starts the portal's API under gunicorn, the simulator's receivers (which
verify every signature and confirm through the API), and one worker
(`celery worker --concurrency 2`); then runs the batch sweep and measures until
every delivery is sent and then confirmed. The baseline, measured in the same
run, is the same kind of signed 1,000-number POSTs sent sequentially from one
process with no database and no broker. (Deliveries go through the pump; the
latency scenario, with platforms answering after 200 ms, is bench/latency_bench.py.) Figures go to stdout (and
bench-results/batch_bench.json).
"""

import argparse
import json
import os
import subprocess
import sys
import time
from dataclasses import dataclass, field
from datetime import timedelta
from pathlib import Path
from urllib.parse import urlsplit, urlunsplit

BASE_DIR = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(BASE_DIR))


def _peak_rss_kib(pid: int) -> tuple[int, int]:
    """Return (the main process's VmHWM, the largest child's VmHWM) in KiB."""
    def hwm(p):
        try:
            for line in Path(f"/proc/{p}/status").read_text().splitlines():
                if line.startswith("VmHWM:"):
                    return int(line.split()[1])
        except OSError:
            return 0
        return 0

    children = []
    for task in Path(f"/proc/{pid}/task").glob("*/children"):
        children += [int(c) for c in task.read_text().split()]
    return hwm(pid), max([hwm(c) for c in children] or [0])


def _recreate_database(url: str) -> None:
    import psycopg

    parts = urlsplit(url)
    name = parts.path.lstrip("/")
    admin = urlunsplit(parts._replace(path="/postgres"))
    with psycopg.connect(admin, autocommit=True) as conn:
        conn.execute(f'DROP DATABASE IF EXISTS "{name}"')
        conn.execute(f'CREATE DATABASE "{name}"')


def _wait_live(api_url: str, seconds: float = 60) -> None:
    """Wait until the API answers (a busy machine starts it slowly): liveness, which asks nothing else."""
    import requests

    deadline = time.monotonic() + seconds
    while True:
        try:
            if requests.get(api_url + "/api/v1/health/live", timeout=5).status_code == 200:
                return
        except requests.RequestException:
            if time.monotonic() > deadline:
                raise
        if time.monotonic() > deadline:
            raise SystemExit(f"{api_url} did not answer within {seconds:.0f} s")
        time.sleep(0.5)


def fresh_database(source: str, suffix: str = "_bench") -> tuple[str, dict]:
    """Recreate `<name><suffix>` beside `source`'s database, migrate it and set Django up on it: (URL, env).

    The env is what the worker and the API run with: that database, DEBUG on, quiet logs, and the periodic batch
    sweep out of the way (the benchmark runs the sweep itself).
    """
    parts = urlsplit(source)
    db_url = urlunsplit(parts._replace(path=parts.path.rstrip("/") + suffix))
    env = {**os.environ, "DATABASE_URL": db_url, "DEBUG": "true", "LOG_LEVEL": "WARNING",
           "SWEEP_INTERVAL_SECONDS": "3600"}
    env.pop("DJANGO_SETTINGS_MODULE", None)
    print(f"== fresh database {urlsplit(db_url).path.lstrip('/')}, migrating…", flush=True)
    _recreate_database(db_url)
    subprocess.run([sys.executable, "manage.py", "migrate", "-v0"], env=env, cwd=BASE_DIR, check=True)
    subprocess.run([sys.executable, "manage.py", "createcachetable"], env=env, cwd=BASE_DIR, check=True)
    os.environ.update({"DATABASE_URL": db_url, "DEBUG": "true", "LOG_LEVEL": "WARNING",
                       "DJANGO_SETTINGS_MODULE": "portal.settings"})
    import django

    django.setup()
    return db_url, env


def seed_frozen_numbers(operator, count: int, *, first: int = 0) -> None:
    """`count` numbers of `operator` (+86147 followed by `first`, `first`+1, …), frozen and due for renewal, each
    with the closed holder period of its cycle (set-based, as an inventory import leaves them)."""
    from django.db import connection
    from django.utils import timezone

    from numbers.models import HolderPeriod, PhoneNumber, State

    cancelled = timezone.now() - timedelta(days=80)
    for start in range(first, first + count, 10_000):
        n = min(10_000, first + count - start)
        PhoneNumber.objects.bulk_create([
            PhoneNumber(msisdn=f"+86147{start + i:08d}", range_holder=operator, serving_operator=operator,
                        state=State.FROZEN, cancelled_at=cancelled, frozen_until=cancelled + timedelta(days=90))
            for i in range(n)], batch_size=5000)
    numbers, periods = PhoneNumber._meta.db_table, HolderPeriod._meta.db_table
    with connection.cursor() as cursor:
        cursor.execute(
            f"INSERT INTO {periods} (number_id, operator_id, ended_at, customer_ref, requires_disclosure) "
            f"SELECT id, range_holder_id, cancelled_at, '', false FROM {numbers} "
            f"WHERE range_holder_id = %s AND state = %s AND cycle_id IS NULL", [operator.pk, State.FROZEN])
        cursor.execute(
            f"UPDATE {numbers} n SET cycle_id = hp.id FROM {periods} hp "
            f"WHERE hp.number_id = n.id AND n.cycle_id IS NULL")


def start_simulator(platforms, *, port: int, api_url: str | None):
    """The platforms' receivers in this process, answering at once and confirming through `api_url` (unless None);
    each platform's webhook points at its receiver."""
    from renewal.platforms import services as platform_services
    from renewal.simulator.server import SimPlatform, Simulator

    sims = [SimPlatform(platform_id=p.pk, name=p.name, secrets=platform_services.platform_secrets(p),
                        api_key=platform_services.api_key_create(platform=p, name="bench")[1]) for p in platforms]
    sim = Simulator(port=port, platforms=sims, api_url=api_url, confirm_after_ms=0, confirm_threads=8).start()
    for p in platforms:
        type(p).objects.filter(pk=p.pk).update(webhook_url=sim.url_for(p.pk))
    return sim


def start_worker(env: dict, concurrency: int) -> subprocess.Popen:
    """One worker (prefork, every queue) on an emptied broker."""
    subprocess.run([sys.executable, "-m", "celery", "-A", "portal", "purge", "-f"], env=env, cwd=BASE_DIR,
                   check=True, capture_output=True)
    worker = subprocess.Popen(
        [sys.executable, "-m", "celery", "-A", "portal", "worker", f"--concurrency={concurrency}",
         "--loglevel=WARNING", "--without-mingle", "--without-gossip", "--without-heartbeat"],
        env=env, cwd=BASE_DIR)
    time.sleep(4)  # the worker is up
    return worker


@dataclass
class Push:
    """One batch push, timed from the sweep's start."""

    deliveries: int
    sweep_seconds: float
    sent_seconds: float | None = None  # every delivery sent (or confirmed)
    confirmed_seconds: float | None = None
    # (seconds, deliveries sent or confirmed, deliveries confirmed), every poll
    timeline: list[tuple[float, int, int]] = field(default_factory=list)
    worker_peak_kib: tuple[int, int] = (0, 0)  # the worker's main process, its largest child

    def rate_within(self, seconds: float, *, confirmed: bool = False) -> float:
        """Deliveries sent (or confirmed) per second over the first `seconds` from the sweep's start, or until every
        one was, if that came sooner (read at the last poll within the time)."""
        column = 2 if confirmed else 1
        at, count = self.timeline[0][0], self.timeline[0][column]
        for sample in self.timeline:
            if sample[0] > seconds:
                break
            at, count = sample[0], sample[column]
            if count == self.deliveries:
                break
        return count / at


def run_push(*, worker_pid: int, timeout: float, confirm: bool = True) -> Push:
    """Run the batch sweep; poll the new batches' deliveries until every one is confirmed (or sent, when the
    receivers do not confirm). Exit on the timeout."""
    from django.db.models import Count

    from renewal.deliveries import services
    from renewal.models import Delivery, DeliveryState

    t0 = time.perf_counter()
    batch_ids = services.batch_sweep()  # commits; the dispatch task goes to the worker
    deliveries = Delivery.objects.filter(chunk__batch_id__in=batch_ids)
    push = Push(deliveries=deliveries.count(), sweep_seconds=time.perf_counter() - t0)
    print(f"== sweep: {push.deliveries} deliveries in {push.sweep_seconds:.2f} s; pushing…", flush=True)
    peak = (0, 0)
    while True:
        elapsed = time.perf_counter() - t0
        counts = dict(deliveries.order_by().values_list("state").annotate(n=Count("id")))
        confirmed = counts.get(DeliveryState.CONFIRMED, 0)
        done = counts.get(DeliveryState.SENT, 0) + confirmed
        push.timeline.append((elapsed, done, confirmed))
        m = _peak_rss_kib(worker_pid)
        peak = (max(peak[0], m[0]), max(peak[1], m[1]))
        if push.sent_seconds is None and done == push.deliveries:
            push.sent_seconds = elapsed
        if confirmed == push.deliveries or (not confirm and push.sent_seconds is not None):
            push.confirmed_seconds = elapsed
            break
        if elapsed > timeout:
            sys.exit(f"timed out: {counts}")
        time.sleep(0.25)
    push.worker_peak_kib = peak
    return push


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--numbers", type=int, default=100_000)
    parser.add_argument("--platforms", type=int, default=20)
    parser.add_argument("--concurrency", type=int, default=2, help="worker processes of the one worker")
    parser.add_argument("--port", type=int, default=8480, help="API on PORT, receivers on PORT+1, baseline PORT+2")
    parser.add_argument("--timeout", type=float, default=1800)
    parser.add_argument("--no-confirm", action="store_true",
                        help="receivers do not confirm: measures the push alone, without the confirmation traffic")
    args = parser.parse_args()

    from bench.common import required_services

    source, broker = required_services()
    db_url, env = fresh_database(source)

    from bench.common import BackendCpu, Result, record, tree_cpu_seconds
    from numbers.models import Operator
    from renewal.deliveries import bodies
    from renewal.models import PlatformStatus
    from renewal.platforms import services as platform_services
    from renewal.platforms.crypto import new_signing_secret
    from renewal.platforms.signing import secret_key, signature_headers
    from renewal.simulator.server import SimPlatform, Simulator

    procs = []
    try:
        # --- data ---
        t = time.perf_counter()
        operator = Operator.objects.create(code="BENCH", name="Bench operator", coverage_start="2020-01-01")
        seed_frozen_numbers(operator, args.numbers)
        platforms = [platform_services.platform_create(name=f"Bench platform {i:02d}", category="payment",
                                              status=PlatformStatus.LIVE) for i in range(args.platforms)]
        print(f"   {args.numbers} frozen numbers and {args.platforms} platforms in {time.perf_counter() - t:.1f} s",
              flush=True)

        # --- baseline: the same kind of signed POSTs, sequential, one process, no database, no broker ---
        import requests

        numbers = [{"msisdn": f"+86147{i:08d}", "disconnected_at": "2026-08-01T00:00:00+08:00",
                    "release_not_before": "2026-10-30"} for i in range(1000)]
        base_secret = new_signing_secret()
        base_sim = Simulator(port=args.port + 2, platforms=[SimPlatform(platform_id=1, name="b",
                                                                          secrets=[base_secret])])
        base_sim.start()
        session = requests.Session()
        n_base = 200
        t = time.perf_counter()
        for i in range(n_base):
            body = bodies.dumps({"event": "recycled_numbers.batch", "delivery_id": f"base-{i}", "operator": "BENCH",
                                 "numbers": numbers})
            session.post(base_sim.url_for(1), data=body, headers={
                "X-Renewal-Event": "recycled_numbers.batch", "Content-Type": "application/json",
                **signature_headers(keys=[secret_key(base_secret)], msg_id=f"base-{i}", body=body)}).raise_for_status()
        baseline = n_base / (time.perf_counter() - t)
        base_sim.stop()
        print(f"   baseline: {baseline:.0f} signed 1,000-number POSTs/s (sequential, no database, no broker)",
              flush=True)

        # --- processes: API (gunicorn), receivers (in this process), one worker ---
        api_url = f"http://127.0.0.1:{args.port}"
        procs.append(subprocess.Popen(
            [sys.executable, "-m", "gunicorn", "portal.wsgi", "-b", f"127.0.0.1:{args.port}", "-w", "4",
             "--log-level", "warning"], env=env, cwd=BASE_DIR))
        sim = start_simulator(platforms, port=args.port + 1, api_url=None if args.no_confirm else api_url)
        worker = start_worker(env, args.concurrency)
        procs.append(worker)
        _wait_live(api_url)

        # --- the run ---
        db_cpu = BackendCpu(db_url.replace("postgres://", "postgresql://", 1),
                            urlsplit(db_url).path.lstrip("/")).__enter__()
        worker_cpu0, own_cpu0 = tree_cpu_seconds(worker.pid), time.process_time()
        push = run_push(worker_pid=worker.pid, timeout=args.timeout, confirm=not args.no_confirm)
        worker_cpu, own_cpu = tree_cpu_seconds(worker.pid) - worker_cpu0, time.process_time() - own_cpu0
        db_cpu.__exit__(None, None, None)
        total, t_sent, peak = push.deliveries, push.sent_seconds, push.worker_peak_kib
        push_rate = total / t_sent
        result = {
            "numbers": args.numbers, "platforms": args.platforms, "deliveries": total,
            "worker_concurrency": args.concurrency, "confirmations": not args.no_confirm,
            "sweep_seconds": round(push.sweep_seconds, 2),
            "all_sent_seconds": round(t_sent, 2),
            "all_confirmed_seconds": None if args.no_confirm else round(push.confirmed_seconds, 2),
            "deliveries_per_second": round(push_rate, 1),
            "numbers_per_second": round(args.numbers / t_sent, 1),
            "number_deliveries_per_second": round(args.numbers * args.platforms / t_sent, 1),
            "confirmed_deliveries_per_second": None if args.no_confirm else round(total / push.confirmed_seconds, 1),
            "baseline_posts_per_second": round(baseline, 1),
            "ratio_to_baseline": round(push_rate / baseline, 2),
            "worker_main_peak_rss_mib": round(peak[0] / 1024, 1),
            "worker_child_peak_rss_mib": round(peak[1] / 1024, 1),
            "broker": broker.split("://")[0],
            # CPU over the whole run (to all confirmed): the worker's process tree, PostgreSQL's backends of the
            # bench database, and this process (the simulator's receivers and the polling).
            "worker_cpu_s_per_delivery": round(worker_cpu / total, 4),
            "db_cpu_s_per_delivery": round(db_cpu.seconds / total, 4),
            "simulator_cpu_s_per_delivery": round(own_cpu / total, 4),
            "db_cpu_share": round(db_cpu.seconds / (worker_cpu + db_cpu.seconds), 3),
            "simulator": sim.stats.as_dict(),
        }
        print("== result")
        for key, value in result.items():
            print(f"   {key:34} {value}")
        out = BASE_DIR / "bench-results"
        out.mkdir(exist_ok=True)
        (out / "batch_bench.json").write_text(json.dumps(result, indent=2))
        record(Result(
            name=f"batch push {args.numbers:,} numbers x {args.platforms} platforms, {result['broker']}, "
                 f"concurrency {args.concurrency}", figure=push_rate, baseline=baseline, unit="deliveries/s",
            peak_rss_mb=round((peak[0] + peak[1]) / 1024, 1),
            baseline_label="sequential signed 1,000-number POSTs from one process, no database, no broker",
            extra={k: result[k] for k in ("all_sent_seconds", "all_confirmed_seconds", "worker_cpu_s_per_delivery",
                                          "db_cpu_s_per_delivery", "db_cpu_share")}))
        assert sim.stats.received == total and sim.stats.bad_signature == 0, sim.stats
        sim.stop()
    finally:
        for proc in procs:
            proc.terminate()
        for proc in procs:
            try:
                proc.wait(15)
            except subprocess.TimeoutExpired:
                proc.kill()


if __name__ == "__main__":
    main()
