"""Fixed-window request counters in the shared cache (never per-process memory), and the client address.

Every request is counted before it is judged, so a refused request still counts.
The cache is settings.CACHES["default"]: the database cache by default, Redis
when CACHE_URL names it; both are shared by every web process.
"""

import time
from dataclasses import dataclass

from django.conf import settings
from django.core.cache import cache


@dataclass(frozen=True)
class Limit:
    name: str
    count: int
    seconds: int


@dataclass(frozen=True)
class Refusal:
    limit: Limit
    retry_after: int


def hit(limit: Limit, key: str, *, now: float | None = None) -> Refusal | None:
    """Count one request against `limit` for `key`; return a Refusal when it is over the limit."""
    now = time.time() if now is None else now
    window = int(now // limit.seconds)
    cache_key = f"rl:{limit.name}:{key}:{window}"
    # add() is a no-op when the key exists; incr() is atomic on Redis.
    cache.add(cache_key, 0, timeout=limit.seconds + 5)
    try:
        used = cache.incr(cache_key)
    except ValueError:  # expired between add and incr
        cache.set(cache_key, 1, timeout=limit.seconds + 5)
        used = 1
    if used > limit.count:
        retry_after = max(1, int((window + 1) * limit.seconds - now + 0.999))
        return Refusal(limit=limit, retry_after=retry_after)
    return None


def hit_all(checks: list[tuple[Limit, str]], *, now: float | None = None) -> Refusal | None:
    """Count the request against every limit (all are counted) and return the refusal with the longest wait."""
    refusals = [r for r in (hit(limit, key, now=now) for limit, key in checks) if r]
    return max(refusals, key=lambda r: r.retry_after, default=None)


def reset(limit: Limit, key: str, *, now: float | None = None) -> None:
    now = time.time() if now is None else now
    cache.delete(f"rl:{limit.name}:{key}:{int(now // limit.seconds)}")


def client_address(request) -> str:
    """The connection's address, or the X-Forwarded-For entry added by the first of N trusted proxies."""
    remote = request.META.get("REMOTE_ADDR", "")
    proxies = settings.TRUSTED_PROXY_COUNT
    if proxies <= 0:
        return remote
    forwarded = [a.strip() for a in request.META.get("HTTP_X_FORWARDED_FOR", "").split(",") if a.strip()]
    if len(forwarded) < proxies:
        # Fewer entries than trusted proxies: the request did not come through them all.
        return remote
    return forwarded[-proxies]
