"""Demo data for the regulator's dashboard: sales at every outlet, with disclosures and declined offers.

Goes through the sales services (number_allocate, number_offer_decline), so the events and the
disclosure records are the real ones.
"""

from django.contrib.auth import get_user_model
from django.db import transaction

from numbers.demo import signature_png
from numbers.models import Disclosure, DisclosureMethod, MarkCategory, MarkEffect, Outlet, PhoneNumber, State
from numbers.oversight.services import risk_list_submit
from numbers.services import DisclosureInput, number_allocate, number_offer_decline
from numbers.snapshots import snapshots_backfill, snapshots_take

SECONDARY_SOLD = 5
FRESH_SOLD = 3
SECONDARY_DECLINED = 2
FRESH_DECLINED = 1


@transaction.atomic
def load(stdout) -> list[tuple[str, str, str]]:
    if Disclosure.objects.exists():
        stdout.write("oversight: demo sales already recorded")
        return _logins()
    User = get_user_model()
    methods = list(DisclosureMethod.values)
    sold = declined = 0
    for k, outlet in enumerate(Outlet.objects.select_related("operator").order_by("operator__code", "code")):
        clerk = User.objects.filter(staff_profile__outlet=outlet).order_by("pk").first()
        if clerk is None:
            continue
        available = PhoneNumber.objects.filter(range_holder=outlet.operator, state=State.AVAILABLE).order_by("pk")
        # A different share per outlet, so the dashboard's rows differ.
        wanted = SECONDARY_SOLD + SECONDARY_DECLINED + k % 3
        secondary = list(available.filter(is_secondary=True)[k * 10: k * 10 + wanted])
        fresh = list(available.filter(is_secondary=False).order_by("-pk")[k * 10: k * 10 + FRESH_SOLD + FRESH_DECLINED])
        for i, number in enumerate(secondary[:SECONDARY_SOLD + k % 3]):
            number_allocate(number=number, outlet=outlet, staff=clerk, customer_ref=f"{outlet.code}-S{i:03d}",
                            disclosure=DisclosureInput(method=methods[i % len(methods)], customer_confirmed=True,
                                                       signature_png=signature_png()))
            sold += 1
        for number in secondary[SECONDARY_SOLD + k % 3:]:
            number_offer_decline(number=number, outlet=outlet, staff=clerk, reason="客户改选了全新号码")
            declined += 1
        for i, number in enumerate(fresh[:FRESH_SOLD]):
            number_allocate(number=number, outlet=outlet, staff=clerk, customer_ref=f"{outlet.code}-N{i:03d}",
                            disclosure=None)
            sold += 1
        for number in fresh[FRESH_SOLD:]:
            number_offer_decline(number=number, outlet=outlet, staff=clerk, reason="客户想要更吉利的尾号")
            declined += 1
    stdout.write(f"oversight: {sold} sales and {declined} declined offers at the outlets")
    _risk_list(stdout)
    # The dashboard's stock trends: the past 30 days from the events, and yesterday's figures.
    snapshots_take()
    snapshots_backfill(days=30)
    return _logins()


def _risk_list(stdout) -> None:
    """A list from an authority, placed as a regulator would: the worker applies it once `make run` starts it."""
    regulator = get_user_model().objects.filter(username="regulator").first()
    numbers = list(PhoneNumber.objects.filter(state=State.FROZEN).order_by("-pk").values_list("msisdn", flat=True)[:40])
    if regulator is None or not numbers:
        return
    text = "msisdn\n" + "\n".join(n.removeprefix("+86") for n in numbers) + "\n13700000000\n12345\n"
    risk_list_submit(actor=regulator, category=MarkCategory.HARASSING_MARKETING, authority="工业和信息化部",
                     reference="MIIT-DEMO-1", effect=MarkEffect.EXTEND, extra_days=30, text=text)
    stdout.write(f"oversight: a risk list of {len(numbers) + 2} lines queued (the worker applies it)")


def _logins() -> list[tuple[str, str, str]]:
    return [("Regulator: compliance dashboard (pick a range, click a figure)", "/admin/dashboard/",
             "regulator (as above)"),
            ("Regulator: risk lists (place one: Risk marks → Add)", "/admin/numbers/risklist/", "regulator"),
            ("Operator administrator: its own dashboard", "/admin/dashboard/", "cmcc-admin (as above)")]
