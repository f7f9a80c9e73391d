"""API throttles: per key, and per client address for requests without a valid key.

Counted atomically in the shared cache by numbers.ratelimit (fixed windows), never per process. Each counted
request keeps its usage on the request (`ratelimit_usage`), which RateLimitHeadersMiddleware writes into the
`RateLimit-Limit`, `RateLimit-Remaining` and `RateLimit-Reset` headers of the answer.
Its own module: the address throttle is the default of every DRF view (settings REST_FRAMEWORK),
and DRF imports the default while `rest_framework.views` is still loading, so it must not import views.
"""

from django.conf import settings
from rest_framework.throttling import BaseThrottle

from numbers import ratelimit

_PERIODS = {"s": 1, "m": 60, "h": 3600, "d": 86400}


def parse_rate(rate: str) -> tuple[int, int]:
    """Return (requests, seconds) of a rate such as "120/min" or "1200/minute"."""
    count, period = rate.split("/")
    return int(count), _PERIODS[period[0]]


class CountingThrottle(BaseThrottle):
    """Count the request against `rate_setting` for `key(request)`; refuse past the limit."""

    name = ""
    rate_setting = ""
    refusal: ratelimit.Refusal | None = None

    def key(self, request) -> str | None:
        raise NotImplementedError

    def rate(self, request) -> str:
        return str(getattr(settings, self.rate_setting))

    def limit(self, request) -> ratelimit.Limit:
        count, seconds = parse_rate(self.rate(request))
        return ratelimit.Limit(self.name, count, seconds)

    def allow_request(self, request, view) -> bool:
        key = self.key(request)
        if key is None:
            return True
        usage = ratelimit.count(self.limit(request), key)
        # On the Django request, where the middleware finds it (a DRF Request wraps it).
        getattr(request, "_request", request).ratelimit_usage = usage
        self.refusal = ratelimit.refusal_of(usage, key)
        return self.refusal is None

    def wait(self) -> float | None:
        return self.refusal.retry_after if self.refusal else None


class AnonymousThrottle(CountingThrottle):
    """Requests without a valid API key, per client address (RENEWAL_API_ANON_RATE); 429 with Retry-After."""

    name = "api-anonymous"
    rate_setting = "RENEWAL_API_ANON_RATE"

    def key(self, request) -> str | None:
        if request.auth is not None:  # a valid key: counted per key instead (ApiKeyThrottle)
            return None
        return ratelimit.client_address(request)


class ApiKeyThrottle(CountingThrottle):
    """Requests per API key: RENEWAL_API_KEY_RATES by the key's prefix, else RENEWAL_API_RATE (platform keys) or
    RENEWAL_API_OPERATOR_RATE (operator keys)."""

    name = "api-key"
    rate_setting = "RENEWAL_API_RATE"

    def rate(self, request) -> str:
        key = request.auth
        own = settings.RENEWAL_API_KEY_RATES.get(key.prefix)
        if own:
            return str(own)
        return str(settings.RENEWAL_API_OPERATOR_RATE if key.operator_id else settings.RENEWAL_API_RATE)

    def key(self, request) -> str | None:
        key = request.auth
        # The random prefix with the row id: a cache shared with another database (a benchmark's, a test run's)
        # never counts another key's requests against this one, as a row id alone would.
        return f"{key.prefix}:{key.pk}" if key is not None and hasattr(key, "prefix") else None
