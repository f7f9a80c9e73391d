"""Shared fixtures. Tests that need PostgreSQL or a real broker carry the `services` marker."""

import os
from datetime import timedelta

import pytest
from django.utils import timezone

from numbers import roles
from numbers.services import DisclosureInput, number_allocate, number_cancel
from tests.factories import OperatorFactory, OutletFactory, PhoneNumberFactory, staff_user

IN_CI = os.environ.get("CI", "").lower() == "true"


def pytest_collection_modifyitems(config, items):
    """In CI a `services` test must run against real services: it fails when they are missing."""
    from django.conf import settings

    engine = settings.DATABASES["default"]["ENGINE"]
    if engine.endswith("sqlite3"):
        return
    for item in items:
        if "services" in item.keywords:
            item.add_marker(pytest.mark.django_db(transaction=True))


@pytest.fixture
def require_postgres():
    from django.db import connection

    if connection.vendor != "postgresql":
        message = "needs PostgreSQL (set DATABASE_URL); the SQLite pass deselects -m services"
        if IN_CI:
            pytest.fail(message)
        pytest.skip(message)


@pytest.fixture
def operator(db):
    return OperatorFactory(code="CMCC", name="China Mobile")


@pytest.fixture
def other_operator(db):
    return OperatorFactory(code="CUCC", name="China Unicom")


@pytest.fixture
def outlet(operator):
    return OutletFactory(operator=operator, code="BJ-001", name="Beijing Xidan")


@pytest.fixture
def clerk(outlet):
    return staff_user(role=roles.SALES_STAFF, outlet=outlet, username="clerk")


@pytest.fixture
def regulator(db):
    return staff_user(role=roles.REGULATOR, username="regulator")


@pytest.fixture
def new_number(operator):
    return PhoneNumberFactory(range_holder=operator)


@pytest.fixture
def active_number(new_number, outlet, clerk):
    number_allocate(number=new_number, outlet=outlet, staff=clerk, customer_ref="C-0001", disclosure=None)
    new_number.refresh_from_db()
    return new_number


@pytest.fixture
def frozen_number(active_number, operator):
    """A number cancelled 10 days ago: frozen for 80 more days."""
    number_cancel(number=active_number, operator=operator, at=timezone.now() - timedelta(days=10), actor="test")
    active_number.refresh_from_db()
    return active_number


@pytest.fixture
def disclosure():
    return DisclosureInput(method="spoken", customer_confirmed=True)


# --- oversight (issue 7) -------------------------------------------------------------------------


@pytest.fixture
def world(db):
    """Two operators (CMCC, CUCC), each with an outlet, staff and numbers in every state."""
    from tests.numbers.factories_oversight import operator_world

    return {"CMCC": operator_world(OperatorFactory(code="CMCC", name="China Mobile"), tag="cm"),
            "CUCC": operator_world(OperatorFactory(code="CUCC", name="China Unicom"), tag="cu")}


@pytest.fixture
def platform_admin(db):
    return staff_user(role=roles.PLATFORM_ADMIN, username="platform-admin")
