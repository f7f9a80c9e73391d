"""Benchmark: N unbind-all requests against simulated platforms with one worker, until every task is final.

Runs the real thing: a worker for the pump and sweeps and one for the `interactive` queue (subprocesses, as
`make run`), the API under gunicorn (subprocess) and a simulator whose platforms answer each delivery with one
call of all its tasks' results (`POST /api/v1/deliveries/{id}/results`). Measured from the moment the N
requests exist (the coalescer's tick) to every task final: coalescing, the pump's signed POSTs, the platforms'
answers and the portal recording them. The baseline, measured in the same run, posts the same kind of results
(another N requests' tasks, the same mix, one call per delivery, with the simulator's concurrency) with a bare
client: no coalescer, no pump, no webhook. Creating the requests is timed apart.

    DEBUG=true DATABASE_URL=postgres://…/scratch CELERY_BROKER_URL=redis://…/N \\
        python manage.py bench_unbind --requests 1000 --platforms 20

Use a scratch database: the command adds numbers, platforms and requests and leaves them.
"""

import json
import os
import subprocess
import sys
import threading
import time
from concurrent.futures import ThreadPoolExecutor
from datetime import timedelta
from pathlib import Path

import requests
from celery import current_app as celery_app
from django.conf import settings
from django.core.management.base import BaseCommand, CommandError
from django.db import connection
from django.utils import timezone

from numbers.models import HolderPeriod, Operator, PhoneNumber, State
from renewal.active import services as unbind
from renewal.deliveries import services as outbox
from renewal.deliveries import unbind as coalescer
from renewal.deliveries.tasks import unbind_coalesce_task
from renewal.models import Delivery, DeliveryEvent, DeliveryState, Platform, PlatformStatus, UnbindRequest
from renewal.platforms import services
from renewal.simulator import unbind as unbind_simulator
from renewal.simulator.server import SimPlatform, Simulator

CONCURRENCY = 16  # the simulator's answering threads, and the baseline client's


