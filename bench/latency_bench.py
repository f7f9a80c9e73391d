"""Benchmark: deliveries at real-platform speed — N numbers x P simulated platforms answering after L ms, one worker.

    DATABASE_URL=postgres://postgres@127.0.0.1:5432/portal CELERY_BROKER_URL=redis://127.0.0.1:6379/15 \\
        .venv/bin/python bench/latency_bench.py --numbers 100000 --platforms 20 --latency 200

It makes a fresh database `<name>_latency` (migrated), N frozen numbers and P live platforms, and starts one
worker for the pump and the sweeps (`celery worker -Q pump,celery --pool threads --concurrency 4`) and one for
the `interactive` queue, as `make run` does (`--pool`/`--concurrency` try others). The simulated platforms
run in a process of their own (they verify every signature with the `standardwebhooks` library and answer after
L ms). Runs, in this order, each measured in this run:

1. the pump at L ms, the simulator verifying and answering but not confirming: time from the batch's commit to
   every delivery `sent`; meanwhile a sign-in SMS is sent every half second through the interactive worker and
   its latency (enqueued → in the SMS outbox) measured;
2. the baseline at L ms: the same signed bodies (built beforehand, signed afresh per POST) sent by a bare asyncio
   sender (aiohttp) with the pump's total concurrency — min(RENEWAL_PUMP_TASKS x RENEWAL_PUMP_CONCURRENCY,
   P x max_in_flight), at most max_in_flight per platform — to the same simulator, with no database and no broker;
3. the pump at 0 ms (the same deliveries, pending again), and
4. the baseline at 0 ms: the same bodies POSTed one after another by one plain client (requests), signed afresh;
5. the pump at L ms with confirmations through the API (gunicorn): time to all sent, and to all confirmed.

Peak RSS is the sum over the pump worker's process tree (main process and pool children), sampled every 0.5 s.
The profile is the sum of the pump slices' own timers (claim, bodies, sign, submit, record, and waiting for
answers), read from the worker's log. Figures go to stdout and bench-results/latency_bench.json.
"""

import argparse
import asyncio
import json
import os
import re
import signal
import statistics
import subprocess
import sys
import threading
import time
from datetime import timedelta
from pathlib import Path
from urllib.parse import urlsplit, urlunsplit

BASE_DIR = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(BASE_DIR))

_SLICE = re.compile(r"pump slice: claimed (\d+) sent (\d+) .*?\(\d+ claims, \d+ records; claim ([\d.]+) "
                    r"bodies ([\d.]+) sign ([\d.]+) submit ([\d.]+) record ([\d.]+) wait ([\d.]+)\)")
PROFILE_KEYS = ("claim", "bodies", "sign", "submit", "record", "wait")


# --- the simulated platforms, in a process of their own ----------------------------------------------------


def serve_simulator(argv: list[str]) -> None:
    """`latency_bench.py simulate PORT LATENCY_MS PLATFORMS_JSON STATS_FILE [API_URL]`: run until SIGTERM."""
    from renewal.simulator.server import SimPlatform, Simulator

    port, latency, platforms_file, stats_file = int(argv[0]), int(argv[1]), argv[2], argv[3]
    api_url = argv[4] if len(argv) > 4 else None
    platforms = [SimPlatform(platform_id=p["id"], name=p["name"], secrets=p["secrets"], api_key=p["key"])
                 for p in json.loads(Path(platforms_file).read_text())]
    sim = Simulator(port=port, platforms=platforms, api_url=api_url, latency_ms=latency, confirm_threads=8).start()
    stop = threading.Event()
    signal.signal(signal.SIGTERM, lambda *a: stop.set())

    def write() -> None:
        stats = sim.stats.as_dict() | {"posts": sum(p.requests for p in sim.platforms.values())}
        Path(stats_file + ".tmp").write_text(json.dumps(stats))
        os.replace(stats_file + ".tmp", stats_file)

    while not stop.wait(0.25):
        write()
    write()
    sim.stop()


