"""Webhook signatures (docs/platform-guide.md, "Webhook signatures").

`X-Renewal-Signature: t=<unix seconds>,v1=<hex>[,v1=<hex>]`: lowercase
HMAC-SHA256, keyed with the UTF-8 secret, over `"<t>.<raw body>"`. During a
rotation the new secret signs first. Receivers reject a `t` more than 300
seconds from their clock.
"""

import hashlib
import hmac
import time
from collections.abc import Iterable, Sequence

TOLERANCE_SECONDS = 300


def signature(*, secret: str, t: int, body: bytes) -> str:
    """Return the lowercase hex HMAC-SHA256 of `"<t>.<body>"` keyed with the secret."""
    return hmac.new(secret.encode(), f"{t}.".encode() + body, hashlib.sha256).hexdigest()


def signature_header(*, secrets: Sequence[str], body: bytes, t: int | None = None) -> str:
    """Return the header value, signed afresh (a new `t`) with every secret given, newest first."""
    t = int(time.time()) if t is None else t
    return ",".join([f"t={t}", *(f"v1={signature(secret=s, t=t, body=body)}" for s in secrets)])


class InvalidSignature(Exception):
    pass


def verify(*, header: str, body: bytes, secrets: Iterable[str], now: float | None = None,
           tolerance: int = TOLERANCE_SECONDS) -> int:
    """Check a signature header as a receiver does; return its `t` or raise InvalidSignature."""
    t, candidates = None, []
    for part in (header or "").split(","):
        key, _, value = part.strip().partition("=")
        if key == "t" and value.isdigit():
            t = int(value)
        elif key == "v1" and value:
            candidates.append(value)
    if t is None or not candidates:
        raise InvalidSignature("malformed signature header")
    now = time.time() if now is None else now
    if abs(now - t) > tolerance:
        raise InvalidSignature("signature timestamp outside the tolerance")
    for secret in secrets:
        expected = signature(secret=secret, t=t, body=body)
        if any(hmac.compare_digest(expected, c) for c in candidates):
            return t
    raise InvalidSignature("no signature matches")
