"""Run simulated platforms on 127.0.0.1 (development, tests and benchmarks)."""

import json
import signal
import threading
import time

from django.conf import settings
from django.core.management.base import BaseCommand, CommandError
from django.db import DatabaseError, connection

from renewal.conformance import services as conformance
from renewal.deliveries import services
from renewal.models import ApiKey, Platform, PlatformCategory, PlatformKind, PlatformStatus
from renewal.platforms import services as platform_services
from renewal.simulator.server import BROKEN_MODES, SimPlatform, Simulator

KEY_NAME = "simulator"


class Command(BaseCommand):
    help = ("Run simulated platforms: real HTTP receivers on 127.0.0.1 that verify signatures, count each delivery "
            "once, fail at a rate and confirm through the API after a delay.")

    def add_arguments(self, parser):
        parser.add_argument("--port", type=int, required=True)
        parser.add_argument("--count", type=int, default=20, help="simulated platforms to create or reuse")
        parser.add_argument("--demo", action="store_true",
                            help="simulate every live platform instead (points their webhooks here)")
        parser.add_argument("--fail-rate", type=float, default=0.0, help="share of requests answered 503 (0-1)")
        parser.add_argument("--latency", type=int, default=0, help="milliseconds before each answer")
        parser.add_argument("--confirm-after", type=int, default=1000, help="milliseconds before confirming")
        parser.add_argument("--api-url", default="http://127.0.0.1:8000", help="the portal, for confirmations")
        parser.add_argument("--stats-file", help="write the counts here as JSON, every few seconds and at exit")
        parser.add_argument("--duration", type=float, help="stop after this many seconds")
        parser.add_argument("--quiet", action="store_true")
        parser.add_argument("--broken", action="append", default=[], metavar="NAME_OR_ID=MODE[+MODE]",
                            help=f"play a broken platform (repeatable); modes: {', '.join(BROKEN_MODES)}")

    def handle(self, *args, port, count, demo, fail_rate, latency, confirm_after, api_url, stats_file, duration,
               quiet, broken, **options):
        if not settings.RENEWAL_WEBHOOK_ALLOW_LOOPBACK:
            raise CommandError("The simulator listens on 127.0.0.1: set DEBUG=true (RENEWAL_WEBHOOK_ALLOW_LOOPBACK).")
        if not 0 <= fail_rate <= 1:
            raise CommandError("--fail-rate is between 0 and 1.")
        # Sandbox platforms too: they receive test events and the conformance check's traffic (query-only
        # sites receive nothing).
        senders = Platform.objects.filter(status__in=[PlatformStatus.LIVE, PlatformStatus.SANDBOX]).exclude(
            kind=PlatformKind.QUERY_ONLY)
        platforms = list(senders) if demo else self._simulated(count)
        if not platforms:
            raise CommandError("No live platforms to simulate (load the demo data first, or drop --demo).")
        modes = self._broken(broken, platforms)
        base = f"http://127.0.0.1:{port}/p"
        sims, pull = [], []
        for platform in platforms:
            # In --demo, pull-only platforms stay pull-only: the simulator reads their deliveries from the API.
            pulls = demo and platform.is_pull_only
            if not pulls:
                Platform.objects.filter(pk=platform.pk).update(webhook_url=f"{base}/{platform.pk}")
            ApiKey.objects.filter(platform=platform, name=KEY_NAME, revoked_at__isnull=True).update(
                revoked_at=services.timezone.now())
            _, raw = platform_services.api_key_create(platform=platform, name=KEY_NAME, actor="simulate_platforms")
            (pull if pulls else sims).append(SimPlatform(platform_id=platform.pk, name=platform.name, api_key=raw,
                                                         secrets=platform_services.platform_secrets(platform),
                                                         broken=modes.get(platform.pk, frozenset())))
        try:
            sim = Simulator(port=port, platforms=sims, api_url=api_url, fail_rate=fail_rate, latency_ms=latency,
                            confirm_after_ms=confirm_after, pull=pull).start()
        except OSError as exc:
            raise CommandError(f"Cannot listen on 127.0.0.1:{port}: {exc}") from exc
        self.stdout.write(f"simulate_platforms: {len(sims)} platforms at {base}/<id>, {len(pull)} pull-only "
                          f"(polled), confirming through {api_url}")
        stop = threading.Event()
        signal.signal(signal.SIGTERM, lambda *a: stop.set())
        started = time.monotonic()
        try:
            while not stop.wait(min(5.0, duration or 5.0)):
                if demo:
                    self._adopt(sim, base)
                self._refresh_secrets(sim)
                self._report(sim, stats_file, quiet)
                if duration and time.monotonic() - started >= duration:
                    break
        except KeyboardInterrupt:
            pass
        finally:
            self._report(sim, stats_file, quiet)
            sim.stop()

    def _broken(self, specs: list[str], platforms: list[Platform]) -> dict[int, frozenset]:
        """`name-or-id=mode+mode` -> {platform id: modes}."""
        out: dict[int, frozenset] = {}
        for spec in specs:
            who, _, text = spec.rpartition("=")
            modes = frozenset(m.strip() for m in text.split("+") if m.strip())
            unknown = modes - set(BROKEN_MODES)
            match = [p for p in platforms if str(p.pk) == who.strip() or p.name == who.strip()]
            if unknown:
                raise CommandError(f"--broken {spec}: unknown modes {sorted(unknown)}")
            if not match:  # demo data of before it existed: say so, and simulate the rest
                self.stderr.write(f"simulate_platforms: --broken {spec}: no simulated platform {who!r}")
                continue
            out[match[0].pk] = modes
        return out

    def _simulated(self, count: int) -> list[Platform]:
        categories = [c for c in PlatformCategory.values if c != PlatformCategory.NUMBER_TAGS]
        out = []
        for i in range(1, count + 1):
            name = f"Simulated platform {i:02d}"
            platform = Platform.objects.filter(name=name).first() or platform_services.platform_create(
                name=name, category=categories[i % len(categories)], status=PlatformStatus.LIVE)
            if platform.status != PlatformStatus.LIVE:
                # The simulator is the platform: what the demo records for its platforms (renewal.conformance).
                conformance.conformance_record_simulated(platform=platform, actor="simulate_platforms")
                platform = platform_services.platform_set_status(platform=platform, status=PlatformStatus.LIVE)
            out.append(platform)
        return out

    def _adopt(self, sim: Simulator, base: str) -> list[int]:
        """Play the sandbox platforms registered since the start whose webhook URL points here (`{base}/…`): a
        newly approved application can run its conformance check against the simulator in the demo."""
        adopted = []
        try:
            new = Platform.objects.filter(status=PlatformStatus.SANDBOX, webhook_url__startswith=base + "/").exclude(
                kind=PlatformKind.QUERY_ONLY).exclude(pk__in=list(sim.platforms))
            for platform in new:
                Platform.objects.filter(pk=platform.pk).update(webhook_url=f"{base}/{platform.pk}")
                _, raw = platform_services.api_key_create(platform=platform, name=KEY_NAME,
                                                          actor="simulate_platforms")
                sim.platforms[platform.pk] = SimPlatform(platform_id=platform.pk, name=platform.name, api_key=raw,
                                                         secrets=platform_services.platform_secrets(platform))
                adopted.append(platform.pk)
                self.stdout.write(f"simulate_platforms: now also playing {platform.name} at {base}/{platform.pk}")
        except DatabaseError as exc:  # the database restarted: try again next time
            self.stderr.write(f"simulate_platforms: cannot look for new platforms: {exc}")
            connection.close()
        return adopted

    def _refresh_secrets(self, sim: Simulator) -> None:
        """Pick up rotated secrets (the portal then signs with two)."""
        try:
            for platform in Platform.objects.filter(pk__in=list(sim.platforms)):
                sim.platforms[platform.pk].secrets = platform_services.platform_secrets(platform)
        except DatabaseError as exc:  # the database restarted: reconnect next time
            self.stderr.write(f"simulate_platforms: cannot refresh secrets: {exc}")
            connection.close()

    def _report(self, sim: Simulator, stats_file: str | None, quiet: bool) -> None:
        stats = sim.stats.as_dict() | {"pending_confirmations": sim.pending_confirmations()}
        if stats_file:
            with open(stats_file, "w") as f:
                json.dump(stats, f)
        if not quiet:
            self.stdout.write("simulate_platforms: " + ", ".join(f"{k} {v}" for k, v in stats.items()
                                                                  if k != "last_confirm_error"))