class SimProcess:
    def __init__(self, *, port: int, latency: int, platforms: list[dict], workdir: Path, api_url: str | None = None):
        self.stats_file = workdir / f"sim-{port}.json"
        self.stats_file.unlink(missing_ok=True)
        spec = workdir / f"sim-{port}-platforms.json"
        spec.write_text(json.dumps(platforms))
        argv = [sys.executable, __file__, "simulate", str(port), str(latency), str(spec), str(self.stats_file)]
        self.proc = subprocess.Popen(argv + ([api_url] if api_url else []), cwd=BASE_DIR)
        self.url = f"http://127.0.0.1:{port}/p"
        _wait(lambda: self.stats_file.exists(), 30, "the simulator")

    def stats(self) -> dict:
        try:
            return json.loads(self.stats_file.read_text())
        except (OSError, ValueError):
            return {}

    def stop(self) -> dict:
        self.proc.terminate()
        self.proc.wait(20)
        return self.stats()


# --- helpers -----------------------------------------------------------------------------------------------


def _wait(predicate, timeout: float, what: str, every: float = 0.1):
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        value = predicate()
        if value:
            return value
        time.sleep(every)
    sys.exit(f"timed out waiting for {what}")


def _tree(pid: int) -> list[int]:
    out, todo = [], [pid]
    while todo:
        p = todo.pop()
        out.append(p)
        for task in Path(f"/proc/{p}/task").glob("*/children"):
            try:
                todo += [int(c) for c in task.read_text().split()]
            except OSError:
                pass
    return out


def _rss_kib(pid: int) -> int:
    try:
        for line in Path(f"/proc/{pid}/status").read_text().splitlines():
            if line.startswith("VmRSS:"):
                return int(line.split()[1])
    except OSError:
        pass
    return 0


def _cpu_seconds(pid: int) -> float:
    """User and system CPU seconds of a process tree (the processes alive now)."""
    ticks = os.sysconf("SC_CLK_TCK")
    total = 0
    for p in _tree(pid):
        try:
            fields = Path(f"/proc/{p}/stat").read_text().rsplit(")", 1)[1].split()
            total += int(fields[11]) + int(fields[12])
        except (OSError, IndexError, ValueError):
            pass
    return total / ticks


class RssSampler(threading.Thread):
    """The sum of VmRSS over a process tree, every 0.5 s; `peak` in KiB."""

    def __init__(self, pid: int):
        super().__init__(daemon=True)
        self.pid, self.peak, self.stopping = pid, 0, threading.Event()

    def run(self) -> None:
        while not self.stopping.wait(0.5):
            self.peak = max(self.peak, sum(_rss_kib(p) for p in _tree(self.pid)))


def _db_url(url: str, suffix: str) -> str:
    parts = urlsplit(url)
    return urlunsplit(parts._replace(path=parts.path.rstrip("/") + suffix))


def _recreate_database(url: str) -> None:
    import psycopg

    parts = urlsplit(url)
    admin = urlunsplit(parts._replace(path="/postgres"))
    with psycopg.connect(admin, autocommit=True) as conn:
        conn.execute(f'DROP DATABASE IF EXISTS "{parts.path.lstrip("/")}" WITH (FORCE)')
        conn.execute(f'CREATE DATABASE "{parts.path.lstrip("/")}"')


def _profile(log: Path, start: int) -> tuple[dict, int]:
    """Sum the pump slices' timers logged after byte `start`; return them and the log's new end."""
    text = log.read_text(errors="replace")
    totals = dict.fromkeys(PROFILE_KEYS, 0.0) | {"slices": 0, "claimed": 0}
    for m in _SLICE.finditer(text[start:]):
        totals["slices"] += 1
        totals["claimed"] += int(m.group(1))
        for key, value in zip(PROFILE_KEYS, m.groups()[2:], strict=True):
            totals[key] += float(value)
    return totals, len(text)


