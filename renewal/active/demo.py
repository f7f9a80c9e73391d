"""Demo data of active renewal: numbers a person can sign in with, and one harassment report for regulators."""

import struct
import zlib
from datetime import timedelta
from typing import Any

from django.conf import settings
from django.contrib.auth import get_user_model
from django.core.files.uploadedfile import SimpleUploadedFile
from django.db import transaction
from django.utils import timezone

from numbers.models import HolderPeriod, Outlet, PhoneNumber, State
from numbers.services import DisclosureInput, number_allocate
from renewal.active.reports import harassment_report_create
from renewal.models import HarassmentReport, ReportStatus


def _png(width: int = 8, height: int = 8) -> bytes:
    """A tiny valid PNG (grey square) for the demo evidence."""
    def chunk(kind: bytes, data: bytes) -> bytes:
        return struct.pack(">I", len(data)) + kind + data + struct.pack(">I", zlib.crc32(kind + data) & 0xFFFFFFFF)
    raw = b"".join(b"\x00" + b"\x80" * width for _ in range(height))
    return (b"\x89PNG\r\n\x1a\n" + chunk(b"IHDR", struct.pack(">IIBBBBB", width, height, 8, 0, 0, 0, 0))
            + chunk(b"IDAT", zlib.compress(raw)) + chunk(b"IEND", b""))


@transaction.atomic
def load(stdout) -> list[tuple[str, str, str]]:
    if HarassmentReport.objects.exists():
        stdout.write("renewal (subscriber): demo data already loaded")
        return _logins()
    outlet = Outlet.objects.select_related("operator").order_by("id").first()
    clerk = get_user_model().objects.filter(staff_profile__outlet=outlet).first()
    if outlet is None or clerk is None:
        stdout.write("renewal (subscriber): no outlet or clerk to allocate with; skipped")
        return []
    now = timezone.now()
    # A secondary number sold two weeks ago: its old holder's bindings are what "unbind all" removes.
    secondary = (PhoneNumber.objects.filter(state=State.AVAILABLE, is_secondary=True, range_holder=outlet.operator)
                 .order_by("msisdn").first())
    if secondary is not None:
        period = number_allocate(number=secondary, outlet=outlet, staff=clerk, customer_ref="DEMO-SUB-1",
                                 disclosure=DisclosureInput(method="written", customer_confirmed=True),
                                 now=now - timedelta(days=14))
        harassment_report_create(
            period=period, category="debt_collection", sender="+86 400 800 1234", occurred_at=now - timedelta(days=2),
            description="每天都有催收电话找原机主，说他欠网贷。Debt collectors call every day for the old holder.",
            files=[_evidence("call-log.png")])
        _retention_demo(period, now)
    # An active number loaded from older records without the start of its holding: no unbind button.
    unknown = (PhoneNumber.objects.filter(state=State.AVAILABLE, is_secondary=False, range_holder=outlet.operator)
               .order_by("msisdn").first())
    if unknown is not None:
        HolderPeriod.objects.create(number=unknown, operator=outlet.operator, started_at=None,
                                    customer_ref="DEMO-SUB-2")
        PhoneNumber.objects.filter(pk=unknown.pk).update(state=State.ACTIVE)
    stdout.write("renewal (subscriber): 2 demo subscriber numbers and 3 harassment reports")
    return _logins()


def _retention_demo(period: HolderPeriod, now) -> None:
    """Two closed reports past the retention period: `manage.py retention_sweep` deletes one, the held one stays."""
    for held, sender in ((False, "+86 400 800 0001"), (True, "+86 400 800 0002")):
        report = harassment_report_create(
            period=period, category="marketing", sender=sender, occurred_at=now - timedelta(days=1200),
            description="Old marketing calls (demo of the retention period).", files=[_evidence("old.png")])
        old = now - timedelta(days=settings.REPORT_RETENTION_DAYS + 30)
        HarassmentReport.objects.filter(pk=report.pk).update(
            created_at=old, status=ReportStatus.CLOSED, handled_at=old, handled_by="regulator", retention_hold=held)


def _evidence(name: str):
    # Like a file the evidence field checked: it adds the proven type and the digest as attributes.
    upload: Any = SimpleUploadedFile(name, _png(), "image/png")
    upload.sniffed_type, upload.sha256 = "image/png", ""
    return upload


def _logins() -> list[tuple[str, str, str]]:
    lines = []
    secondary = (HolderPeriod.objects.filter(customer_ref="DEMO-SUB-1", ended_at__isnull=True)
                 .select_related("number").first())
    unknown = (HolderPeriod.objects.filter(customer_ref="DEMO-SUB-2", ended_at__isnull=True)
               .select_related("number").first())
    if secondary:
        lines.append(("Subscriber (secondary number)", "/renew/",
                      f"number {secondary.number.national}; the code is printed below (▶ SMS)"))
        lines.append(("  then", "/renew/number", "“unbind all”: about 7% of platforms reject, with the reason and "
                      "their support contact; the summary SMS links back (/r/…); a report"))
        lines.append(("Regulator: who handles reports", "/admin/renewal/reportauthority/", "regulator"))
    if unknown:
        lines.append(("Subscriber (holding start unknown)", "/renew/", f"number {unknown.number.national}"))
    if HarassmentReport.objects.filter(retention_hold=True).exists():
        lines.append(("Retention (regulator)", "/admin/renewal/harassmentreport/",
                      "2 closed reports past 3 years; `manage.py retention_sweep` deletes the one not held"))
    return lines
