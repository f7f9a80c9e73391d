"""Outgoing webhooks: one pooled HTTP client per worker process, and the address rules at send time.

Private, loopback and link-local addresses are refused after DNS resolution at send time (the address
actually connected to is checked too, so a name that re-resolves between the check and the connection
cannot reach inside); no redirects. The rules themselves are renewal.platforms.webhook_urls'.
"""

import os
import socket
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any
from urllib.parse import urlsplit

import requests
from django.conf import settings
from django.core.exceptions import ValidationError
from requests.adapters import HTTPAdapter
from urllib3.connection import HTTPConnection, HTTPSConnection
from urllib3.connectionpool import HTTPConnectionPool, HTTPSConnectionPool

from renewal.platforms.webhook_urls import address_refusal, validate_webhook_url

# Only this much of a platform's answer is kept (for last_error).
_ANSWER_BYTES = 500


class WebhookRefused(Exception):
    """The destination is not allowed (scheme, private or loopback address)."""






def check_destination(url: str) -> None:
    """Resolve the URL's host now and refuse it if any of its addresses is not allowed."""
    try:
        validate_webhook_url(url)
    except ValidationError as exc:
        raise WebhookRefused(" ".join(exc.messages)) from exc
    parts = urlsplit(url)
    port = parts.port or (443 if parts.scheme == "https" else 80)
    try:
        infos = socket.getaddrinfo(parts.hostname, port, type=socket.SOCK_STREAM)
    except socket.gaierror as exc:
        raise WebhookRefused(f"cannot resolve {parts.hostname}: {exc}") from exc
    for info in infos:
        reason = address_refusal(str(info[4][0]))  # an IPv4 or IPv6 address: a str already
        if reason:
            raise WebhookRefused(f"{parts.hostname} resolves to {reason}")


if TYPE_CHECKING:
    # What the mixin's method calls on `super()`; at run time it is a plain class.
    _ConnectionMixin = HTTPConnection
else:
    _ConnectionMixin = object


class _PeerCheck(_ConnectionMixin):
    def _new_conn(self) -> socket.socket:
        sock = super()._new_conn()
        try:
            peer = sock.getpeername()[0]
        except OSError:
            peer = None
        reason = address_refusal(peer) if peer else "no peer address"
        if reason:
            sock.close()
            raise WebhookRefused(f"connected to a refused address: {reason}")
        return sock


class _SafeHTTPConnection(_PeerCheck, HTTPConnection):
    pass


class _SafeHTTPSConnection(_PeerCheck, HTTPSConnection):
    pass


class _SafeHTTPPool(HTTPConnectionPool):
    ConnectionCls = _SafeHTTPConnection


class _SafeHTTPSPool(HTTPSConnectionPool):
    ConnectionCls = _SafeHTTPSConnection


class _SafeAdapter(HTTPAdapter):
    def init_poolmanager(self, *args: Any, **kwargs: Any) -> None:
        super().init_poolmanager(*args, **kwargs)
        self.poolmanager.pool_classes_by_scheme = {"http": _SafeHTTPPool, "https": _SafeHTTPSPool}


_session: requests.Session | None = None
_session_pid: int | None = None


def session() -> requests.Session:
    """Return this process's pooled client (a forked worker child makes its own)."""
    global _session, _session_pid
    if _session is None or _session_pid != os.getpid():
        s = requests.Session()
        s.trust_env = False  # no proxies or .netrc from the environment
        adapter = _SafeAdapter(pool_connections=64, pool_maxsize=4, max_retries=0)
        s.mount("http://", adapter)
        s.mount("https://", adapter)
        _session, _session_pid = s, os.getpid()
    return _session


@dataclass
class Answer:
    ok: bool
    error: str = ""
    status: int | None = None


def post_webhook(url: str, *, body: bytes, headers: dict[str, str]) -> Answer:
    """POST once; return whether the platform answered 2xx, or why not. Follows no redirect."""
    try:
        check_destination(url)
        response = session().post(
            url, data=body, headers={"Content-Type": "application/json", **headers},
            timeout=(settings.RENEWAL_CONNECT_TIMEOUT, settings.RENEWAL_READ_TIMEOUT),
            allow_redirects=False, stream=True,
        )
    except WebhookRefused as exc:
        return Answer(ok=False, error=f"refused: {exc}")
    except requests.RequestException as exc:
        return Answer(ok=False, error=f"{exc.__class__.__name__}: {exc}"[:1000])
    try:
        answer = next(response.iter_content(_ANSWER_BYTES), b"") if response.status_code >= 300 else b""
        if 200 <= response.status_code < 300:
            for _chunk in response.iter_content(8192):  # read it all so the connection goes back to the pool
                pass
            return Answer(ok=True, status=response.status_code)
        text = answer.decode("utf-8", "replace")
        if 300 <= response.status_code < 400:
            text = f"redirect to {response.headers.get('Location', '?')} (not followed)"
        return Answer(ok=False, status=response.status_code, error=f"HTTP {response.status_code}: {text}"[:1000])
    except requests.RequestException as exc:
        return Answer(ok=False, error=f"{exc.__class__.__name__}: {exc}"[:1000])
    finally:
        response.close()
