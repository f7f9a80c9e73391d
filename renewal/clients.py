"""Outgoing webhooks: one pooled HTTP client per worker process, and the URL safety rules.

DESIGN.md: HTTPS only in production; private, loopback and link-local
addresses refused after DNS resolution at send time (the address actually
connected to is checked too, so a name that re-resolves between the check and
the connection cannot reach inside); no redirects. Loopback alone is allowed by
RENEWAL_WEBHOOK_ALLOW_LOOPBACK (development and tests: the simulator).
"""

import ipaddress
import os
import socket
from dataclasses import dataclass
from urllib.parse import urlsplit

import requests
from django.conf import settings
from django.core.exceptions import ValidationError
from django.utils.translation import gettext as _
from requests.adapters import HTTPAdapter
from urllib3.connection import HTTPConnection, HTTPSConnection
from urllib3.connectionpool import HTTPConnectionPool, HTTPSConnectionPool

# Only this much of a platform's answer is kept (for last_error).
_ANSWER_BYTES = 500


class WebhookRefused(Exception):
    """The destination is not allowed (scheme, private or loopback address)."""


def address_refusal(ip: str) -> str | None:
    """Return why a webhook may not go to this IP address, or None if it may."""
    try:
        addr = ipaddress.ip_address(ip.split("%", 1)[0])
    except ValueError:
        return f"{ip} is not an IP address"
    if addr.version == 6 and addr.ipv4_mapped:
        addr = addr.ipv4_mapped
    if addr.is_loopback:
        return None if settings.RENEWAL_WEBHOOK_ALLOW_LOOPBACK else f"{addr} is a loopback address"
    if addr.is_link_local:
        return f"{addr} is a link-local address"
    if addr.is_private or addr.is_multicast or addr.is_reserved or addr.is_unspecified or not addr.is_global:
        return f"{addr} is a private or reserved address"
    return None


def validate_webhook_url(url: str) -> str:
    """Check a webhook URL when it is saved (no DNS here: names are resolved at send time)."""
    url = (url or "").strip()
    if not url:
        return url
    parts = urlsplit(url)
    allowed = ("https",) if settings.RENEWAL_WEBHOOK_REQUIRE_HTTPS else ("https", "http")
    if parts.scheme not in allowed:
        raise ValidationError(_("A webhook URL must start with https://."), code="https_required")
    if not parts.hostname or parts.username or parts.password:
        raise ValidationError(_("Enter a full address such as https://example.com/renewal (no user or password)."),
                              code="invalid")
    try:
        parts.port  # noqa: B018  (raises on a bad port)
    except ValueError as exc:
        raise ValidationError(_("The port of this address is not valid."), code="invalid") from exc
    host = parts.hostname
    if host == "localhost" or host.endswith(".localhost"):
        host = "127.0.0.1"
    try:
        ipaddress.ip_address(host)
    except ValueError:
        return url  # a name: checked after resolution, at send time
    reason = address_refusal(host)
    if reason:
        raise ValidationError(_("This address cannot receive webhooks: %(reason)s.") % {"reason": reason},
                              code="address_refused")
    return url


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
        reason = address_refusal(info[4][0])
        if reason:
            raise WebhookRefused(f"{parts.hostname} resolves to {reason}")


class _PeerCheck:
    def _new_conn(self):
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
    def init_poolmanager(self, *args, **kwargs):
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


def post_webhook(url: str, *, body: bytes, headers: dict) -> Answer:
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
