"""Simulated platforms: real HTTP receivers on 127.0.0.1 that behave like a careful platform.

Each platform listens at http://127.0.0.1:PORT/p/<platform id>. A receiver
verifies the signature and its age (401 otherwise), counts each delivery id
once (a repeat is acknowledged, not counted again), answers 5xx at a given
rate (or for its first N requests), and confirms through the real API after a
delay. Used by `manage.py simulate_platforms`, the end-to-end tests and the
benchmark. Each event has its handler (`EVENT_HANDLERS`): batches are confirmed, unbind requests answered
task by task (renewal/simulator/unbind.py).
"""

import heapq
import json
import random
import threading
import time
from collections.abc import Callable
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, field
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

import requests

from renewal.platforms.signing import InvalidSignature, verify
from renewal.simulator.unbind import answer_unbind


@dataclass
class SimPlatform:
    platform_id: int
    name: str
    secrets: list[str]
    api_key: str = ""
    fail_first: int = 0  # answer 503 to this many requests first (tests of retries)
    requests: int = 0
    seen: set = field(default_factory=set)


@dataclass
class Stats:
    received: int = 0  # distinct delivery ids
    repeats: int = 0
    bad_signature: int = 0
    failed: int = 0  # 5xx answered on purpose
    confirmed: int = 0
    confirm_errors: int = 0
    last_confirm_error: str = ""

    def as_dict(self) -> dict:
        return dict(self.__dict__)


def _confirm_batch(sim: "Simulator", platform: SimPlatform, body: dict) -> tuple[str, dict] | None:
    n = len(body.get("numbers", []))
    unbound = sim.rng.randint(0, n) if n else 0
    return (f"/api/v1/deliveries/{body['delivery_id']}/confirm", {"unbound": unbound, "not_found": n - unbound})


# event -> handler(sim, platform, body) -> (API path, JSON) to POST after the delay, or None.
EVENT_HANDLERS: dict[str, Callable] = {"recycled_numbers.batch": _confirm_batch, "unbind.request": answer_unbind}


