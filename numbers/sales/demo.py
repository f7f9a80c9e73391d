"""Demo data for the sales staff's pages: memorable numbers ending in 8888 at the demo clerk's operator.

The lifecycle demo (numbers.demo) already has released (secondary) and never-used numbers for every
operator; this step adds a few that a clerk finds by searching "ends with 8888", secondary and new
side by side, so that the disclosure can be shown on `make run`.
"""

from datetime import timedelta

from django.db import transaction
from django.utils import timezone

from numbers.demo import PASSWORD
from numbers.models import Event, EventKind, HolderPeriod, Operator, PhoneNumber, State

OPERATOR = "CMCC"
SECONDARY = [("+8613900008888", 200), ("+8613812348888", 130), ("+8615066668888", 400)]  # msisdn, days since cancel
NEW = ["+8618700018888", "+8619812348888"]


@transaction.atomic
def load(stdout) -> list[tuple[str, str, str]]:
    operator = Operator.objects.filter(code=OPERATOR).first()
    if operator is None:
        stdout.write("sales: the lifecycle demo did not load; no sales demo numbers")
        return []
    now = timezone.now()
    added = 0
    for msisdn, days in SECONDARY:
        if PhoneNumber.objects.filter(msisdn=msisdn).exists():
            continue
        cancelled = now - timedelta(days=days)
        number = PhoneNumber.objects.create(
            msisdn=msisdn, range_holder=operator, serving_operator=operator, state=State.AVAILABLE,
            is_secondary=True, cancelled_at=cancelled, frozen_until=cancelled + timedelta(days=90),
            released_at=cancelled + timedelta(days=91),
        )
        period = HolderPeriod.objects.create(number=number, operator=operator, started_at=cancelled - timedelta(
            days=2000), ended_at=cancelled)
        number.cycle = period
        number.save(update_fields=["cycle"])
        Event.objects.create(number=number, kind=EventKind.IMPORT, to_state=number.state, actor="demo", at=now,
                             recorded_at=now, detail={"operator": operator.code})
        added += 1
    for msisdn in NEW:
        if PhoneNumber.objects.filter(msisdn=msisdn).exists():
            continue
        number = PhoneNumber.objects.create(msisdn=msisdn, range_holder=operator, serving_operator=operator)
        Event.objects.create(number=number, kind=EventKind.IMPORT, to_state=number.state, actor="demo", at=now,
                             recorded_at=now, detail={"operator": operator.code})
        added += 1
    secondary = PhoneNumber.objects.filter(range_holder=operator, state=State.AVAILABLE, is_secondary=True).count()
    stdout.write(f"sales: {added} numbers ending in 8888 added; {secondary} secondary numbers available at "
                 f"{OPERATOR} (search “ends with 8888” in the number book)")
    pw = f"password {PASSWORD}"
    return [
        ("Sales staff (CMCC Beijing)", "/staff/login/", f"clerk-bj-xd / {pw}"),
        ("Sales staff (CMCC Shanghai)", "/staff/login/", f"clerk-sh-nj / {pw}"),
        ("  try: search +86 138 1234 8888", "/staff/", "choose “electronic signature”: the customer signs"),
        ("  a clerk's own password", "/staff/password/", "any clerk; cmcc-admin makes reset links in Users"),
    ]
