"""Failed sign-ins of the staff pages, limited per account and per client address.

The counters live in the shared cache (settings CACHES: the database cache table by default, Redis
when CACHE_URL says so), never in one process's memory, so every web worker sees the same count.
A window opens at the first failure; when it holds the maximum number of failures, sign-in is
refused until the window closes, with the wait in the message. A successful sign-in clears the
account's counter, not the address's (one shop's clerk signing in must not reset a guesser next door).
"""

import hashlib
import math
import time

from django.conf import settings
from django.core.cache import caches
from django.utils.translation import ngettext

PREFIX = "staff-login"


def client_address(request) -> str:
    """Return the client's address: the connection's, or X-Forwarded-For's only behind trusted proxies."""
    proxies = settings.TRUSTED_PROXY_COUNT
    if proxies > 0:
        forwarded = [part.strip() for part in request.META.get("HTTP_X_FORWARDED_FOR", "").split(",") if part.strip()]
        if len(forwarded) >= proxies:
            return forwarded[-proxies]
    return request.META.get("REMOTE_ADDR", "") or "unknown"


def _digest(value: str) -> str:
    return hashlib.sha256(value.encode()).hexdigest()[:32]


class LoginLimiter:
    def __init__(self, request):
        self.cache = caches["default"]
        self.window = settings.STAFF_LOGIN_WINDOW_SECONDS
        self.address_key = f"{PREFIX}:addr:{_digest(client_address(request))}"

    def _account_key(self, username: str) -> str:
        return f"{PREFIX}:acct:{_digest(username.strip().casefold())}"

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
            if (self.cache.get(key) or 0) >= limit:
                reset_at = self.cache.get(f"{key}:reset") or now + self.window
                wait = max(wait, reset_at - now)
        return math.ceil(wait) if wait > 0 else 0

    def failed(self, username: str) -> None:
        for key, _limit in self._limits(username):
            self._count(key)

    def succeeded(self, username: str) -> None:
        key = self._account_key(username)
        self.cache.delete_many([key, f"{key}:reset"])

    def _count(self, key: str) -> int:
        now = time.time()
        reset_at = self.cache.get(f"{key}:reset")
        if reset_at is None or reset_at <= now:  # no window open: this failure opens one
            reset_at = now + self.window
            self.cache.set_many({key: 0, f"{key}:reset": reset_at}, timeout=self.window)
        try:
            count = self.cache.incr(key)  # atomic on Redis
        except ValueError:  # the entry expired between get() and incr()
            self.cache.set(key, 1, timeout=self.window)
            return 1
        # incr() of the database cache stores the value with the default timeout: put the window's end back.
        self.cache.touch(key, max(1, math.ceil(reset_at - now)))
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
