"""A small world for the oversight tests: two operators, each with an outlet, staff and numbers in every state.

Everything goes through the services, so events, holder periods and disclosures are the real ones.
"""

import csv
from dataclasses import dataclass
from datetime import timedelta

from django.core.files.base import ContentFile
from django.utils import timezone

from numbers import roles
from numbers.models import (
    DeclinedOffer,
    FeedUpload,
    MarkCategory,
    MarkEffect,
    Operator,
    Outlet,
    PhoneNumber,
    RiskList,
    RiskMark,
)
from numbers.services import (
    DisclosureInput,
    number_allocate,
    number_cancel,
    number_offer_decline,
    risk_mark_place,
)
from tests.factories import OutletFactory, PhoneNumberFactory, staff_user


@dataclass(frozen=True)
class WorldNames:
    """What people type into the world: names, references, reasons (Chinese in the page-language test)."""

    outlet: str = "{tag} outlet"
    clerk: str = "clerk-{tag}"
    admin: str = "admin-{tag}"
    actor: str = "test"
    authority: str = "MPS"
    decline_reason: str = "chose another"
    feed_file: str = "{tag}-feed.csv"


@dataclass
class OperatorWorld:
    operator: Operator
    outlet: Outlet
    clerk: object
    admin: object
    fresh: PhoneNumber
    active: PhoneNumber
    secondary_active: PhoneNumber
    frozen: PhoneNumber
    suspended: PhoneNumber
    declined: DeclinedOffer
    mark: RiskMark


def operator_world(operator: Operator, *, tag: str, names: WorldNames = WorldNames()) -> OperatorWorld:
    now = timezone.now()
    named = {k: v.format(tag=tag) for k, v in vars(names).items()}
    long_ago = now - timedelta(days=400)  # holdings began long before the cancellations below
    outlet = OutletFactory(operator=operator, code=f"{tag}-01", name=named["outlet"])
    clerk = staff_user(role=roles.SALES_STAFF, outlet=outlet, username=named["clerk"])
    admin_user = staff_user(role=roles.OPERATOR_ADMIN, operator=operator, username=named["admin"])
    fresh = PhoneNumberFactory(range_holder=operator)
    active = PhoneNumberFactory(range_holder=operator)
    number_allocate(number=active, outlet=outlet, staff=clerk, customer_ref=f"{tag}-C1", disclosure=None,
                    now=long_ago)
    secondary = PhoneNumberFactory(range_holder=operator, is_secondary=True)
    number_allocate(number=secondary, outlet=outlet, staff=clerk, customer_ref=f"{tag}-C2",
                    disclosure=DisclosureInput(method="written", customer_confirmed=True))
    frozen = PhoneNumberFactory(range_holder=operator)
    number_allocate(number=frozen, outlet=outlet, staff=clerk, customer_ref=f"{tag}-C3", disclosure=None,
                    now=long_ago)
    number_cancel(number=frozen, operator=operator, at=now - timedelta(days=10), actor=named["actor"])
    suspended = PhoneNumberFactory(range_holder=operator)
    number_allocate(number=suspended, outlet=outlet, staff=clerk, customer_ref=f"{tag}-C4", disclosure=None,
                    now=long_ago)
    number_cancel(number=suspended, operator=operator, at=now - timedelta(days=20), actor=named["actor"])
    mark = risk_mark_place(number=suspended, category=MarkCategory.FRAUD, authority=named["authority"],
                           reference=f"{tag}-R1", effect=MarkEffect.SUSPEND, actor=named["actor"])
    offered = PhoneNumberFactory(range_holder=operator, is_secondary=True)
    declined = number_offer_decline(number=offered, outlet=outlet, staff=clerk, reason=named["decline_reason"])
    for n in (fresh, active, secondary, frozen, suspended):
        n.refresh_from_db()
    FeedUpload.objects.create(operator=operator, uploaded_by=admin_user, original_name=named["feed_file"],
                              file=ContentFile(b"msisdn,cancelled_at\n", name="feed.csv"))
    RiskList.objects.create(category=MarkCategory.FRAUD, authority="公安部", effect=MarkEffect.SUSPEND,
                            reference=f"{tag}-L1", file=ContentFile(suspended.msisdn.encode(), name="list.txt"))
    return OperatorWorld(operator, outlet, clerk, admin_user, fresh, active, secondary, frozen, suspended, declined,
                         mark)



def report_rows(job) -> list[dict]:
    """The lines of a risk list's (or feed upload's) report file, as dicts by column name."""
    with job.report.open("rb") as raw:
        lines = [b.decode("utf-8") for b in raw if not b.startswith(b"#")]
    return list(csv.DictReader(lines))
