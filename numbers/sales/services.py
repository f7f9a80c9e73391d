"""What the sales pages do beyond the lifecycle's services: the disclosure's electronic copy by SMS, and the
customer's drawn signature checked before it is stored."""

from __future__ import annotations

import base64
import binascii
import re
import struct
import time
import zlib
from datetime import datetime

from django.core.exceptions import ValidationError
from django.utils import timezone
from django.utils.translation import gettext as _
from django.utils.translation import gettext_noop

from numbers import hooks, ratelimit
from numbers.models import HolderPeriod
from numbers.queueing import QueueUnavailable

# One SMS segment in zh-hans (70 characters) at its longest: a test formats it.
DISCLOSURE_SMS = gettext_noop(
    "[Number renewal] This number was someone else's until %(date)s. Remove their accounts in one step: %(url)s")
# A signature is a small PNG: a phone's canvas at most, never a photo.
SIGNATURE_MAX_BYTES = 300 * 1024
SIGNATURE_MAX_SIDE = 4000
_DATA_URL = re.compile(r"data:image/png;base64,([A-Za-z0-9+/=\s]+)")


def disclosure_sms_copy_send(*, period: HolderPeriod, renew_url: str) -> bool:
    """Text the disclosure's essentials and the renewal page to the customer's new number; False when refused.

    At most one copy a minute per allocation, so a double tap sends one. Raises QueueUnavailable when the task
    queue cannot take the SMS.
    """
    if period.disclosure is None:
        raise ValidationError(_("This number was new: there is no disclosure to send."), code="no_disclosure")
    limit, now = ratelimit.Limit("disclosure-sms", 1, 60), time.time()
    if ratelimit.hit_sliding(limit, str(period.pk), now=now) is not None:
        return False
    disconnected = period.disclosure.facts.get("disconnected_at")
    date = timezone.localtime(datetime.fromisoformat(disconnected)).strftime("%Y-%m-%d") if disconnected else "—"
    try:
        hooks.sms_send(period.number.msisdn, _(DISCLOSURE_SMS) % {"date": date, "url": renew_url})
    except QueueUnavailable:
        # Nothing is on its way: the clerk may try again at once, not be told "sent less than a minute ago".
        ratelimit.release_sliding(limit, str(period.pk), now=now)
        raise
    return True


def signature_png(data_url: str) -> bytes:
    """Return the PNG of a signature drawn on the page's canvas, or refuse it (not a PNG, too big, or blank)."""
    match = _DATA_URL.fullmatch((data_url or "").strip())
    if not match:
        raise ValidationError(_("The signature did not arrive: ask the customer to sign again."), code="signature")
    try:
        png = base64.b64decode(match.group(1), validate=False)
    except (binascii.Error, ValueError):
        raise ValidationError(_("The signature did not arrive: ask the customer to sign again."),
                              code="signature") from None
    if len(png) > SIGNATURE_MAX_BYTES or not png.startswith(b"\x89PNG\r\n\x1a\n") or png[12:16] != b"IHDR":
        raise ValidationError(_("The signature is not a picture the portal can keep: ask the customer to sign "
                                "again."), code="signature")
    width, height = struct.unpack(">II", png[16:24])
    if not (0 < width <= SIGNATURE_MAX_SIDE and 0 < height <= SIGNATURE_MAX_SIDE) or not _has_ink(png):
        raise ValidationError(_("The signature box is empty: ask the customer to sign in it."), code="blank")
    return png


def _has_ink(png: bytes) -> bool:
    """Whether any pixel was drawn: a blank canvas decodes to filter bytes (0-4) and transparent zeros only."""
    data, position = bytearray(), 8
    while position + 8 <= len(png):
        length, kind = struct.unpack(">I4s", png[position:position + 8])
        if kind == b"IDAT":
            data += png[position + 8:position + 8 + length]
        position += 12 + length
    inflater = zlib.decompressobj()
    try:
        # Bounded: a tiny file cannot inflate into gigabytes here.
        pixels = inflater.decompress(bytes(data), SIGNATURE_MAX_SIDE * SIGNATURE_MAX_SIDE)
    except zlib.error:
        return False
    return any(byte > 4 for byte in pixels)
