"""Requests without a valid API key, throttled per client address in the shared cache.

Its own module: it is the default throttle of every DRF view (settings REST_FRAMEWORK), and DRF imports the
default while `rest_framework.views` is still loading, so it must not import views.
"""

from django.conf import settings
from rest_framework.throttling import SimpleRateThrottle

from renewal.ratelimit import client_address


class AnonymousThrottle(SimpleRateThrottle):
    """Requests without a valid API key, per client address (RENEWAL_API_ANON_RATE); 429 with Retry-After."""

    scope = "anonymous"

    def get_rate(self):
        return settings.RENEWAL_API_ANON_RATE

    def get_cache_key(self, request, view):
        if request.auth is not None:  # a valid key: counted per key instead (renewal.api.ApiKeyThrottle)
            return None
        return f"throttle_anon_{client_address(request)}"
