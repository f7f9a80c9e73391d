"""Outgoing webhooks: one pooled async HTTP client per worker process, and the address rules at send time.

The pump (renewal.deliveries.pump) runs in the worker's ordinary (synchronous) thread, where the ORM works; it
hands POSTs to this client, whose event loop runs in a thread of its own, and collects each answer as a
`concurrent.futures.Future`. One aiohttp session per process keeps connections open across slices; its
connector's limit is the process's global limit (RENEWAL_PUMP_CONCURRENCY).

Private, loopback and link-local addresses are refused after DNS resolution at send time: the resolver refuses
a name if any of its addresses is refused, and the socket factory checks the very address each socket is about
to connect to (IP literals too, and whatever the resolver returned), so a name that re-resolves between the
check and the connection cannot reach inside. No redirects are followed, no proxy is taken from the
environment. The rules themselves are renewal.platforms.webhook_urls'.
"""

from __future__ import annotations

import asyncio
import atexit
import os
import socket
import threading
import time
from collections.abc import Callable
from concurrent.futures import Future
from dataclasses import dataclass
from typing import Any

import aiohttp
from aiohttp.abc import AbstractResolver, ResolveResult
from aiohttp.resolver import DefaultResolver
from django.conf import settings
from django.core.exceptions import ValidationError

from renewal.platforms.webhook_urls import address_refusal, validate_webhook_url

# Only this much of a platform's answer is kept (for the error of a failed attempt).
_ANSWER_BYTES = 500
_REFUSED = "connecting to a refused address"
# A 2xx answer is read up to this much (so the connection can be reused), then dropped.
_DRAIN_BYTES = 64 * 1024


class WebhookRefused(OSError):
    """The destination is not allowed (scheme, private or loopback address)."""


def check_url(url: str) -> None:
    """Refuse a URL the saved-URL rules refuse (scheme, user or password, an IP literal that is not public)."""
    try:
        validate_webhook_url(url)
    except ValidationError as exc:
        raise WebhookRefused(" ".join(exc.messages)) from exc


class SafeResolver(AbstractResolver):
    """Resolve with the default resolver, then refuse the name if any of its addresses is refused."""

    def __init__(self) -> None:
        self._inner = DefaultResolver()

    async def resolve(self, host: str, port: int = 0,
                      family: socket.AddressFamily = socket.AF_INET) -> list[ResolveResult]:
        results = await self._inner.resolve(host, port, family)
        for result in results:
            reason = address_refusal(result["host"])
            if reason:
                raise WebhookRefused(f"{host} resolves to {reason}")
        return results

    async def close(self) -> None:
        await self._inner.close()


def _checked_socket(addr_info: Any) -> socket.socket:
    """Make the socket of one connection attempt, refusing the address it is about to connect to."""
    family, type_, proto, _canonname, sockaddr = addr_info
    reason = address_refusal(str(sockaddr[0]))
    if reason:
        raise WebhookRefused(f"{_REFUSED}: {reason}")
    sock = socket.socket(family=family, type=type_, proto=proto)
    sock.setblocking(False)
    return sock


@dataclass
class Answer:
    """What one POST came to: 2xx or not, the status, the error text, when it started and how long it took."""

    ok: bool
    started_at: float  # unix seconds
    latency_ms: int
    status: int | None = None
    error: str = ""