class Simulator:
    def __init__(self, *, port: int, platforms: list[SimPlatform], api_url: str | None = None,
                 fail_rate: float = 0.0, latency_ms: int = 0, confirm_after_ms: int = 0, seed: int = 2026,
                 confirm_threads: int = 8, pull: list[SimPlatform] | None = None, poll_seconds: float = 2.0):
        self.port = port
        self.platforms = {p.platform_id: p for p in platforms}
        self.pull = list(pull or [])  # pull-only platforms: read GET /api/v1/deliveries instead of webhooks
        self.poll_seconds = poll_seconds
        self.api_url = api_url.rstrip("/") if api_url else None
        self.fail_rate, self.latency_ms, self.confirm_after_ms = fail_rate, latency_ms, confirm_after_ms
        self.rng = random.Random(seed)
        self.stats = Stats()
        self.lock = threading.Lock()
        self._queue: list = []
        self._queue_cv = threading.Condition()
        self._pool = ThreadPoolExecutor(max_workers=confirm_threads)
        self._local = threading.local()
        self._stopping = False
        self.server = ThreadingHTTPServer(("127.0.0.1", port), self._handler_class())
        self.server.daemon_threads = True

    def url_for(self, platform_id: int) -> str:
        return f"http://127.0.0.1:{self.port}/p/{platform_id}"

    # --- lifecycle ---

    def start(self) -> "Simulator":
        threading.Thread(target=self.server.serve_forever, daemon=True, name="sim-http").start()
        threading.Thread(target=self._scheduler, daemon=True, name="sim-confirm").start()
        if self.pull and self.api_url:
            threading.Thread(target=self._poller, daemon=True, name="sim-pull").start()
        return self

    def stop(self) -> None:
        self._stopping = True
        with self._queue_cv:
            self._queue_cv.notify_all()
        self.server.shutdown()
        self.server.server_close()
        self._pool.shutdown(wait=False, cancel_futures=True)

    # --- receiving ---

    def _handler_class(self):
        sim = self

        class Handler(BaseHTTPRequestHandler):
            protocol_version = "HTTP/1.1"
            disable_nagle_algorithm = True  # headers and body go out in two writes: no 40 ms delayed-ACK stall

            def log_message(self, *args):
                pass

            def _answer(self, code: int, payload: dict) -> None:
                data = json.dumps(payload).encode()
                self.send_response(code)
                self.send_header("Content-Type", "application/json")
                self.send_header("Content-Length", str(len(data)))
                self.end_headers()
                self.wfile.write(data)

            def do_POST(self):
                length = int(self.headers.get("Content-Length") or 0)
                raw = self.rfile.read(length)
                code, payload = sim.receive(self.path, dict(self.headers), raw)
                self._answer(code, payload)

        return Handler

    def receive(self, path: str, headers: dict, raw: bytes) -> tuple[int, dict]:
        try:
            platform = self.platforms[int(path.rstrip("/").rsplit("/", 1)[-1])]
        except (ValueError, KeyError):
            return 404, {"error": "unknown platform"}
        if self.latency_ms:
            time.sleep(self.latency_ms / 1000)
        try:
            verify(header=headers.get("X-Renewal-Signature", ""), body=raw, secrets=platform.secrets)
        except InvalidSignature as exc:
            with self.lock:
                self.stats.bad_signature += 1
            return 401, {"error": str(exc)}
        with self.lock:
            platform.requests += 1
            fail = platform.requests <= platform.fail_first or (self.fail_rate and self.rng.random() < self.fail_rate)
            if fail:
                self.stats.failed += 1
                return 503, {"error": "simulated failure"}
        body = json.loads(raw)
        delivery_id = headers.get("X-Renewal-Delivery") or body.get("delivery_id")
        with self.lock:
            if delivery_id in platform.seen:
                self.stats.repeats += 1
                return 200, {"ok": True, "repeat": True}
            platform.seen.add(delivery_id)
            self.stats.received += 1
        handler = EVENT_HANDLERS.get(headers.get("X-Renewal-Event") or body.get("event"))
        action = handler(self, platform, body) if handler else None
        if action and self.api_url:
            self._schedule(platform, *action)
        return 200, {"ok": True}

    def _poller(self) -> None:
        """Read pull-only platforms' `sent` deliveries through the API, like a platform without a webhook."""
        assert self.api_url is not None  # the poller runs only with an API address
        query: dict[str, str | int] = {"state": "sent", "limit": 100}
        while not self._stopping:
            for platform in self.pull:
                try:
                    response = self._session().get(
                        self.api_url + "/api/v1/deliveries", params=query,
                        headers={"Authorization": f"Bearer {platform.api_key}"}, timeout=(3, 60))
                    items = response.json().get("results", []) if response.status_code == 200 else []
                except (requests.RequestException, ValueError):
                    items = []
                for item in items:
                    with self.lock:
                        if item["id"] in platform.seen:
                            continue
                        platform.seen.add(item["id"])
                        self.stats.received += 1
                    handler = EVENT_HANDLERS.get(item["event"])
                    action = handler(self, platform, item["body"]) if handler else None
                    if action:
                        self._schedule(platform, *action)
            time.sleep(self.poll_seconds)

    # --- confirming through the API ---

    def _schedule(self, platform: SimPlatform, path: str, payload: dict) -> None:
        with self._queue_cv:
            heapq.heappush(self._queue, (time.monotonic() + self.confirm_after_ms / 1000, id(payload),
                                         platform, path, payload, 0))
            self._queue_cv.notify()

    def _scheduler(self) -> None:
        while not self._stopping:
            with self._queue_cv:
                while not self._stopping and (not self._queue or self._queue[0][0] > time.monotonic()):
                    timeout = (self._queue[0][0] - time.monotonic()) if self._queue else None
                    self._queue_cv.wait(timeout)
                if self._stopping:
                    return
                item = heapq.heappop(self._queue)
            self._pool.submit(self._post, *item[2:])

    def _session(self) -> requests.Session:
        if not hasattr(self._local, "session"):
            self._local.session = requests.Session()
            self._local.session.trust_env = False
        return self._local.session

    def _post(self, platform: SimPlatform, path: str, payload: dict, tries: int) -> None:
        assert self.api_url is not None  # answers are scheduled only with an API address
        try:
            response = self._session().post(self.api_url + path, json=payload, timeout=(3, 30),
                                            headers={"Authorization": f"Bearer {platform.api_key}"})
            ok = response.status_code == 200
            error = "" if ok else f"{response.status_code} {response.text[:200]}"
        except requests.RequestException as exc:
            ok, error = False, str(exc)
        with self.lock:
            if ok:
                self.stats.confirmed += 1
            elif tries >= 5:
                self.stats.confirm_errors += 1
                self.stats.last_confirm_error = error
        if not ok and tries < 5:
            with self._queue_cv:
                heapq.heappush(self._queue, (time.monotonic() + 0.5 * 2 ** tries, id(payload), platform, path,
                                             payload, tries + 1))
                self._queue_cv.notify()

    def pending_confirmations(self) -> int:
        with self._queue_cv:
            return len(self._queue)
