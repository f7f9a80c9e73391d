"""Two-factor sign-in in tests: enrol an account as the two-factor page does, and codes of its app."""

from django_otp import DEVICE_ID_SESSION_KEY
from django_otp.oath import TOTP
from django_otp.plugins.otp_totp.models import TOTPDevice

from numbers import two_factor


def current_code(device: TOTPDevice, *, steps_ahead: int = 0) -> str:
    """The code the account's authenticator app shows now (or `steps_ahead` 30-second steps later)."""
    totp = TOTP(device.bin_key, device.step, device.t0, device.digits, device.drift)
    totp.time = totp.time + steps_ahead * device.step
    return f"{totp.token():0{device.digits}d}"


def enrol(user) -> tuple[TOTPDevice, list[str]]:
    """Set up the account's authenticator app through the service; return the device and the recovery codes."""
    device = two_factor.totp_device_start(user=user)
    enrolment = two_factor.two_factor_enrol(user=user, token=current_code(device))
    assert enrolment is not None
    device.refresh_from_db()
    return device, enrolment.recovery_codes


def sign_in_verified(client, user, device: TOTPDevice | None = None) -> None:
    """Sign the test client in as `user`, as if with its password and a code of its app."""
    device = device or TOTPDevice.objects.filter(user=user, confirmed=True).first() or enrol(user)[0]
    client.force_login(user)
    session = client.session
    session[DEVICE_ID_SESSION_KEY] = device.persistent_id
    session.save()
