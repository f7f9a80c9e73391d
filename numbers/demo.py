"""Demo data for the number lifecycle: 3 operators, outlets with sales staff, numbers in every state."""

import random
from datetime import date, timedelta

from django.contrib.auth import get_user_model
from django.contrib.auth.models import Group
from django.db import transaction
from django.utils import timezone

from numbers import roles
from numbers.models import (
    Event,
    EventKind,
    HolderPeriod,
    MarkCategory,
    MarkEffect,
    Operator,
    Outlet,
    PhoneNumber,
    StaffProfile,
    State,
)
from numbers.services import risk_mark_place

PASSWORD = "demo-pass-2026"

OPERATORS = [
    # code, name, mobile prefixes of its number blocks, outlets
    ("CMCC", "中国移动 China Mobile", ["139", "138", "150", "187", "198"],
     [("BJ-XD", "北京西单营业厅"), ("SH-NJ", "上海南京东路营业厅")]),
    ("CUCC", "中国联通 China Unicom", ["130", "131", "155", "186", "166"],
     [("GZ-TH", "广州天河营业厅"), ("SZ-FT", "深圳福田营业厅")]),
    ("CTCC", "中国电信 China Telecom", ["133", "153", "180", "189", "199"],
     [("CD-CH", "成都春熙路营业厅"), ("HZ-WL", "杭州武林营业厅")]),
]
NUMBERS_PER_OPERATOR = 1500


def _user(username: str, role: str, *, operator=None, outlet=None, superuser=False):
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
    out = []
    while len(out) < count:
        msisdn = f"+86{rng.choice(prefixes)}{rng.randrange(10**8):08d}"
        if msisdn not in taken:
            taken.add(msisdn)
            out.append(msisdn)
    return out


@transaction.atomic
def load(stdout) -> list[tuple[str, str, str]]:
    if PhoneNumber.objects.exists():
        stdout.write("numbers: demo numbers already loaded")
        return _logins()
    rng = random.Random(2026)
    now = timezone.now()
    taken: set[str] = set()
    for code, name, prefixes, outlets in OPERATORS:
        operator = Operator.objects.create(code=code, name=name, coverage_start=date(2019, 1, 1))
        for outlet_code, outlet_name in outlets:
            outlet = Outlet.objects.create(operator=operator, code=outlet_code, name=outlet_name)
            _user(f"clerk-{outlet_code.lower()}", roles.SALES_STAFF, operator=operator, outlet=outlet)
        _user(f"{code.lower()}-admin", roles.OPERATOR_ADMIN, operator=operator)
        _inventory(rng, operator, _numbers(rng, prefixes, NUMBERS_PER_OPERATOR, taken), now)
    _user("regulator", roles.REGULATOR)
    _user("platform-admin", roles.PLATFORM_ADMIN)
    _user("admin", "", superuser=True)
    _marks(rng, now)
    stdout.write(f"numbers: {PhoneNumber.objects.count()} demo numbers in every state for 3 operators")
    return _logins()


def _inventory(rng: random.Random, operator: Operator, msisdns: list[str], now) -> None:
    """Never-used, active, frozen at every stage of the freeze, and released numbers."""
    numbers = []
    for msisdn in msisdns:
        roll = rng.random()
        n = PhoneNumber(msisdn=msisdn, range_holder=operator, serving_operator=operator)
        if roll < 0.40:
            n.state = State.AVAILABLE
        elif roll < 0.65:
            n.state = State.ACTIVE
            n._since = now - timedelta(days=rng.randrange(30, 3000), minutes=rng.randrange(1440))
        elif roll < 0.88:
            n.state = State.FROZEN
            n.cancelled_at = now - timedelta(days=rng.randrange(1, 110), minutes=rng.randrange(1440))
            n.frozen_until = n.cancelled_at + timedelta(days=90)
        else:
            n.state = State.AVAILABLE
            n.is_secondary = True
            n.cancelled_at = now - timedelta(days=rng.randrange(100, 400))
            n.frozen_until = n.cancelled_at + timedelta(days=90)
            n.released_at = n.frozen_until + timedelta(days=rng.randrange(0, 8))
        numbers.append(n)
    PhoneNumber.objects.bulk_create(numbers, batch_size=2000)
    periods = []
    for n in numbers:
        if n.state == State.ACTIVE:
            periods.append(HolderPeriod(number=n, operator=operator, started_at=n._since,
                                        customer_ref=f"{operator.code}-{rng.randrange(10**9):09d}"))
        elif n.cancelled_at:
            # Loaded from an inventory: the real start of the old holding is unknown.
            periods.append(HolderPeriod(number=n, operator=operator, started_at=None, ended_at=n.cancelled_at))
    HolderPeriod.objects.bulk_create(periods, batch_size=2000)
    for period in periods:
        if period.ended_at:
            period.number.cycle = period
    PhoneNumber.objects.bulk_update([p.number for p in periods if p.ended_at], ["cycle"], batch_size=2000)
    Event.objects.bulk_create(
        [Event(number=n, kind=EventKind.IMPORT, to_state=n.state, actor="demo", at=now, recorded_at=now,
               detail={"operator": operator.code}) for n in numbers],
        batch_size=2000,
    )


def _marks(rng: random.Random, now) -> None:
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


def _logins() -> list[tuple[str, str, str]]:
    pw = f"password {PASSWORD}"
    return [
        ("Regulator (admin, dashboard)", "/admin/", f"regulator / {pw}"),
        ("Renewal-platform administrator", "/admin/", f"platform-admin / {pw}"),
        ("Operator administrator (CMCC)", "/admin/", f"cmcc-admin / {pw}"),
        ("Superuser", "/admin/", f"admin / {pw}"),
    ]
