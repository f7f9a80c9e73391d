"""Webhook signatures: Standard Webhooks (standardwebhooks.com), so platforms verify with a maintained library.

Headers: `webhook-id` (the delivery id, the same on every retry), `webhook-timestamp` (unix seconds of this
attempt) and `webhook-signature: v1,<base64>` — the HMAC-SHA256, keyed with the secret's bytes (the base64 after
`whsec_`), over `"<webhook-id>.<webhook-timestamp>.<raw body>"`. During a rotation the header carries two
signatures, space-separated, the new secret's first. Receivers reject a timestamp more than 300 seconds from
their own clock (the libraries do).
"""

import base64
import binascii
import hashlib
import hmac
import time
from collections.abc import Sequence

SECRET_PREFIX = "whsec_"
KEY_BYTES = 32


class InvalidSecret(ValueError):
    """A secret that is not `whsec_` and the base64 of exactly 32 bytes."""


def secret_key(secret: str) -> bytes:
    """Return the HMAC key of a `whsec_` secret; refuse one whose key is not 32 bytes.

    The libraries would take a key of any length: an old hex secret (`whsec_` and 64 hex digits) decodes
    as base64 to 48 bytes and would sign, silently, with a key no platform holds.
    """
    if not isinstance(secret, str) or not secret.startswith(SECRET_PREFIX):
        raise InvalidSecret("a signing secret starts with whsec_")
    try:
        key = base64.b64decode(secret[len(SECRET_PREFIX):], validate=True)
    except (binascii.Error, ValueError) as exc:
        raise InvalidSecret("a signing secret is whsec_ and base64") from exc
    if len(key) != KEY_BYTES:
        raise InvalidSecret(f"a signing secret holds {KEY_BYTES} bytes, this one {len(key)}: re-issue it "
                            "(manage.py platform_secrets_reissue)")
    return key


def sign(*, key: bytes, msg_id: str, timestamp: int, body: bytes) -> str:
    """Return `v1,<base64>` of one key over `"<msg_id>.<timestamp>.<body>"`."""
    digest = hmac.new(key, f"{msg_id}.{timestamp}.".encode() + body, hashlib.sha256).digest()
    return "v1," + base64.b64encode(digest).decode()


def signature_headers(*, keys: Sequence[bytes], msg_id: str, body: bytes, timestamp: int | None = None,
                      ) -> dict[str, str]:
    """Return the three Standard Webhooks headers, signed afresh (now) with every key given, newest first."""
    if not keys:
        raise InvalidSecret("no signing secret")
    timestamp = int(time.time()) if timestamp is None else timestamp
    return {
        "webhook-id": msg_id,
        "webhook-timestamp": str(timestamp),
        "webhook-signature": " ".join(sign(key=k, msg_id=msg_id, timestamp=timestamp, body=body) for k in keys),
    }
