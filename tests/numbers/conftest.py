"""The admin tests' world: two operators with numbers in every state, and the renewal rows the admin shows."""

import pytest
from django.utils import timezone

from numbers.models import HolderPeriod
from renewal.active.reports import harassment_report_create
from renewal.conformance.services import conformance_record_simulated
from renewal.deliveries.services import batch_sweep
from tests.factories import OperatorFactory
from tests.numbers.helpers_oversight import operator_world
from tests.renewal.helpers_renewal import make_frozen_numbers, make_key, make_platform


@pytest.fixture(autouse=True)
def _english(settings):
    """The admin in English: the assertions read the English texts (tests/portal reads every page in Chinese)."""
    settings.LANGUAGE_CODE = "en"


@pytest.fixture
def world(db):
    """Two operators (CMCC, CUCC), each with an outlet, staff and numbers in every state."""
    return {"CMCC": operator_world(OperatorFactory(code="CMCC", name="China Mobile"), tag="cm"),
            "CUCC": operator_world(OperatorFactory(code="CUCC", name="China Unicom"), tag="cu")}


@pytest.fixture
def renewal_world(world):
    """The world plus a live platform with a key and a pushed batch (one chunk, one delivery) of CMCC numbers."""
    alipay = make_platform(name="Alipay", category="payment")
    make_key(alipay)
    conformance_record_simulated(platform=alipay)  # a check to show
    numbers = make_frozen_numbers(world["CMCC"].operator, 3)
    batch_sweep()
    period = HolderPeriod.objects.get(number=world["CMCC"].active, ended_at__isnull=True)
    harassment_report_create(period=period, category="debt_collection", sender="95xxx", occurred_at=timezone.now(),
                             description="Calls for the previous holder's loan", files=[])
    return numbers
