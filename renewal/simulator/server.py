"""Simulated platforms: real HTTP receivers on 127.0.0.1 that behave like a careful platform.

Each platform listens at http://127.0.0.1:PORT/p/<platform id>. A receiver
verifies the Standard Webhooks signature and its age with the `standardwebhooks`
library, as a platform would (401 otherwise), counts each delivery id once (a
repeat is acknowledged, not counted again), answers 5xx at a given rate (or for
its first N requests), and confirms through the real API after a delay. It also
counts the POSTs it is answering at once, per platform (`max_in_flight`), so
tests can see that the portal's per-platform limit held. Used by `manage.py
simulate_platforms`, the end-to-end tests and the benchmarks. Each event has its
handler (`EVENT_HANDLERS`): batches are confirmed, unbind requests answered with
one call of their results (renewal/simulator/unbind.py).

A platform can also play a broken one (`SimPlatform.broken`, for the conformance check's tests and demo):
`accepts_bad_signatures` (answers 2xx without verifying), `double_counts` (counts a repeated delivery again and
confirms the total), `never_confirms` (acknowledges, then never calls the API), `slow` (answers after
`latency_ms`, by default SLOW_MS) and `bad_reasons` (rejects unbind tasks with a reason outside the vocabulary).
"""

import heapq
import json
import random
import threading
import time
from collections import deque
from collections.abc import Callable
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, field
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

import requests
from standardwebhooks import Webhook, WebhookVerificationError

from renewal.simulator.unbind import answer_unbind

BROKEN_MODES = ("accepts_bad_signatures", "double_counts", "never_confirms", "slow", "bad_reasons")
# A slow platform's answer delay unless it has its own: past the portal's default read timeout (10 s).
SLOW_MS = 12_000


@dataclass
class SimPlatform:
    platform_id: int
    name: str
    secrets: list[str]
    api_key: str = ""
    fail_first: int = 0  # answer 503 to this many requests first (tests of retries)
    latency_ms: int | None = None  # this platform's own answer delay (a slow platform), else the simulator's
    requests: int = 0
    in_flight: int = 0  # POSTs being answered now
    max_in_flight: int = 0  # the most at once, ever
    seen: set = field(default_factory=set)
    broken: frozenset = frozenset()  # BROKEN_MODES this platform plays
    counted: dict = field(default_factory=dict)  # delivery id -> times counted (a double-counting platform)
    # (webhook-id, webhook-timestamp) of the latest verified POSTs
    attempts: deque = field(default_factory=lambda: deque(maxlen=10_000))

    def verify(self, raw: bytes, headers: dict) -> None:
        """Verify with the library, as a platform does: any of the secrets (two during a rotation)."""
        if "accepts_bad_signatures" in self.broken:
            return
        error: Exception = WebhookVerificationError("no secret")
        for secret in self.secrets:
            try:
                Webhook(secret).verify(raw, headers, json_parse=False)
                return
            except (WebhookVerificationError, ValueError) as exc:  # ValueError: a malformed header or secret
                error = exc
        raise WebhookVerificationError(str(error))


@dataclass
class Stats:
    received: int = 0  # distinct delivery ids
    repeats: int = 0
    bad_signature: int = 0
    failed: int = 0  # 5xx answered on purpose
    confirmed: int = 0
    confirm_errors: int = 0
    last_confirm_error: str = ""
    max_in_flight: int = 0  # the most POSTs one platform was answering at once
    item_errors: int = 0  # items of a results call the portal refused


    def as_dict(self) -> dict:
        return dict(self.__dict__)


def _confirm_batch(sim: "Simulator", platform: SimPlatform, body: dict) -> tuple[str, dict] | None:
    if "never_confirms" in platform.broken:
        return None
    n = len(body.get("numbers", [])) * platform.counted.get(body.get("delivery_id"), 1)
    unbound = sim.rng.randint(0, n) if n else 0
    return (f"/api/v1/deliveries/{body['delivery_id']}/confirm", {"unbound": unbound, "not_found": n - unbound})


def _answer_unbind(sim: "Simulator", platform: SimPlatform, body: dict) -> tuple[str, dict] | None:
    if "never_confirms" in platform.broken:
        return None
    return answer_unbind(sim, platform, body)


