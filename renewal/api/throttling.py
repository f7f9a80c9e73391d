"""API throttles: per key, and per client address for requests without a valid key.

Counted atomically in the shared cache by numbers.ratelimit (fixed windows), never per process.
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

    def allow_request(self, request, view) -> bool:
        key = self.key(request)
        if key is None:
            return True
        count, seconds = parse_rate(getattr(settings, self.rate_setting))
        self.refusal = ratelimit.hit(ratelimit.Limit(self.name, count, seconds), key)
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
    """Requests per API key (RENEWAL_API_RATE)."""

    name = "api-key"
    rate_setting = "RENEWAL_API_RATE"

    def key(self, request) -> str | None:
        key = request.auth
        return str(key.pk) if key is not None and hasattr(key, "prefix") else None
