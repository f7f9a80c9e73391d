"""Where a webhook may go: the URL rules checked when a platform is saved, and the address rules of send time.

HTTPS only in production; private, loopback and link-local addresses refused (after DNS resolution at
send time, renewal.deliveries.http); loopback alone is allowed by RENEWAL_WEBHOOK_ALLOW_LOOPBACK
(development and tests: the simulator).
"""

import ipaddress
import socket
from urllib.parse import urlsplit

from django.conf import settings
from django.core.exceptions import ValidationError
from django.utils.translation import gettext as _


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
    host = parts.hostname.rstrip(".")
    if host == "localhost" or host.endswith(".localhost"):
        host = "127.0.0.1"
    address = host_address(host)
    if address is None:
        return url  # a name: checked after resolution, at send time
    reason = address_refusal(address)
    if reason:
        if address != host:
            reason = f"{host} is {reason}"
        raise ValidationError(_("This address cannot receive webhooks: %(reason)s.") % {"reason": reason},
                              code="address_refused")
    return url


def host_address(host: str) -> str | None:
    """Return the IP address a URL's host spells, or None for a name.

    Anything `ipaddress` or `socket.inet_aton` parses is an address: `inet_aton` also reads the short, hex,
    octal and single-number forms (`127.1`, `0x7f000001`, `0177.0.0.1`, `2130706433`), which clients and
    resolvers connect to as addresses; checking only the dotted form would let them through.
    """
    try:
        return str(ipaddress.ip_address(host.split("%", 1)[0]))
    except ValueError:
        pass
    try:
        return socket.inet_ntoa(socket.inet_aton(host))
    except (OSError, ValueError):
        return None