# event -> handler(sim, platform, body) -> (API path, JSON) to POST after the delay, or None.
EVENT_HANDLERS: dict[str, Callable] = {"recycled_numbers.batch": _confirm_batch, "unbind.request": _answer_unbind}


class _Server(ThreadingHTTPServer):
    # The portal opens a connection per POST in flight (hundreds at once): a deep accept queue, not the
    # default 5, or connections wait for SYN retries and the benchmark measures the backlog.
    request_queue_size = 1024


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
        self.server = _Server(("127.0.0.1", port), self._handler_class())
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
                headers = {k.lower(): v for k, v in self.headers.items()}
                code, payload = sim.receive(self.path, headers, raw)
                try:
                    self._answer(code, payload)
                except (BrokenPipeError, ConnectionResetError):  # the sender gave up waiting (its timeout)
                    self.close_connection = True

        return Handler

    def receive(self, path: str, headers: dict, raw: bytes) -> tuple[int, dict]:
        """Answer one POST; `headers` with lowercase names."""
        try:
            platform = self.platforms[int(path.rstrip("/").rsplit("/", 1)[-1])]
        except (ValueError, KeyError):
            return 404, {"error": "unknown platform"}
        with self.lock:
            platform.in_flight += 1
            platform.max_in_flight = max(platform.max_in_flight, platform.in_flight)
            self.stats.max_in_flight = max(self.stats.max_in_flight, platform.max_in_flight)
        try:
            latency = self.latency_ms if platform.latency_ms is None else platform.latency_ms
            if "slow" in platform.broken and platform.latency_ms is None:
                latency = SLOW_MS
            if latency:
                time.sleep(latency / 1000)
            return self._receive(platform, headers, raw)
        finally:
            with self.lock:
                platform.in_flight -= 1

    def _receive(self, platform: SimPlatform, headers: dict, raw: bytes) -> tuple[int, dict]:
        try:
            platform.verify(raw, headers)
        except WebhookVerificationError as exc:
            with self.lock:
                self.stats.bad_signature += 1
            return 401, {"error": str(exc)}
        with self.lock:
            platform.requests += 1
            platform.attempts.append((headers.get("webhook-id"), headers.get("webhook-timestamp")))
            fail = platform.requests <= platform.fail_first or (self.fail_rate and self.rng.random() < self.fail_rate)
            if fail:
                self.stats.failed += 1
                return 503, {"error": "simulated failure"}
        body = json.loads(raw)
        delivery_id = headers.get("webhook-id") or body.get("delivery_id")
        with self.lock:
            if delivery_id in platform.seen:
                self.stats.repeats += 1
                if "double_counts" not in platform.broken:
                    return 200, {"ok": True, "repeat": True}
                platform.counted[delivery_id] = platform.counted.get(delivery_id, 1) + 1
            else:
                platform.seen.add(delivery_id)
                self.stats.received += 1
        handler = EVENT_HANDLERS.get(headers.get("x-renewal-event") or body.get("event"))
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
        wait = 0.5 * 2 ** tries
        try:
            response = self._session().post(self.api_url + path, json=payload, timeout=(3, 30),
                                            headers={"Authorization": f"Bearer {platform.api_key}"})
            ok = response.status_code == 200
            if response.status_code == 429:  # as a platform should: try again when the portal says
                wait = max(wait, float(response.headers.get("Retry-After") or 0))
            error = "" if ok else f"{response.status_code} {response.text[:200]}"
            # A call of many items answers 200 with an error per refused item.
            refused = [r for r in (response.json().get("results") or []) if "error" in r] if ok else []
        except (requests.RequestException, ValueError) as exc:
            ok, error, refused = False, str(exc), []
        with self.lock:
            if refused:
                self.stats.item_errors += len(refused)
                self.stats.last_confirm_error = str(refused[0]["error"])
            if ok:
                self.stats.confirmed += 1
            elif tries >= 5:
                self.stats.confirm_errors += 1
                self.stats.last_confirm_error = error
        if not ok and tries < 5:
            with self._queue_cv:
                heapq.heappush(self._queue, (time.monotonic() + wait, id(payload), platform, path, payload,
                                             tries + 1))
                self._queue_cv.notify()

    def pending_confirmations(self) -> int:
        with self._queue_cv:
            return len(self._queue)