class Command(BaseCommand):
    help = "Time N unbind-all requests to final states against simulated platforms with one worker."

    def add_arguments(self, parser):
        parser.add_argument("--requests", type=int, default=1000)
        parser.add_argument("--platforms", type=int, default=20)
        parser.add_argument("--baseline-requests", type=int, default=None,
                            help="requests whose results the bare-client baseline posts (default: --requests)")
        parser.add_argument("--api-port", type=int, default=8510)
        parser.add_argument("--sim-port", type=int, default=8520)
        parser.add_argument("--timeout", type=float, default=900)

    def handle(self, *args, **o):
        if connection.vendor != "postgresql" or not settings.CELERY_BROKER_URL.startswith(("redis://", "amqp://")):
            raise CommandError("Run it on PostgreSQL with a real broker (DATABASE_URL, CELERY_BROKER_URL).")
        if not settings.RENEWAL_WEBHOOK_ALLOW_LOOPBACK:
            raise CommandError("The simulator listens on 127.0.0.1: run with DEBUG=true.")
        celery_app.conf.task_always_eager = False
        celery_app.control.purge()
        api_url = f"http://127.0.0.1:{o['api_port']}"
        procs = self._start(o["api_port"])
        sim = None
        try:
            self._wait(lambda: self._up(api_url) and len(celery_app.control.ping(timeout=0.5)) >= 2, 90,
                       "workers and API")
            stamp = int(time.time())
            platforms, keys = self._platforms(o["platforms"], stamp)
            sim = Simulator(port=o["sim_port"], api_url=api_url, confirm_threads=CONCURRENCY, platforms=[
                SimPlatform(platform_id=p.pk, name=p.name, secrets=services.platform_secrets(p), api_key=keys[p.pk])
                for p in platforms]).start()
            unbind_simulator.configure(sim, {"unbound": 0.5, "nothing_bound": 0.4, "rejected": 0.1})
            for p in platforms:
                Platform.objects.filter(pk=p.pk).update(webhook_url=sim.url_for(p.pk))
            n_base = o["baseline_requests"] or o["requests"]
            periods = self._holders(o["requests"] + n_base, stamp)
            base = self._baseline(periods[:n_base], sim, api_url, keys, o["timeout"])
            main = self._run(periods[n_base:], timeout=o["timeout"])
            self._report(o, base, main, sim)
        finally:
            if sim:
                sim.stop()
            for p in procs:
                p.terminate()
            for p in procs:
                try:
                    p.wait(timeout=20)
                except subprocess.TimeoutExpired:
                    p.kill()

    # --- setup ---

    def _start(self, api_port: int) -> list:
        env = {**os.environ, "RENEWAL_API_RATE": "1000000/min"}  # the simulator reports far faster than people
        bin_dir = Path(sys.executable).parent
        Path(settings.VAR_DIR).mkdir(parents=True, exist_ok=True)
        log = (Path(settings.VAR_DIR) / "bench-unbind.log").open("w")
        common = ["--loglevel=WARNING", "--without-gossip", "--without-mingle"]
        # As `make run` and the deployment in docs/operations.md run them.
        workers = [subprocess.Popen([str(bin_dir / "celery"), "-A", "portal", "worker", "-Q", queues, "-n",
                                     f"{name}@%h", f"--pool={pool}", f"--concurrency={n}", *common],
                                    cwd=settings.BASE_DIR, env=env, stdout=log, stderr=subprocess.STDOUT)
                   for name, queues, pool, n in (("main", "pump,celery", "threads", 4),
                                                 ("interactive", "interactive", "prefork", 1))]
        web = subprocess.Popen([str(bin_dir / "gunicorn"), "portal.wsgi", "-b", f"127.0.0.1:{api_port}", "-w", "2",
                                "--threads", "4", "--log-level", "warning"],
                               cwd=settings.BASE_DIR, env=env, stdout=log, stderr=subprocess.STDOUT)
        return [*workers, web]

    def _up(self, url: str) -> bool:
        try:
            return requests.get(url + "/api/v1/health", timeout=2).status_code in (200, 503)
        except requests.RequestException:
            return False

    def _wait(self, predicate, timeout: float, what: str):
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            if predicate():
                return
            time.sleep(0.2)
        raise CommandError(f"{what}: not ready after {timeout:.0f} s")

    def _platforms(self, n: int, stamp: int):
        platforms, keys = [], {}
        for i in range(n):
            p = services.platform_create(name=f"bench-{stamp}-{i}", category="payment", status=PlatformStatus.LIVE,
                                         webhook_url="")
            keys[p.pk] = services.api_key_create(platform=p, name="bench")[1]
            platforms.append(p)
        # Only this run's platforms take part.
        Platform.objects.exclude(pk__in=[p.pk for p in platforms]).filter(status=PlatformStatus.LIVE).update(
            status=PlatformStatus.SANDBOX)
        return platforms, keys

    def _holders(self, n: int, stamp: int) -> list:
        operator, _ = Operator.objects.get_or_create(code="BENCH", defaults={"name": "Bench",
                                                                             "coverage_start": "2020-01-01"})
        start = timezone.now() - timedelta(days=30)
        numbers = PhoneNumber.objects.bulk_create([
            PhoneNumber(msisdn=f"+86199{stamp % 10**4:04d}{i:04d}", range_holder=operator, serving_operator=operator,
                        state=State.ACTIVE) for i in range(n)], batch_size=2000)
        return HolderPeriod.objects.bulk_create([
            HolderPeriod(number=num, operator=operator, started_at=start, customer_ref=f"B-{i}")
            for i, num in enumerate(numbers)], batch_size=2000)

    # --- the runs ---

    def _create(self, periods: list) -> tuple[list, float]:
        t0 = time.monotonic()
        ids = [unbind.unbind_request_create(period=period).pk for period in periods]
        return ids, time.monotonic() - t0

    def _finished(self, ids: list) -> bool:
        return not UnbindRequest.objects.filter(pk__in=ids, finished_at__isnull=True).exists()

    def _baseline(self, periods: list, sim: Simulator, api_url: str, keys: dict, timeout: float) -> dict:
        """The same kind of results, posted with a bare client: no coalescer, no pump, no webhook."""
        ids, created = self._create(periods)
        delivery_ids = coalescer.unbind_coalesce()  # in this process: no task, so the pump is never kicked
        # The platforms "received" them by hand: nothing is left for the pump.
        Delivery.objects.filter(pk__in=delivery_ids).update(state=DeliveryState.SENT, sent_at=timezone.now(),
                                                            next_attempt_at=None)
        deliveries = list(Delivery.objects.filter(pk__in=delivery_ids))
        platform_of = {d.pk: d.platform_id for d in deliveries}
        calls = []
        for delivery, body in outbox.delivery_bodies(deliveries).items():
            platform_id = platform_of[delivery]
            action = unbind_simulator.answer_unbind(sim, sim.platforms[platform_id], json.loads(body))
            if action:
                calls.append((keys[platform_id], *action))
        local = threading.local()

        def post(call: tuple) -> None:
            key, path, payload = call
            if not hasattr(local, "session"):
                local.session = requests.Session()
                local.session.trust_env = False
            response = local.session.post(api_url + path, json=payload, timeout=(3, 120),
                                          headers={"Authorization": f"Bearer {key}"})
            response.raise_for_status()

        t0 = time.monotonic()
        with ThreadPoolExecutor(CONCURRENCY) as pool:
            list(pool.map(post, calls))
        self._wait(lambda: self._finished(ids), timeout, "baseline requests to finish")
        return {"requests": len(ids), "created_s": created, "total_s": time.monotonic() - t0,
                "deliveries": len(delivery_ids), "calls": len(calls)}

    def _run(self, periods: list, *, timeout: float) -> dict:
        before = Delivery.objects.filter(event=DeliveryEvent.UNBIND).count()
        ids, created = self._create(periods)
        t0 = time.monotonic()
        unbind_coalesce_task.delay()  # the coalescer's beat tick after the window; it kicks the pump
        self._wait(lambda: self._finished(ids), timeout, "requests to finish")
        total = time.monotonic() - t0
        return {"requests": len(ids), "created_s": created, "total_s": total,
                "deliveries": Delivery.objects.filter(event=DeliveryEvent.UNBIND).count() - before}

    def _report(self, o, base: dict, main: dict, sim: Simulator) -> None:
        p = o["platforms"]
        w = self.stdout.write
        w(f"unbind-all requests, {p} live platforms, one worker (threads 4) and an interactive worker, API on "
          f"gunicorn (2x4), PostgreSQL + {settings.CELERY_BROKER_URL.split('://')[0]}")
        w(f"  baseline: bare client, {CONCURRENCY} at once: {base['requests']} requests' {base['requests'] * p} "
          f"results in {base['calls']} calls: {base['total_s']:7.2f} s  "
          f"({base['requests'] * p / base['total_s']:7.0f} results/s)")
        tasks = main["requests"] * p
        w(f"  portal: {main['requests']} requests ({tasks} tasks) -> {main['deliveries']} deliveries, coalesced, "
          f"pumped, answered in one call each: all final in {main['total_s']:7.2f} s "
          f"({tasks / main['total_s']:7.0f} results/s)")
        w(f"  requests created beforehand in {main['created_s']:.2f} s (baseline's: {base['created_s']:.2f} s); "
          f"from the first request to all final: {main['created_s'] + main['total_s']:.2f} s")
        # As results a second, so that a baseline of another size still compares (the same size: the time ratio).
        ratio = (tasks / main["total_s"]) / (base["requests"] * p / base["total_s"])
        w(f"  ratio portal / bare client (results a second) = {ratio:.2f}")
        w(f"  deliveries per request: {main['deliveries'] / main['requests']:.3f}")
        w(f"  simulator: {sim.stats.as_dict()}")