# --- the baselines -----------------------------------------------------------------------------------------


def baseline_concurrent(deliveries: list, parts: dict, keys: dict, url_of, concurrency: int,
                        per_platform: int) -> float:
    """POST every delivery's body, signed afresh, with asyncio and aiohttp; return the seconds it took."""
    import aiohttp

    from renewal.platforms.signing import signature_headers

    async def run() -> float:
        connector = aiohttp.TCPConnector(limit=concurrency, limit_per_host=0)
        gate = asyncio.Semaphore(concurrency)
        platform_gates = {p: asyncio.Semaphore(per_platform) for p in keys}
        async with aiohttp.ClientSession(connector=connector) as session:
            async def one(delivery_id: str, platform_id: int, chunk_id: int) -> None:
                async with platform_gates[platform_id], gate:
                    body = _body(delivery_id, parts[chunk_id])
                    headers = {**signature_headers(keys=keys[platform_id], msg_id=delivery_id, body=body),
                               "X-Renewal-Event": "recycled_numbers.batch", "Content-Type": "application/json"}
                    async with session.post(url_of(platform_id), data=body, headers=headers) as response:
                        await response.read()
                        assert response.status == 200, response.status

            t = time.perf_counter()
            await asyncio.gather(*(one(*d) for d in deliveries))
            return time.perf_counter() - t

    return asyncio.run(run())


def baseline_sequential(deliveries: list, parts: dict, keys: dict, url_of) -> float:
    import requests

    from renewal.platforms.signing import signature_headers

    session = requests.Session()
    session.trust_env = False
    t = time.perf_counter()
    for delivery_id, platform_id, chunk_id in deliveries:
        body = _body(delivery_id, parts[chunk_id])
        headers = {**signature_headers(keys=keys[platform_id], msg_id=delivery_id, body=body),
                   "X-Renewal-Event": "recycled_numbers.batch", "Content-Type": "application/json"}
        session.post(url_of(platform_id), data=body, headers=headers).raise_for_status()
    return time.perf_counter() - t


def _body(delivery_id: str, part: tuple[bytes, bytes]) -> bytes:
    operator, numbers = part
    return (b'{"event":"recycled_numbers.batch","delivery_id":"' + delivery_id.encode() + b'","operator":' + operator
            + b',"numbers":' + numbers + b"}")


# --- the benchmark -----------------------------------------------------------------------------------------


