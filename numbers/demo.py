"""Demo data for the number lifecycle: 3 operators, outlets with sales staff, numbers in every state."""

from __future__ import annotations

import base64
import csv
import io
import random
import tempfile
from datetime import date, datetime, timedelta
from pathlib import Path
from typing import TYPE_CHECKING

from django.contrib.auth import get_user_model
from django.contrib.auth.models import Group
from django.core.management import call_command
from django.core.management.base import OutputWrapper
from django.db import transaction
from django.utils import timezone

from numbers import roles
from numbers.models import (
    MarkCategory,
    MarkEffect,
    Operator,
    Outlet,
    PhoneNumber,
    StaffProfile,
    State,
)
from numbers.services import risk_mark_place

if TYPE_CHECKING:
    from django.contrib.auth.models import User

PASSWORD = "demo-pass-2026"
# A regulator enrolled in two-factor sign-in, with a fixed authenticator key (RFC 6238's test key) and fixed
# recovery codes, so that the printed summary stays true on every `make run`. Demo only (DEBUG).
TWO_FACTOR_USER = "regulator-2fa"
DEMO_TOTP_KEY_HEX = "3132333435363738393031323334353637383930"
DEMO_RECOVERY_CODES = [f"demo{i:04d}" for i in range(1, 11)]

# The clerks' names as customers read them on a receipt (their logins stay short to type).
CLERK_NAMES = {"BJ-XD": ("小明", "王"), "SH-NJ": ("丽", "李"), "GZ-TH": ("伟", "陈"), "SZ-FT": ("芳", "张"),
               "CD-CH": ("强", "刘"), "HZ-WL": ("静", "杨")}

OPERATORS = [
    # code, name, mobile prefixes of its number blocks, outlets
    ("CMCC", "中国移动", ["139", "138", "150", "187", "198"],
     [("BJ-XD", "北京西单营业厅"), ("SH-NJ", "上海南京东路营业厅")]),
    ("CUCC", "中国联通", ["130", "131", "155", "186", "166"],
     [("GZ-TH", "广州天河营业厅"), ("SZ-FT", "深圳福田营业厅")]),
    ("CTCC", "中国电信", ["133", "153", "180", "189", "199"],
     [("CD-CH", "成都春熙路营业厅"), ("HZ-WL", "杭州武林营业厅")]),
]
NUMBERS_PER_OPERATOR = 1500


def _user(username: str, role: str, *, operator: Operator | None = None, outlet: Outlet | None = None,
          superuser: bool = False) -> User:
    User = get_user_model()
    user, _ = User.objects.get_or_create(username=username)
    user.is_staff = role != roles.SALES_STAFF or superuser
    user.is_superuser = superuser
    user.set_password(PASSWORD)
    user.save()
    if role:
        user.groups.add(Group.objects.get(name=role))
    if operator is not None:
        StaffProfile.objects.update_or_create(user=user, defaults={"operator": operator, "outlet": outlet})
    return user


def _numbers(rng: random.Random, prefixes: list[str], count: int, taken: set[str]) -> list[str]:
    out: list[str] = []
    while len(out) < count:
        msisdn = f"+86{rng.choice(prefixes)}{rng.randrange(10**8):08d}"
        if msisdn not in taken:
            taken.add(msisdn)
            out.append(msisdn)
    return out


@transaction.atomic
def load(stdout: OutputWrapper) -> list[tuple[str, str, str]]:
    if PhoneNumber.objects.exists():
        stdout.write("numbers: demo numbers already loaded")
        _two_factor_account()
        return _logins()
    rng = random.Random(2026)
    now = timezone.now()
    taken: set[str] = set()
    for code, name, prefixes, outlets in OPERATORS:
        operator = Operator.objects.create(code=code, name=name, coverage_start=date(2019, 1, 1))
        for outlet_code, outlet_name in outlets:
            outlet = Outlet.objects.create(operator=operator, code=outlet_code, name=outlet_name)
            clerk = _user(f"clerk-{outlet_code.lower()}", roles.SALES_STAFF, operator=operator, outlet=outlet)
            clerk.first_name, clerk.last_name = CLERK_NAMES[outlet_code]
            clerk.save(update_fields=["first_name", "last_name"])
        _user(f"{code.lower()}-admin", roles.OPERATOR_ADMIN, operator=operator)
        _inventory(rng, operator, _numbers(rng, prefixes, NUMBERS_PER_OPERATOR, taken), now)
    _user("regulator", roles.REGULATOR)
    _user("platform-admin", roles.PLATFORM_ADMIN)
    _user("admin", "", superuser=True)
    _two_factor_account()
    _marks(rng, now)
    stdout.write(f"numbers: {PhoneNumber.objects.count()} demo numbers in every state for 3 operators")
    return _logins()


