"""Helpers for the sales-staff tests: numbers in the states the number book cares about, via the services."""

from datetime import timedelta

from django.test import Client
from django.utils import timezone

from numbers.models import MarkCategory, MarkEffect, Outlet, PhoneNumber
from numbers.services import number_allocate, number_cancel, release_sweep, risk_mark_place
from tests.factories import PhoneNumberFactory, staff_user

PASSWORD = "pw-for-tests-only"  # tests.factories.UserFactory's password


def secondary_number(*, outlet: Outlet, staff, msisdn: str | None = None, cancelled_days_ago: int = 120) -> PhoneNumber:
    """Return an available secondary number: held, cancelled `cancelled_days_ago` days ago, released today."""
    now = timezone.now()
    kwargs = {"msisdn": msisdn} if msisdn else {}
    number = PhoneNumberFactory(range_holder=outlet.operator, **kwargs)
    number_allocate(number=number, outlet=outlet, staff=staff, customer_ref="OLD-1", disclosure=None,
                    now=now - timedelta(days=cancelled_days_ago + 400))
    number_cancel(number=number, operator=outlet.operator, at=now - timedelta(days=cancelled_days_ago), actor="test")
    release_sweep(now=now)
    number.refresh_from_db()
    assert number.state == "available" and number.is_secondary
    return number


def suspended_number(*, operator, regulator, msisdn: str | None = None) -> PhoneNumber:
    kwargs = {"msisdn": msisdn} if msisdn else {}
    number = PhoneNumberFactory(range_holder=operator, **kwargs)
    risk_mark_place(number=number, category=MarkCategory.FRAUD, authority="Anti-fraud centre",
                    effect=MarkEffect.SUSPEND, actor=regulator)
    number.refresh_from_db()
    assert number.state == "suspended"
    return number


def frozen_number(*, outlet: Outlet, staff, msisdn: str | None = None) -> PhoneNumber:
    kwargs = {"msisdn": msisdn} if msisdn else {}
    number = PhoneNumberFactory(range_holder=outlet.operator, **kwargs)
    now = timezone.now()
    number_allocate(number=number, outlet=outlet, staff=staff, customer_ref="OLD-2", disclosure=None,
                    now=now - timedelta(days=300))
    number_cancel(number=number, operator=outlet.operator, at=now - timedelta(days=10), actor="test")
    number.refresh_from_db()
    assert number.state == "frozen"
    return number


def signed_in(user, **client_kwargs) -> Client:
    client = Client(**client_kwargs)
    client.force_login(user)
    return client


def sales_clerk(outlet: Outlet, username: str):
    from numbers import roles

    return staff_user(role=roles.SALES_STAFF, outlet=outlet, username=username)


def signature_data_url() -> str:
    """What the offer page's canvas puts in its hidden field: a drawn signature as a PNG data URL."""
    import base64

    from numbers.demo import signature_png

    return "data:image/png;base64," + base64.b64encode(signature_png()).decode()
