"""Request limits in the shared cache (never per-process memory), and the client address they count by.

Two kinds of limit, one module:
* `hit` / `hit_all` — fixed-window request counters: every request is counted before it is judged, so a
  refused request still counts (SMS codes, unauthenticated API calls);
* `LoginLimiter` — failed sign-ins per account and per address, for every password sign-in page (the
  staff pages and the admin): a window opens at the first failure; when it holds the maximum number of
  failures, sign-in is refused until the window closes, with the wait in the message. A successful
  sign-in clears the account's counter, not the address's (one shop's clerk signing in must not reset a
  guesser next door).

The cache is settings.CACHES["default"]: Redis in production, the database cache in development; both are
shared by every web process.
"""

import hashlib
import logging
import math
import time
from dataclasses import dataclass

from django.conf import settings
from django.core.cache import cache
from django.http import HttpRequest
from django.utils.translation import ngettext

from numbers import metrics

log = logging.getLogger("numbers.ratelimit")


def client_address(request: HttpRequest) -> str:
    """Return the connection's address, or the X-Forwarded-For entry added by the first of N trusted proxies."""
    remote: str = request.META.get("REMOTE_ADDR", "") or "unknown"
    proxies: int = settings.TRUSTED_PROXY_COUNT
    if proxies <= 0:
        return remote
    forwarded: list[str] = [a.strip() for a in request.META.get("HTTP_X_FORWARDED_FOR", "").split(",") if a.strip()]
    if len(forwarded) < proxies:
        # Fewer entries than trusted proxies: the request did not come through them all.
        return remote
    return forwarded[-proxies]


# --- fixed-window request counters -------------------------------------------------------------


@dataclass(frozen=True)
class Limit:
    name: str
    count: int
    seconds: int
    # Windows start at this many seconds past the epoch's boundaries: a day's window at local midnight.
    offset: int = 0


@dataclass(frozen=True)
class Refusal:
    limit: Limit
    retry_after: int


@dataclass(frozen=True)
class Usage:
    """Where a key stands in its current window: what `RateLimit-*` headers tell a client."""

    limit: Limit
    used: int
    reset: int  # seconds until the window closes

    @property
    def remaining(self) -> int:
        return max(0, self.limit.count - self.used)


