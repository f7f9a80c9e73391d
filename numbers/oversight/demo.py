"""Demo data for the regulator's dashboard: sales at every outlet, with disclosures and declined offers.

Goes through the sales services (number_allocate, number_offer_decline), so the events and the
disclosure records are the real ones.
"""

from django.contrib.auth import get_user_model
from django.db import transaction

from numbers.demo import signature_png
from numbers.models import Disclosure, DisclosureMethod, Outlet, PhoneNumber, State
from numbers.services import DisclosureInput, number_allocate, number_offer_decline

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
    return _logins()


def _logins() -> list[tuple[str, str, str]]:
    return [("Regulator: compliance dashboard", "/admin/dashboard/", "regulator (as above)")]
