"""Two-factor sign-in to admin: an authenticator app (TOTP, django-otp) and single-use recovery codes.

Who needs it (docs/security.md): superusers, regulators and renewal-platform administrators always;
operator administrators may enrol, and once enrolled they too sign in with a code. `ADMIN_2FA_RELAXED`
(development and the demo only) lets an account that has not enrolled yet in with its password alone; an
enrolled account always needs its code. A superuser resets an account that lost its phone and its codes;
the account then enrols again at its next sign-in.

Each service here writes its audit entry in its own transaction.
"""

from __future__ import annotations

import base64
import io
from dataclasses import dataclass
from datetime import datetime
from typing import TYPE_CHECKING

import segno
from django.conf import settings
from django.db import transaction
from django_otp.plugins.otp_static.models import StaticDevice, StaticToken
from django_otp.plugins.otp_totp.models import TOTPDevice

from numbers import access, roles
from numbers.audit import AuditActor, audit_record
from numbers.models import AuditAction

if TYPE_CHECKING:
    from django.contrib.auth.models import AnonymousUser, User
    from django_otp.models import Device

# Roles that may not work in admin on a password alone.
REQUIRED_ROLES = frozenset({access.SUPERUSER, roles.REGULATOR, roles.PLATFORM_ADMIN,
                            # the platform account area's sign-in (renewal.onboarding), not admin's
                            roles.PLATFORM_ENGINEER})
TOTP_DEVICE_NAME = "authenticator app"
RECOVERY_DEVICE_NAME = "recovery codes"


def _devices(user: User, *, confirmed: bool = True) -> tuple[TOTPDevice | None, StaticDevice | None]:
    totp = TOTPDevice.objects.filter(user=user, confirmed=confirmed).order_by("pk").first()
    static = StaticDevice.objects.filter(user=user, confirmed=confirmed).order_by("pk").first()
    return totp, static


def is_enrolled(user: User | AnonymousUser) -> bool:
    """Return whether the account has set up an authenticator app (its sign-ins then always need a code)."""
    if not user.is_authenticated:
        return False
    cached: bool | None = getattr(user, "_portal_2fa_enrolled", None)
    if cached is None:
        cached = TOTPDevice.objects.filter(user=user, confirmed=True).exists()
        setattr(user, "_portal_2fa_enrolled", cached)  # noqa: B010  (cached on the user for the request)
    return cached


def is_required(user: User | AnonymousUser) -> bool:
    """Return whether the account's role may not enter admin without a second factor."""
    return access.account_role(user) in REQUIRED_ROLES


def is_verified(user: User | AnonymousUser) -> bool:
    """Return whether this session signed in with a second factor (django-otp's middleware sets it)."""
    verified = getattr(user, "is_verified", None)
    return bool(verified is not None and verified())


def is_satisfied(user: User | AnonymousUser) -> bool:
    """Return whether the session's sign-in is strong enough for admin (see the module's docstring)."""
    if is_verified(user):
        return True
    if is_enrolled(user):
        return False
    return not is_required(user) or bool(settings.ADMIN_2FA_RELAXED)


def must_enrol(user: User | AnonymousUser) -> bool:
    """Return whether the account signed in with its password and must now set up an authenticator app."""
    return is_required(user) and not is_enrolled(user) and not settings.ADMIN_2FA_RELAXED


# --- enrolment -----------------------------------------------------------------------------------------


def totp_device_start(*, user: User) -> TOTPDevice:
    """Return the account's authenticator app being set up (unconfirmed), making one on the first visit."""
    device = TOTPDevice.objects.filter(user=user, confirmed=False).order_by("pk").first()
    if device is None:
        device = TOTPDevice.objects.create(user=user, name=TOTP_DEVICE_NAME, confirmed=False)
    return device


def totp_secret(device: TOTPDevice) -> str:
    """Return the device's key as people type it into an authenticator app: base32, in groups of four."""
    text = base64.b32encode(device.bin_key).decode().rstrip("=")
    return " ".join(text[i:i + 4] for i in range(0, len(text), 4))


def totp_qr_data_uri(device: TOTPDevice) -> str:
    """Return the device's otpauth:// address as a PNG QR code in a data: URI, drawn here (no outside service)."""
    buffer = io.BytesIO()
    segno.make(device.config_url, error="m").save(buffer, kind="png", scale=5, border=4)
    return "data:image/png;base64," + base64.b64encode(buffer.getvalue()).decode()


