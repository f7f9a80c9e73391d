"""Helpers for the batch-renewal tests: platforms, keys, frozen numbers in bulk, a free local port."""

import socket
from datetime import timedelta

from django.utils import timezone

from numbers.models import HolderPeriod, PhoneNumber, State
from renewal.models import Platform, PlatformStatus
from renewal.platforms import services
from tests.factories import next_msisdn

_names = iter(range(10**6))


def make_platform(name: str | None = None, *, category: str = "payment", kind: str = "application",
                  status: str = PlatformStatus.LIVE, webhook_url: str = "") -> Platform:
    """Create a platform through the service, with a real signing secret: live and pull-only unless told."""
    return services.platform_create(name=name or f"Platform {next(_names)}", category=category, kind=kind,
                                    webhook_url=webhook_url, status=status)


def make_key(platform=None, operator=None) -> str:
    return services.api_key_create(platform=platform, operator=operator, name="test")[1]


def make_frozen_numbers(operator, count: int, *, cancelled_days_ago: float = 75, now=None) -> list[PhoneNumber]:
    """Create `count` frozen numbers of `operator`, each with the closed holder period of its cycle."""
    now = now or timezone.now()
    cancelled = now - timedelta(days=cancelled_days_ago)
    numbers = PhoneNumber.objects.bulk_create([
        PhoneNumber(msisdn=next_msisdn(), range_holder=operator, serving_operator=operator, state=State.FROZEN,
                    cancelled_at=cancelled, frozen_until=cancelled + timedelta(days=90))
        for _ in range(count)
    ], batch_size=2000)
    periods = HolderPeriod.objects.bulk_create([
        HolderPeriod(number=n, operator=operator, started_at=cancelled - timedelta(days=400), ended_at=cancelled)
        for n in numbers
    ], batch_size=2000)
    for n, p in zip(numbers, periods, strict=True):
        n.cycle = p
    PhoneNumber.objects.bulk_update(numbers, ["cycle"], batch_size=2000)
    return numbers


def free_port(first: int = 8440, last: int = 8499) -> int:
    """A free port on 127.0.0.1 in [first, last] (the tests' own range)."""
    for port in range(first, last + 1):
        with socket.socket() as s:
            try:
                s.bind(("127.0.0.1", port))
            except OSError:
                continue
            return port
    raise RuntimeError(f"no free port in {first}-{last}")