class Client:
    """An event loop in a daemon thread with one pooled aiohttp session; `post` is called from any thread."""

    def __init__(self, *, concurrency: int) -> None:
        self.concurrency = concurrency
        self._in_flight = 0  # over every slice of this process (a threads pool runs several)
        self._count_lock = threading.Lock()
        self.pid = os.getpid()
        self.loop = asyncio.new_event_loop()
        self._thread = threading.Thread(target=self.loop.run_forever, name="webhook-client", daemon=True)
        self._thread.start()
        self.session: aiohttp.ClientSession = asyncio.run_coroutine_threadsafe(self._open(), self.loop).result()

    async def _open(self) -> aiohttp.ClientSession:
        connector = aiohttp.TCPConnector(limit=self.concurrency, limit_per_host=0, resolver=SafeResolver(),
                                         socket_factory=_checked_socket)
        return aiohttp.ClientSession(connector=connector, trust_env=False, auto_decompress=False,
                                     skip_auto_headers=("User-Agent",),
                                     headers={"User-Agent": "renewal-portal-webhooks/1"})

    def post(self, url: str, *, body: bytes, headers: dict[str, str],
             sign: Callable[[], dict[str, str]] | None = None) -> Future[Answer]:
        """Start one POST now; its Answer arrives on the returned future (it never raises).

        `sign`, if given, is called in the client's thread just before the POST and its headers added: the
        signature's timestamp is the attempt's, and the caller's thread is not held up by the HMAC.
        """
        timeout = aiohttp.ClientTimeout(total=None, sock_connect=settings.RENEWAL_CONNECT_TIMEOUT,
                                        sock_read=settings.RENEWAL_READ_TIMEOUT)
        with self._count_lock:
            self._in_flight += 1
        future = asyncio.run_coroutine_threadsafe(self._post(url, body, headers, timeout, sign), self.loop)
        future.add_done_callback(self._done)
        return future

    def _done(self, future: Future[Answer]) -> None:
        with self._count_lock:
            self._in_flight -= 1

    @property
    def free(self) -> int:
        """How many more POSTs this process may start now (its global limit less those in flight)."""
        with self._count_lock:
            return self.concurrency - self._in_flight

    async def _post(self, url: str, body: bytes, headers: dict[str, str], timeout: aiohttp.ClientTimeout,
                    sign: Callable[[], dict[str, str]] | None = None) -> Answer:
        started, t0 = time.time(), time.monotonic()
        if sign is not None:
            headers = {**headers, **sign()}

        def answer(ok: bool, status: int | None = None, error: str = "") -> Answer:
            return Answer(ok=ok, status=status, error=error, started_at=started,
                          latency_ms=int((time.monotonic() - t0) * 1000))

        try:
            async with self.session.post(url, data=body, allow_redirects=False, timeout=timeout,
                                         headers={"Content-Type": "application/json", **headers}) as response:
                if 200 <= response.status < 300:
                    await response.content.read(_DRAIN_BYTES)
                    return answer(True, response.status)
                if 300 <= response.status < 400:
                    location = response.headers.get("Location", "?")
                    return answer(False, response.status, f"HTTP {response.status}: redirect to {location} "
                                                          "(not followed)")
                text = (await response.content.read(_ANSWER_BYTES)).decode("utf-8", "replace")
                return answer(False, response.status, f"HTTP {response.status}: {text}")
        except TimeoutError:
            return answer(False, error=f"timeout: no answer within {settings.RENEWAL_CONNECT_TIMEOUT:g} s to "
                                       f"connect or {settings.RENEWAL_READ_TIMEOUT:g} s to read")
        except (aiohttp.ClientError, OSError) as exc:
            refused = _refusal(exc)
            if refused is not None:
                return answer(False, error=f"refused: {refused}")
            if _REFUSED in str(exc):  # several addresses, each refused: aiohappyeyeballs joins their messages
                return answer(False, error=f"refused: {exc}")
            return answer(False, error=f"{exc.__class__.__name__}: {exc}")

    def close(self) -> None:
        if self.loop.is_closed() or not self._thread.is_alive():
            return

        async def _close() -> None:
            await self.session.close()

        try:
            asyncio.run_coroutine_threadsafe(_close(), self.loop).result(timeout=5)
        finally:
            self.loop.call_soon_threadsafe(self.loop.stop)
            self._thread.join(timeout=5)
            self.loop.close()


def _refusal(exc: BaseException) -> WebhookRefused | None:
    """The WebhookRefused behind an aiohttp error (it wraps what the resolver or socket factory raised)."""
    seen: BaseException | None = exc
    while seen is not None:
        if isinstance(seen, WebhookRefused):
            return seen
        seen = seen.__cause__ or seen.__context__ or getattr(seen, "os_error", None)
    return None


def post_webhook(url: str, *, body: bytes, headers: dict[str, str]) -> Answer:
    """POST once through this process's client and wait for the answer (a one-off; the pump sends many at once)."""
    try:
        check_url(url)
    except WebhookRefused as exc:
        return Answer(ok=False, error=f"refused: {exc}", started_at=time.time(), latency_ms=0)
    return client().post(url, body=body, headers=headers).result()


_client: Client | None = None
_client_lock = threading.Lock()


def client() -> Client:
    """Return this process's client (a forked worker child makes its own, as does a changed global limit)."""
    global _client
    with _client_lock:
        wanted = settings.RENEWAL_PUMP_CONCURRENCY
        if _client is None or _client.pid != os.getpid() or _client.concurrency != wanted:
            if _client is not None and _client.pid == os.getpid():
                _client.close()
            _client = Client(concurrency=wanted)
            # Close the session while its loop still runs (daemon threads stop only after atexit).
            atexit.register(_client.close)
        return _client