def _new_recovery_codes(user: User) -> list[str]:
    StaticDevice.objects.filter(user=user).delete()
    device = StaticDevice.objects.create(user=user, name=RECOVERY_DEVICE_NAME, confirmed=True)
    codes = [StaticToken.random_token() for _ in range(settings.ADMIN_2FA_RECOVERY_CODES)]
    StaticToken.objects.bulk_create(StaticToken(device=device, token=code) for code in codes)
    return codes


@dataclass(frozen=True)
class Enrolment:
    device: TOTPDevice
    recovery_codes: list[str]


def two_factor_enrol(*, user: User, token: str, address: str = "") -> Enrolment | None:
    """Confirm the authenticator app being set up with its first code; return it with fresh recovery codes.

    Returns None (and changes nothing) when the code is wrong.
    """
    with transaction.atomic():
        device = (TOTPDevice.objects.select_for_update().filter(user=user, confirmed=False).order_by("pk")
                  .first())
        if device is None:
            return None
        # No back-off here: the account already signed in, and guessing codes of its own new app gains nothing.
        device.throttle_reset(commit=False)
        if not device.verify_token(token):
            return None
        TOTPDevice.objects.filter(user=user).exclude(pk=device.pk).delete()
        device.confirmed = True
        device.save(update_fields=["confirmed"])
        codes = _new_recovery_codes(user)
        audit_record(actor=user, action=AuditAction.TWO_FACTOR_ENROL, obj=user, address=address,
                     after={"authenticator_app": True, "recovery_codes": len(codes)})
    setattr(user, "_portal_2fa_enrolled", True)  # noqa: B010
    return Enrolment(device=device, recovery_codes=codes)


def recovery_codes_issue(*, user: User, address: str = "") -> list[str]:
    """Replace the account's recovery codes with new ones (shown once; the old ones stop working)."""
    with transaction.atomic():
        codes = _new_recovery_codes(user)
        audit_record(actor=user, action=AuditAction.RECOVERY_CODES, obj=user, address=address,
                     after={"recovery_codes": len(codes)})
    return codes


def two_factor_reset(*, user: User, actor: AuditActor, address: str = "") -> int:
    """Remove every second factor of the account (a superuser's act); return how many devices were removed."""
    with transaction.atomic():
        removed = 0
        for model in (TOTPDevice, StaticDevice):
            removed += int(model.objects.filter(user=user).delete()[1].get(model._meta.label, 0))
        audit_record(actor=actor, action=AuditAction.TWO_FACTOR_RESET, obj=user, address=address,
                     before={"enrolled": removed > 0}, after={"enrolled": False})
    return removed


def recovery_codes_left(user: User) -> int:
    return int(StaticToken.objects.filter(device__user=user, device__confirmed=True).count())


def enrolled_at(user: User) -> datetime | None:
    device = TOTPDevice.objects.filter(user=user, confirmed=True).order_by("pk").first()
    return device.created_at if device is not None else None


# --- the code step of a sign-in -----------------------------------------------------------------------


class CodeThrottled(Exception):
    """The device refuses codes for a moment after wrong ones (django-otp's back-off)."""


def _verify(device: Device, token: str) -> bool:
    allowed, _info = device.verify_is_allowed()
    if not allowed:
        raise CodeThrottled
    return bool(device.verify_token(token))


def _normalise(token: str) -> str:
    return "".join((token or "").split()).lower()


def second_factor_verify(*, user: User, token: str) -> Device | None:
    """Return the device that accepts `token` (a code of the authenticator app or an unused recovery code).

    The token's form picks the device (digits: the app; letters: a recovery code), so a wrong code never counts
    against the other one. Raises CodeThrottled while the device backs off after wrong codes.
    """
    token = _normalise(token)
    if not token:
        return None
    # A throttle count must survive the refusal: decide inside the transaction, raise after it.
    throttled = False
    with transaction.atomic():
        model: type[TOTPDevice] | type[StaticDevice] = TOTPDevice if token.isdigit() else StaticDevice
        device = model.objects.select_for_update().filter(user=user, confirmed=True).order_by("pk").first()
        accepted = None
        if device is not None:
            try:
                accepted = device if _verify(device, token) else None
            except CodeThrottled:
                throttled = True
    if throttled:
        raise CodeThrottled
    return accepted