def main() -> None:  # noqa: C901 (one scenario, read top to bottom)
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--numbers", type=int, default=100_000)
    parser.add_argument("--platforms", type=int, default=20)
    parser.add_argument("--latency", type=int, default=200, help="milliseconds before each simulated answer")
    parser.add_argument("--port", type=int, default=8560, help="API on PORT, simulators on PORT+1…PORT+5")
    parser.add_argument("--timeout", type=float, default=1800)
    parser.add_argument("--skip-confirm-run", action="store_true", help="leave out run 5 (confirmations)")
    parser.add_argument("--pool", default="threads", choices=["prefork", "threads"], help="the pump worker's pool")
    parser.add_argument("--concurrency", type=int, default=4, help="the pump worker's pool size")
    args = parser.parse_args()

    from bench.common import required_services

    source, _broker = required_services(brokers=("redis://",))
    db_url = _db_url(source, "_latency")
    workdir = BASE_DIR / "var" / "latency-bench"
    workdir.mkdir(parents=True, exist_ok=True)
    env = {**os.environ, "DATABASE_URL": db_url, "DEBUG": "true", "LOG_LEVEL": "WARNING",
           "SWEEP_INTERVAL_SECONDS": "3600", "RENEWAL_API_RATE": "1000000/min",
           "SMS_BACKEND": "renewal.active.sms.DatabaseBackend", "PORTAL_VAR_DIR": str(workdir / "var")}
    env.pop("DJANGO_SETTINGS_MODULE", None)
    print(f"== fresh database {urlsplit(db_url).path.lstrip('/')}, migrating…", flush=True)
    _recreate_database(db_url)
    for command in (["migrate", "-v0"], ["createcachetable"]):
        subprocess.run([sys.executable, "manage.py", *command], env=env, cwd=BASE_DIR, check=True)
    os.environ.update({k: env[k] for k in ("DATABASE_URL", "DEBUG", "LOG_LEVEL", "SMS_BACKEND", "PORTAL_VAR_DIR")})
    os.environ["DJANGO_SETTINGS_MODULE"] = "portal.settings"

    import django

    import portal.stdlib_numbers  # noqa: F401

    django.setup()
    from celery import current_app
    from django.conf import settings
    from django.db import connection
    from django.db.models import Count
    from django.utils import timezone

    from numbers.models import HolderPeriod, Operator, PhoneNumber, State
    from renewal.deliveries import bodies, queue, services
    from renewal.models import (
        BatchChunk,
        Delivery,
        DeliveryAttempt,
        DeliveryState,
        Platform,
        PlatformStatus,
        SmsMessage,
    )
    from renewal.platforms import services as platform_services

    procs: list[subprocess.Popen] = []
    sims: list[SimProcess] = []
    result: dict = {"numbers": args.numbers, "platforms": args.platforms, "latency_ms": args.latency,
                    "worker": f"one worker, -Q pump,celery, --pool={args.pool} --concurrency={args.concurrency}"}
    try:
        # --- data ---
        t = time.perf_counter()
        operator = Operator.objects.create(code="BENCH", name="Bench operator", coverage_start="2020-01-01")
        now = timezone.now()
        cancelled = now - timedelta(days=80)
        for start in range(0, args.numbers, 10_000):
            PhoneNumber.objects.bulk_create([
                PhoneNumber(msisdn=f"+86147{start + i:08d}", range_holder=operator, serving_operator=operator,
                            state=State.FROZEN, cancelled_at=cancelled, frozen_until=cancelled + timedelta(days=90))
                for i in range(min(10_000, args.numbers - start))], batch_size=5000)
        with connection.cursor() as cursor:
            cursor.execute(
                f"INSERT INTO {HolderPeriod._meta.db_table} (number_id, operator_id, ended_at, customer_ref, "
                f"requires_disclosure) SELECT id, range_holder_id, cancelled_at, '', false "
                f"FROM {PhoneNumber._meta.db_table} WHERE range_holder_id = %s", [operator.pk])
            cursor.execute(
                f"UPDATE {PhoneNumber._meta.db_table} n SET cycle_id = hp.id FROM {HolderPeriod._meta.db_table} hp "
                f"WHERE hp.number_id = n.id")
        # a number in service, for the sign-in SMS measured during the push
        subscriber = PhoneNumber.objects.create(msisdn="+8613900001234", range_holder=operator,
                                                serving_operator=operator, state=State.ACTIVE)
        HolderPeriod.objects.create(number=subscriber, operator=operator, started_at=now - timedelta(days=30),
                                    customer_ref="SMS")
        platforms = [platform_services.platform_create(name=f"Bench platform {i:02d}", category="payment",
                                                       status=PlatformStatus.LIVE) for i in range(args.platforms)]
        keys = {p.pk: platform_services.platform_signing_keys(p) for p in platforms}
        specs = [{"id": p.pk, "name": p.name, "secrets": platform_services.platform_secrets(p),
                  "key": platform_services.api_key_create(platform=p, name="bench")[1]} for p in platforms]
        print(f"   {args.numbers} frozen numbers and {args.platforms} platforms in {time.perf_counter() - t:.1f} s",
              flush=True)

        def point_at(sim: SimProcess) -> None:
            for p in platforms:
                Platform.objects.filter(pk=p.pk).update(webhook_url=f"{sim.url}/{p.pk}")

        # --- processes: the API (for confirmations), the pump worker, the interactive worker ---
        api_url = f"http://127.0.0.1:{args.port}"
        log = (workdir / "worker.log").open("w")
        procs.append(subprocess.Popen(
            [sys.executable, "-m", "gunicorn", "portal.wsgi", "-b", f"127.0.0.1:{args.port}", "-w", "4",
             "--log-level", "warning"], env=env, cwd=BASE_DIR, stdout=log, stderr=subprocess.STDOUT))
        subprocess.run([sys.executable, "-m", "celery", "-A", "portal", "purge", "-f", "-Q",
                        "interactive,pump,celery"], env=env, cwd=BASE_DIR, check=True, capture_output=True)
        worker_args = ["--loglevel=INFO", "--without-mingle", "--without-gossip", "--without-heartbeat"]
        worker = subprocess.Popen(
            [sys.executable, "-m", "celery", "-A", "portal", "worker", "-Q", "pump,celery", "-n", "pump@%h",
             f"--pool={args.pool}", f"--concurrency={args.concurrency}", *worker_args], env=env, cwd=BASE_DIR,
            stdout=log, stderr=subprocess.STDOUT)
        procs.append(worker)
        procs.append(subprocess.Popen(
            [sys.executable, "-m", "celery", "-A", "portal", "worker", "-Q", "interactive", "-n", "interactive@%h",
             "--concurrency=1", *worker_args], env=env, cwd=BASE_DIR, stdout=log, stderr=subprocess.STDOUT))
        _wait(lambda: len(current_app.control.ping(timeout=1)) >= 2, 120, "the two workers")
        rss = RssSampler(worker.pid)
        rss.start()
        log_end = 0

        def wait_sent(total: int, t0: float, timeout: float) -> float:
            _wait(lambda: Delivery.objects.filter(state__in=[DeliveryState.SENT, DeliveryState.CONFIRMED])
                  .count() == total, timeout, "every delivery sent", every=0.2)
            return time.perf_counter() - t0

        def pump_idle() -> bool:
            from django.core.cache import cache

            return all(cache.get(f"renewal:pump:slot:{s}") is None for s in range(settings.RENEWAL_PUMP_TASKS))

        def reset() -> None:
            _wait(pump_idle, 120, "the pump to finish its chains")
            Delivery.objects.update(state=DeliveryState.PENDING, attempts=0, next_attempt_at=timezone.now(),
                                    sent_at=None, claimed_until=None, confirmed_at=None, confirmed_unbound=None,
                                    confirmed_not_found=None, last_error="")
            BatchChunk.objects.update(deliveries_done=0)
            DeliveryAttempt.objects.all().delete()

        # --- 1. the pump at L ms, no confirmation; the sign-in SMS meanwhile ---
        sim = SimProcess(port=args.port + 1, latency=args.latency, platforms=specs, workdir=workdir)
        sims.append(sim)
        point_at(sim)
        sms_latencies: list[float] = []
        sms_stop = threading.Event()

        def sms_probe() -> None:
            from django.db import connection as thread_connection

            from renewal.active.tasks import sms_code_send_task

            try:
                while not sms_stop.is_set():
                    last = SmsMessage.objects.order_by("-id").values_list("id", flat=True).first() or 0
                    sent = time.time()
                    sms_code_send_task.delay(subscriber.msisdn, "en")
                    message = _wait(lambda after=last: SmsMessage.objects.filter(id__gt=after).first(), 60,
                                    "the SMS")
                    sms_latencies.append(message.sent_at.timestamp() - sent)
                    sms_stop.wait(0.5)
            finally:
                thread_connection.close()

        t0 = time.perf_counter()
        batch_ids = services.batch_sweep()  # commits; the pump is kicked through Redis
        t_sweep = time.perf_counter() - t0
        total = Delivery.objects.filter(chunk__batch_id__in=batch_ids).count()
        print(f"== sweep: {args.numbers} numbers -> {total} deliveries in {t_sweep:.2f} s; pumping at "
              f"{args.latency} ms…", flush=True)
        probe = threading.Thread(target=sms_probe, daemon=True)
        cpu0 = _cpu_seconds(worker.pid)
        probe.start()
        t_pump = wait_sent(total, t0 + t_sweep, args.timeout)
        cpu1 = _cpu_seconds(worker.pid)
        sms_stop.set()
        probe.join(70)
        stats = sim.stop()
        _wait(pump_idle, 120, "the pump to log its last slice")
        profile, log_end = _profile(workdir / "worker.log", log_end)
        assert stats["received"] == total and stats["bad_signature"] == 0, stats
        max_in_flight = max(p.max_in_flight for p in Platform.objects.all())
        # The pump's total concurrency: per worker process, over the processes pumping, within the platforms' limits.
        processes = min(args.concurrency, settings.RENEWAL_PUMP_TASKS) if args.pool == "prefork" else 1
        pump_concurrency = min(processes * settings.RENEWAL_PUMP_CONCURRENCY, args.platforms * max_in_flight)
        result["run_1_pump_at_latency"] = {
            "deliveries": total, "sweep_seconds": round(t_sweep, 2), "all_sent_seconds": round(t_pump, 2),
            "deliveries_per_second": round(total / t_pump, 1), "simulator": stats,
            "max_in_flight_seen_per_platform": stats["max_in_flight"], "platform_limit": max_in_flight,
            "profile_seconds": {k: round(v, 2) for k, v in profile.items()},
            "worker_cpu_seconds": round(cpu1 - cpu0, 2),
        }
        result["sms_latency_during_push_seconds"] = {
            "samples": len(sms_latencies), "median": round(statistics.median(sms_latencies), 3),
            "max": round(max(sms_latencies), 3)} if sms_latencies else {"samples": 0}
        print(f"   pump at {args.latency} ms: {total} deliveries sent in {t_pump:.2f} s "
              f"({total / t_pump:.1f}/s); sign-in SMS {result['sms_latency_during_push_seconds']}", flush=True)

        # the same bodies, built beforehand (the baselines do no database work while timed)
        rows = list(Delivery.objects.order_by("chunk_id", "platform_id").values_list("id", "platform_id", "chunk_id"))
        deliveries = [(str(i), p, c) for i, p, c in rows]
        parts = bodies._chunk_parts(sorted({c for _, _, c in rows}))

        # --- 2. the baseline at L ms: a bare asyncio sender with the pump's total concurrency ---
        sim = SimProcess(port=args.port + 2, latency=args.latency, platforms=specs, workdir=workdir)
        sims.append(sim)
        t_base = baseline_concurrent(deliveries, parts, keys, lambda pid: f"{sim.url}/{pid}", pump_concurrency,
                                     max_in_flight)
        stats = sim.stop()
        assert stats["received"] == total and stats["bad_signature"] == 0, stats
        result["run_2_baseline_at_latency"] = {
            "concurrency": pump_concurrency, "all_sent_seconds": round(t_base, 2),
            "deliveries_per_second": round(total / t_base, 1)}
        result["ratio_pump_to_baseline_at_latency"] = round(t_base / t_pump, 2)
        print(f"   baseline at {args.latency} ms (asyncio, {pump_concurrency} at once): {t_base:.2f} s "
              f"({total / t_base:.1f}/s) -> ratio {t_base / t_pump:.2f}", flush=True)

        # --- 3. the pump at 0 ms ---
        reset()
        sim = SimProcess(port=args.port + 3, latency=0, platforms=specs, workdir=workdir)
        sims.append(sim)
        point_at(sim)
        t0 = time.perf_counter()
        cpu0 = _cpu_seconds(worker.pid)
        queue.pump_kick()
        t_pump0 = wait_sent(total, t0, args.timeout)
        cpu1 = _cpu_seconds(worker.pid)
        stats = sim.stop()
        _wait(pump_idle, 120, "the pump to log its last slice")
        profile0, log_end = _profile(workdir / "worker.log", log_end)
        assert stats["received"] == total and stats["bad_signature"] == 0, stats
        result["run_3_pump_at_0_ms"] = {"all_sent_seconds": round(t_pump0, 2),
                                        "deliveries_per_second": round(total / t_pump0, 1),
                                        "profile_seconds": {k: round(v, 2) for k, v in profile0.items()},
                                        "worker_cpu_seconds": round(cpu1 - cpu0, 2)}
        print(f"   pump at 0 ms: {t_pump0:.2f} s ({total / t_pump0:.1f}/s)", flush=True)

        # --- 4. the baseline at 0 ms: the plain sequential loop ---
        sim = SimProcess(port=args.port + 4, latency=0, platforms=specs, workdir=workdir)
        sims.append(sim)
        t_seq = baseline_sequential(deliveries, parts, keys, lambda pid: f"{sim.url}/{pid}")
        stats = sim.stop()
        assert stats["received"] == total, stats
        result["run_4_sequential_at_0_ms"] = {"all_sent_seconds": round(t_seq, 2),
                                              "deliveries_per_second": round(total / t_seq, 1)}
        result["ratio_pump_to_sequential_at_0_ms"] = round(t_seq / t_pump0, 2)
        print(f"   sequential loop at 0 ms: {t_seq:.2f} s ({total / t_seq:.1f}/s) -> ratio {t_seq / t_pump0:.2f}",
              flush=True)

        # --- 5. the pump at L ms, with confirmations through the API ---
        if not args.skip_confirm_run:
            reset()
            _wait(lambda: _up(api_url), 60, "the API")
            sim = SimProcess(port=args.port + 5, latency=args.latency, platforms=specs, workdir=workdir,
                             api_url=api_url)
            sims.append(sim)
            point_at(sim)
            t0 = time.perf_counter()
            queue.pump_kick()
            t_sent = wait_sent(total, t0, args.timeout)
            _wait(lambda: Delivery.objects.filter(state=DeliveryState.CONFIRMED).count() == total, args.timeout,
                  "every delivery confirmed", every=0.2)
            t_confirmed = time.perf_counter() - t0
            stats = sim.stop()
            result["run_5_pump_at_latency_with_confirmations"] = {
                "all_sent_seconds": round(t_sent, 2), "all_confirmed_seconds": round(t_confirmed, 2),
                "confirmed_per_second": round(total / t_confirmed, 1), "simulator": stats}
            print(f"   pump at {args.latency} ms, confirming: all sent {t_sent:.2f} s, all confirmed "
                  f"{t_confirmed:.2f} s", flush=True)

        rss.stopping.set()
        rss.join(2)
        result["worker_tree_peak_rss_mib"] = round(rss.peak / 1024, 1)
        per_day = 240_000
        result["projected_national_day_hours_one_worker"] = round(per_day / (total / t_pump) / 3600, 2)
        result["states"] = dict(Delivery.objects.values_list("state").annotate(n=Count("id")))
        print("== result")
        for key, value in result.items():
            print(f"   {key:42} {value}")
        out = BASE_DIR / "bench-results"
        out.mkdir(exist_ok=True)
        (out / "latency_bench.json").write_text(json.dumps(result, indent=2, default=str))
    finally:
        for sim in sims:
            if sim.proc.poll() is None:
                sim.proc.terminate()
        for proc in procs:
            proc.terminate()
        for proc in procs:
            try:
                proc.wait(20)
            except subprocess.TimeoutExpired:
                proc.kill()


def _up(url: str) -> bool:
    import requests

    try:
        return requests.get(url + "/api/v1/health/live", timeout=2).status_code == 200
    except requests.RequestException:
        return False


if __name__ == "__main__":
    if sys.argv[1:2] == ["simulate"]:
        serve_simulator(sys.argv[2:])
    else:
        main()