def _inventory(rng: random.Random, operator: Operator, msisdns: list[str], now: datetime) -> None:
    """Never-used, active, frozen at every stage of the freeze, and released numbers, loaded by import_numbers."""
    with tempfile.TemporaryDirectory() as tmp:
        path = Path(tmp) / f"{operator.code}-inventory.csv"
        with open(path, "w", encoding="utf-8", newline="") as csv_file:
            writer = csv.writer(csv_file)
            writer.writerow(["msisdn", "state", "holder_since", "cancelled_at"])
            for msisdn in msisdns:
                roll = rng.random()
                if roll < 0.40:
                    writer.writerow([msisdn, State.AVAILABLE, "", ""])
                elif roll < 0.65:
                    since = now - timedelta(days=rng.randrange(30, 3000), minutes=rng.randrange(1440))
                    writer.writerow([msisdn, State.ACTIVE, since.isoformat(), ""])
                elif roll < 0.88:
                    cancelled = now - timedelta(days=rng.randrange(1, 110), minutes=rng.randrange(1440))
                    writer.writerow([msisdn, State.FROZEN, "", cancelled.isoformat()])
                else:  # released before the portal: available and secondary
                    cancelled = now - timedelta(days=rng.randrange(100, 400))
                    writer.writerow([msisdn, State.AVAILABLE, "", cancelled.isoformat()])
        out = io.StringIO()
        try:
            call_command("import_numbers", str(path), operator=operator.code, stdout=out)
        except SystemExit as exc:
            raise RuntimeError(f"the demo inventory of {operator.code} was rejected:\n{out.getvalue()}") from exc


def _marks(rng: random.Random, now: datetime) -> None:
    """Some numbers held back by regulators: suspended, and freezes extended."""
    regulator = get_user_model().objects.get(username="regulator")
    frozen = list(PhoneNumber.objects.filter(state=State.FROZEN).order_by("id")[:60])
    fresh = list(PhoneNumber.objects.filter(state=State.AVAILABLE, is_secondary=False).order_by("id")[:20])
    for i, number in enumerate(frozen[:40] + fresh):
        risk_mark_place(number=number, category=rng.choice(MarkCategory.values), authority="公安部反诈中心",
                        reference=f"FZ-2026-{1000 + i}", effect=MarkEffect.SUSPEND, actor=regulator, now=now)
    for i, number in enumerate(frozen[40:]):
        risk_mark_place(number=number, category=MarkCategory.HARASSING_MARKETING, authority="工业和信息化部",
                        reference=f"GX-2026-{2000 + i}", effect=MarkEffect.EXTEND, extra_days=30 + 10 * (i % 6),
                        actor=regulator, now=now)


def _two_factor_account() -> None:
    """The enrolled regulator: its authenticator key and recovery codes as the summary prints them (all ten, again)."""
    from django_otp.plugins.otp_static.models import StaticDevice, StaticToken
    from django_otp.plugins.otp_totp.models import TOTPDevice

    user = _user(TWO_FACTOR_USER, roles.REGULATOR)
    TOTPDevice.objects.update_or_create(user=user, defaults={"name": "authenticator app", "confirmed": True,
                                                             "key": DEMO_TOTP_KEY_HEX, "last_t": -1})
    StaticDevice.objects.filter(user=user).delete()
    device = StaticDevice.objects.create(user=user, name="recovery codes", confirmed=True)
    StaticToken.objects.bulk_create(StaticToken(device=device, token=code) for code in DEMO_RECOVERY_CODES)


def signature_png(width: int = 120, height: int = 40) -> bytes:
    """A small signature-like PNG (a dark zigzag on transparent ground): the demo's and the tests' drawn signature."""
    import struct
    import zlib

    rows = []
    for y in range(height):
        row = bytearray(b"\x00")  # filter: none
        for x in range(width):
            on = abs((x // 4 % 10) - 5) * height // 12 == y // 2 % (height // 2) or abs(y - height // 2) < 1
            row += b"\x11\x11\x11\xff" if on and 8 < x < width - 8 else b"\x00\x00\x00\x00"
        rows.append(bytes(row))

    def chunk(kind: bytes, data: bytes) -> bytes:
        crc = zlib.crc32(kind + data) & 0xFFFFFFFF
        return struct.pack(">I", len(data)) + kind + data + struct.pack(">I", crc)

    header = struct.pack(">IIBBBBB", width, height, 8, 6, 0, 0, 0)
    return (b"\x89PNG\r\n\x1a\n" + chunk(b"IHDR", header) + chunk(b"IDAT", zlib.compress(b"".join(rows)))
            + chunk(b"IEND", b""))


def _logins() -> list[tuple[str, str, str]]:
    pw = f"password {PASSWORD}"
    key = base64.b32encode(bytes.fromhex(DEMO_TOTP_KEY_HEX)).decode()
    return [
        ("Two-factor sign-in", "/admin/two-factor/",
         "relaxed for the demo (ADMIN_2FA_RELAXED=true): an account without an authenticator app signs in with "
         "its password; `ADMIN_2FA_RELAXED=false make run` requires it of superusers, regulators and platform "
         "administrators"),
        ("Regulator with two-factor sign-in", "/admin/",
         f"{TWO_FACTOR_USER} / {pw} + the code of an authenticator app with the key {key}, or a recovery code "
         f"({', '.join(DEMO_RECOVERY_CODES[:3])}…)"),
        ("Regulator (admin, dashboard)", "/admin/", f"regulator / {pw}"),
        ("Regulator: the audit trail", "/admin/numbers/auditentry/", "regulator (every admin action, sign-in)"),
        ("Renewal-platform administrator", "/admin/", f"platform-admin / {pw}"),
        ("Operator administrator (CMCC)", "/admin/", f"cmcc-admin / {pw}"),
        ("Superuser", "/admin/", f"admin / {pw}"),
        # What the operations team watches: no sign-in, from this machine only.
        ("Operations: Prometheus metrics", "/metrics", "from 127.0.0.1 (curl it); deliveries, queues, sweeps"),
        ("Operations: readiness", "/api/v1/health/ready", "database, broker, cache, beat and workers"),
    ]
