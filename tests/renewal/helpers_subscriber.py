"""Helpers for the active-renewal tests: a held number, the SMS code sent, a subscriber's sign-in."""

import re
from datetime import timedelta

from django.utils import timezone

from numbers.models import HolderPeriod
from numbers.services import number_allocate
from renewal.models import SmsMessage
from tests.factories import PhoneNumberFactory


def allocated(operator, outlet, clerk, *, started_days_ago=30):
    """Allocate a new number of `operator` at `outlet`, held since `started_days_ago` days: (number, period)."""
    number = PhoneNumberFactory(range_holder=operator)
    period = number_allocate(number=number, outlet=outlet, staff=clerk, customer_ref="C-1", disclosure=None,
                             now=timezone.now() - timedelta(days=started_days_ago))
    number.refresh_from_db()
    return number, period


def last_code(msisdn: str) -> str:
    message = SmsMessage.objects.filter(to=msisdn).order_by("-id").first()
    assert message is not None, f"no SMS was sent to {msisdn}"
    return re.search(r"\b(\d{6})\b", message.body).group(1)


def sign_in(client, msisdn: str, *, address="10.0.0.1"):
    response = client.post("/renew/", {"msisdn": msisdn}, REMOTE_ADDR=address)
    assert response.status_code == 302, response.content.decode()[:2000]
    response = client.post("/renew/code", {"code": last_code(msisdn)}, REMOTE_ADDR=address)
    assert response.status_code == 302 and response["Location"].endswith("/renew/number"), response
    return response


def close_period(period: HolderPeriod):
    from numbers.services import number_cancel

    number_cancel(number=period.number, operator=period.operator, at=timezone.now(), actor="test")
