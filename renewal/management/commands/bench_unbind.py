"""Benchmark: N unbind-all requests against simulated platforms with one worker, until every task is final.

Runs the real thing: a Celery worker (subprocess), the API under gunicorn (subprocess) and a
simulator whose platforms POST each task's result back through the API. Prints the time for the
requests to reach final states and how many deliveries they became, against a baseline measured in
the same run: the same work without coalescing (one delivery per request and platform).

    DEBUG=true DATABASE_URL=postgres://…/scratch CELERY_BROKER_URL=redis://…/N \\
        python manage.py bench_unbind --requests 1000 --platforms 20

Use a scratch database: the command adds numbers, platforms and requests and leaves them.
"""

import os
import subprocess
import sys
import time
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
from renewal.deliveries import unbind as coalescer
from renewal.deliveries.tasks import delivery_send_task, unbind_coalesce_task
from renewal.models import Delivery, DeliveryEvent, Platform, PlatformStatus, UnbindRequest
from renewal.platforms import services
from renewal.simulator import unbind as unbind_simulator
from renewal.simulator.server import SimPlatform, Simulator


class Command(BaseCommand):
    help = "Time N unbind-all requests to final states against simulated platforms with one worker."

    def add_arguments(self, parser):
        parser.add_argument("--requests", type=int, default=1000)
        parser.add_argument("--platforms", type=int, default=20)
        parser.add_argument("--baseline-requests", type=int, default=50,
                            help="requests of the uncoalesced baseline (each coalesced on its own)")
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
            self._wait(lambda: self._up(api_url) and celery_app.control.ping(timeout=0.5), 60, "worker and API")
            stamp = int(time.time())
            platforms, keys = self._platforms(o["platforms"], stamp)
            sim = Simulator(port=o["sim_port"], api_url=api_url, confirm_threads=16, platforms=[
                SimPlatform(platform_id=p.pk, name=p.name, secrets=services.platform_secrets(p), api_key=keys[p.pk])
                for p in platforms]).start()
            unbind_simulator.configure(sim, {"unbound": 0.5, "nothing_bound": 0.4, "rejected": 0.1})
            for p in platforms:
                Platform.objects.filter(pk=p.pk).update(webhook_url=sim.url_for(p.pk))
            periods = self._holders(o["requests"] + o["baseline_requests"], stamp)
            base = self._run(periods[:o["baseline_requests"]], coalesce_each=True, timeout=o["timeout"])
            main = self._run(periods[o["baseline_requests"]:], coalesce_each=False, timeout=o["timeout"])
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
        worker = subprocess.Popen([str(bin_dir / "celery"), "-A", "portal", "worker", "--concurrency=2",
                                   "--loglevel=WARNING", "--without-gossip", "--without-mingle"],
                                  cwd=settings.BASE_DIR, env=env, stdout=log, stderr=subprocess.STDOUT)
        web = subprocess.Popen([str(bin_dir / "gunicorn"), "portal.wsgi", "-b", f"127.0.0.1:{api_port}", "-w", "2",
                                "--threads", "4", "--log-level", "warning"],
                               cwd=settings.BASE_DIR, env=env, stdout=log, stderr=subprocess.STDOUT)
        return [worker, web]

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

    # --- one run ---

    def _run(self, periods: list, *, coalesce_each: bool, timeout: float) -> dict:
        before = Delivery.objects.filter(event=DeliveryEvent.UNBIND).count()
        t0 = time.monotonic()
        ids = []
        for period in periods:
            ids.append(unbind.unbind_request_create(period=period).pk)
            if coalesce_each:  # no coalescing window: every request becomes its own deliveries
                for delivery_id in coalescer.unbind_coalesce():
                    delivery_send_task.delay(str(delivery_id))
        created = time.monotonic() - t0
        if not coalesce_each:
            unbind_coalesce_task.delay()  # one beat tick after the window
        self._wait(lambda: not UnbindRequest.objects.filter(pk__in=ids, finished_at__isnull=True).exists(),
                   timeout, "requests to finish")
        total = time.monotonic() - t0
        return {"requests": len(ids), "created_s": created, "total_s": total,
                "deliveries": Delivery.objects.filter(event=DeliveryEvent.UNBIND).count() - before}

    def _report(self, o, base: dict, main: dict, sim: Simulator) -> None:
        p = o["platforms"]
        w = self.stdout.write
        w(f"unbind-all requests, {p} live platforms, one worker (prefork 2), API on gunicorn (2x4), PostgreSQL + "
          f"{settings.CELERY_BROKER_URL.split('://')[0]}")
        for name, r in (("baseline: no coalescing", base), ("coalesced (one window)", main)):
            tasks = r["requests"] * p
            w(f"  {name:<26} {r['requests']:>6} requests  {tasks:>7} tasks  {r['deliveries']:>6} deliveries  "
              f"created in {r['created_s']:6.2f} s  all final in {r['total_s']:7.2f} s  "
              f"{r['total_s'] / r['requests'] * 1000:7.1f} ms/request  {tasks / r['total_s']:7.0f} results/s")
        per_base = base["total_s"] / base["requests"]
        per_main = main["total_s"] / main["requests"]
        w(f"  deliveries per request: baseline {base['deliveries'] / base['requests']:.2f}, coalesced "
          f"{main['deliveries'] / main['requests']:.3f} ({(base['deliveries'] / base['requests']) / max(main['deliveries'] / main['requests'], 1e-9):.0f}x fewer)")  # noqa: E501
        w(f"  time per request: coalesced / baseline = {per_main / per_base:.2f}")
        w(f"  simulator: {sim.stats.as_dict()}")
