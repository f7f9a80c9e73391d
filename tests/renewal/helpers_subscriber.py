"""Helpers and fixtures of the active-renewal tests (import the fixtures into a test module to use them)."""

import re
from datetime import timedelta

import pytest
from django.utils import timezone

from numbers.models import HolderPeriod
from numbers.services import number_allocate
from renewal.models import SmsMessage
from tests.factories import PhoneNumberFactory
from tests.renewal.helpers_renewal import make_platform

PLATFORMS = [
    ("Alipay", "payment", "application"), ("WeChat", "social", "application"), ("Taobao", "e-commerce", "application"),
    ("Gov Service", "government", "application"), ("Tag Co", "number_tags", "tag_provider"),
]


@pytest.fixture
def roles_back(transactional_db):
    """Transactional tests flush the groups the data migrations made: make them again (list this fixture first)."""
    from django.apps import apps
    from django.contrib.auth.models import Group

    from numbers.roles import sync_roles

    if Group.objects.exists():
        return
    # sync_roles marks live app configs as model-less; put them back as they were.
    originals = {c.label: c.models_module for c in apps.get_app_configs()}
    try:
        sync_roles(apps)
    finally:
        for config in apps.get_app_configs():
            config.models_module = originals[config.label]


@pytest.fixture
def platforms(db):
    live = [make_platform(n, category=c, kind=k) for n, c, k in PLATFORMS]
    make_platform("Sandbox App", status="sandbox")
    return live


def allocated(operator, outlet, clerk, *, started_days_ago=30):
    number = PhoneNumberFactory(range_holder=operator)
    period = number_allocate(number=number, outlet=outlet, staff=clerk, customer_ref="C-1", disclosure=None,
                             now=timezone.now() - timedelta(days=started_days_ago))
    number.refresh_from_db()
    return number, period


@pytest.fixture
def holder(operator, outlet, clerk):
    """An active number held for 30 days: (number, period)."""
    return allocated(operator, outlet, clerk)


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
