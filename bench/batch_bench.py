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


def _bench_db_url(url: str) -> str:
    parts = urlsplit(url)
    return urlunsplit(parts._replace(path=parts.path.rstrip("/") + "_bench"))


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

    source = os.environ.get("DATABASE_URL", "")
    broker = os.environ.get("CELERY_BROKER_URL", "")
    if not source.startswith("postgres") or not broker.startswith(("redis://", "amqp://")):
        sys.exit("Set DATABASE_URL (PostgreSQL) and CELERY_BROKER_URL (Redis or RabbitMQ): the figures are for that "
                 "setup.")
    db_url = _bench_db_url(source)
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
    from django.db import connection
    from django.db.models import Count
    from django.utils import timezone

    from bench.common import BackendCpu, Result, record, tree_cpu_seconds
    from numbers.models import HolderPeriod, Operator, PhoneNumber, State
    from renewal.deliveries import bodies, services
    from renewal.models import Delivery, DeliveryState, PlatformStatus
    from renewal.platforms import services as platform_services
    from renewal.platforms.crypto import new_signing_secret
    from renewal.platforms.signing import secret_key, signature_headers
    from renewal.simulator.server import SimPlatform, Simulator

    procs = []
    try:
        # --- data ---
        t = time.perf_counter()
        operator = Operator.objects.create(code="BENCH", name="Bench operator", coverage_start="2020-01-01")
        now = timezone.now()
        cancelled = now - timedelta(days=80)
        for start in range(0, args.numbers, 10_000):
            n = min(10_000, args.numbers - start)
            PhoneNumber.objects.bulk_create([
                PhoneNumber(msisdn=f"+86147{start + i:08d}", range_holder=operator, serving_operator=operator,
                            state=State.FROZEN, cancelled_at=cancelled, frozen_until=cancelled + timedelta(days=90))
                for i in range(n)], batch_size=5000)
        with connection.cursor() as cursor:
            cursor.execute(
                f"INSERT INTO {HolderPeriod._meta.db_table} (number_id, operator_id, ended_at, customer_ref, "
                f"requires_disclosure) SELECT id, range_holder_id, cancelled_at, '', false "
                f"FROM {PhoneNumber._meta.db_table} WHERE range_holder_id = %s", [operator.pk])
            cursor.execute(
                f"UPDATE {PhoneNumber._meta.db_table} n SET cycle_id = hp.id FROM {HolderPeriod._meta.db_table} hp "
                f"WHERE hp.number_id = n.id")
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
        sims = []
        for p in platforms:
            sims.append(SimPlatform(platform_id=p.pk, name=p.name, secrets=platform_services.platform_secrets(p),
                                    api_key=platform_services.api_key_create(platform=p, name="bench")[1]))
        sim = Simulator(port=args.port + 1, platforms=sims, api_url=None if args.no_confirm else api_url,
                        confirm_after_ms=0,
                        confirm_threads=8).start()
        for p in platforms:
            type(p).objects.filter(pk=p.pk).update(webhook_url=sim.url_for(p.pk))

        worker_env = {**env}
        subprocess.run([sys.executable, "-m", "celery", "-A", "portal", "purge", "-f"], env=worker_env,
                       cwd=BASE_DIR, check=True, capture_output=True)
        worker = subprocess.Popen(
            [sys.executable, "-m", "celery", "-A", "portal", "worker", f"--concurrency={args.concurrency}",
             "--loglevel=WARNING", "--without-mingle", "--without-gossip", "--without-heartbeat"],
            env=worker_env, cwd=BASE_DIR)
        procs.append(worker)
        time.sleep(4)  # the worker is up
        _wait_live(api_url)

        # --- the run ---
        db_cpu = BackendCpu(db_url.replace("postgres://", "postgresql://", 1),
                            urlsplit(db_url).path.lstrip("/")).__enter__()
        worker_cpu0, own_cpu0 = tree_cpu_seconds(worker.pid), time.process_time()
        t0 = time.perf_counter()
        batch_ids = services.batch_sweep()  # commits; the dispatch task goes to the worker
        t_sweep = time.perf_counter() - t0
        total = Delivery.objects.filter(chunk__batch_id__in=batch_ids).count()
        print(f"== sweep: {args.numbers} numbers -> {total} deliveries in {t_sweep:.2f} s; pushing…", flush=True)
        t_sent = t_confirmed = None
        peak = (0, 0)
        while time.perf_counter() - t0 < args.timeout:
            counts = dict(Delivery.objects.order_by().values_list("state").annotate(n=Count("id")))
            done = counts.get(DeliveryState.SENT, 0) + counts.get(DeliveryState.CONFIRMED, 0)
            if t_sent is None and done == total:
                t_sent = time.perf_counter() - t0
            if counts.get(DeliveryState.CONFIRMED, 0) == total or (args.no_confirm and t_sent is not None):
                t_confirmed = time.perf_counter() - t0
                break
            m = _peak_rss_kib(worker.pid)
            peak = (max(peak[0], m[0]), max(peak[1], m[1]))
            time.sleep(0.25)
        m = _peak_rss_kib(worker.pid)
        peak = (max(peak[0], m[0]), max(peak[1], m[1]))
        worker_cpu, own_cpu = tree_cpu_seconds(worker.pid) - worker_cpu0, time.process_time() - own_cpu0
        db_cpu.__exit__(None, None, None)
        if t_confirmed is None:
            sys.exit(f"timed out: {counts}")
        push_rate = total / t_sent
        result = {
            "numbers": args.numbers, "platforms": args.platforms, "deliveries": total,
            "worker_concurrency": args.concurrency, "confirmations": not args.no_confirm,
            "sweep_seconds": round(t_sweep, 2),
            "all_sent_seconds": round(t_sent, 2),
            "all_confirmed_seconds": None if args.no_confirm else round(t_confirmed, 2),
            "deliveries_per_second": round(push_rate, 1),
            "numbers_per_second": round(args.numbers / t_sent, 1),
            "number_deliveries_per_second": round(args.numbers * args.platforms / t_sent, 1),
            "confirmed_deliveries_per_second": None if args.no_confirm else round(total / t_confirmed, 1),
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