def _window(limit: Limit, key: str, now: float) -> tuple[str, int]:
    window = int((now + limit.offset) // limit.seconds)
    reset = max(1, int((window + 1) * limit.seconds - limit.offset - now + 0.999))
    return f"rl:{limit.name}:{key}:{window}", reset


def count(limit: Limit, key: str, *, now: float | None = None) -> Usage:
    """Count one request against `limit` for `key` and return the key's usage, this request included."""
    now = time.time() if now is None else now
    cache_key, reset = _window(limit, key, now)
    # add() is a no-op when the key exists; incr() is atomic on Redis.
    cache.add(cache_key, 0, timeout=limit.seconds + 5)
    try:
        used = cache.incr(cache_key)
    except ValueError:  # expired between add and incr
        cache.set(cache_key, 1, timeout=limit.seconds + 5)
        used = 1
    return Usage(limit=limit, used=used, reset=reset)


def peek(limit: Limit, key: str, *, now: float | None = None) -> Usage:
    """Return the key's usage of `limit` without counting a request."""
    now = time.time() if now is None else now
    cache_key, reset = _window(limit, key, now)
    return Usage(limit=limit, used=int(cache.get(cache_key) or 0), reset=reset)


def refusal_of(usage: Usage, key: str) -> Refusal | None:
    """The refusal of a request that brought the key to `usage`; None within the limit."""
    limit = usage.limit
    if usage.used <= limit.count:
        return None
    metrics.RATE_LIMIT_HITS.labels(limit=limit.name).inc()
    if usage.used == limit.count + 1:  # one line per key and window, however many requests are refused
        log.warning("rate limit hit", extra={"event": "rate_limit_hit", "limit": limit.name,
                                             "key": _log_key(key), "retry_after": usage.reset})
    return Refusal(limit=limit, retry_after=usage.reset)


def hit(limit: Limit, key: str, *, now: float | None = None) -> Refusal | None:
    """Count one request against `limit` for `key`; return a Refusal when it is over the limit."""
    return refusal_of(count(limit, key, now=now), key)


def _log_key(key: str) -> str:
    # An address or a number (masked by the log formatter) tells an operator who; an API key's id is a number.
    return key[:100]


def hit_sliding(limit: Limit, key: str, *, now: float | None = None) -> Refusal | None:
    """Admit at most `limit.count` requests for `key` in ANY `limit.seconds`; return a Refusal otherwise.

    Each admitted request holds one of `count` slots for `seconds` (cache.add is atomic, so two requests never take
    one slot), and a refused one takes none. Unlike a fixed window, two requests can never pass a few seconds
    apart on either side of a window's edge: "one a minute" means one a minute.
    """
    now = time.time() if now is None else now
    slots = [f"rl:{limit.name}:{key}:slot{i}" for i in range(limit.count)]
    for slot in slots:
        if cache.add(slot, now, timeout=limit.seconds):
            return None
    taken = [v for v in cache.get_many(slots).values() if isinstance(v, int | float)]
    oldest = min(taken, default=now)
    return Refusal(limit=limit, retry_after=max(1, math.ceil(oldest + limit.seconds - now)))


def release_sliding(limit: Limit, key: str, *, now: float) -> None:
    """Give back the slot that `hit_sliding(limit, key, now=now)` took: the request it admitted did nothing."""
    slots = [f"rl:{limit.name}:{key}:slot{i}" for i in range(limit.count)]
    for slot, taken in cache.get_many(slots).items():
        if taken == now:
            cache.delete(slot)
            return


def uncount(limit: Limit, key: str, *, now: float) -> None:
    """Take back one request that `count(limit, key, now=now)` counted: the request it admitted did nothing."""
    cache_key, _reset = _window(limit, key, now)
    try:
        cache.decr(cache_key)
    except ValueError:  # the window has closed: nothing to take back
        pass


def hit_all(checks: list[tuple[Limit, str]], *, now: float | None = None) -> Refusal | None:
    """Count the request against every limit (all are counted) and return the refusal with the longest wait."""
    refusals = [r for r in (hit(limit, key, now=now) for limit, key in checks) if r]
    return max(refusals, key=lambda r: r.retry_after, default=None)


def reset(limit: Limit, key: str, *, now: float | None = None) -> None:
    now = time.time() if now is None else now
    cache.delete(f"rl:{limit.name}:{key}:{int(now // limit.seconds)}")


# --- failed sign-ins ------------------------------------------------------------------------------

LOGIN_PREFIX = "login"


def _digest(value: str) -> str:
    return hashlib.sha256(value.encode()).hexdigest()[:32]


class LoginLimiter:
    def __init__(self, request: HttpRequest) -> None:
        self.window = settings.STAFF_LOGIN_WINDOW_SECONDS
        self.address_key = f"{LOGIN_PREFIX}:addr:{_digest(client_address(request))}"

    def _account_key(self, username: str) -> str:
        return f"{LOGIN_PREFIX}:acct:{_digest(username.strip().casefold())}"

    def _limits(self, username: str) -> list[tuple[str, int]]:
        return [
            (self._account_key(username), settings.STAFF_LOGIN_FAILURES_PER_ACCOUNT),
            (self.address_key, settings.STAFF_LOGIN_FAILURES_PER_ADDRESS),
        ]

    def blocked_for(self, username: str) -> int:
        """Return the seconds to wait before this account or address may try again (0: it may now)."""
        now = time.time()
        wait = 0.0
        for key, limit in self._limits(username):
            if (cache.get(key) or 0) >= limit:
                reset_at = cache.get(f"{key}:reset") or now + self.window
                wait = max(wait, reset_at - now)
        return math.ceil(wait) if wait > 0 else 0

    def failed(self, username: str) -> None:
        for key, _limit in self._limits(username):
            self._count(key)

    def succeeded(self, username: str) -> None:
        key = self._account_key(username)
        cache.delete_many([key, f"{key}:reset"])

    def _count(self, key: str) -> int:
        now = time.time()
        reset_at = cache.get(f"{key}:reset")
        if reset_at is None or reset_at <= now:  # no window open: this failure opens one
            reset_at = now + self.window
            cache.set_many({key: 0, f"{key}:reset": reset_at}, timeout=self.window)
        try:
            count = cache.incr(key)  # atomic on Redis
        except ValueError:  # the entry expired between get() and incr()
            cache.set(key, 1, timeout=self.window)
            return 1
        # incr() of the database cache stores the value with the default timeout: put the window's end back.
        cache.touch(key, max(1, math.ceil(reset_at - now)))
        return count

    @staticmethod
    def message(wait_seconds: int) -> str:
        minutes = max(1, math.ceil(wait_seconds / 60))
        return ngettext(
            "Too many failed sign-ins for this account or from this address. Wait %(minutes)d minute and try "
            "again, or ask your operator administrator to check the account.",
            "Too many failed sign-ins for this account or from this address. Wait %(minutes)d minutes and try "
            "again, or ask your operator administrator to check the account.",
            minutes,
        ) % {"minutes": minutes}
