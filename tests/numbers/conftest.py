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
    _query_call(alipay)
    conformance_record_simulated(platform=alipay)  # a check to show
    _onboarding_rows(alipay)
    numbers = make_frozen_numbers(world["CMCC"].operator, 3)
    batch_sweep()
    period = HolderPeriod.objects.get(number=world["CMCC"].active, ended_at__isnull=True)
    harassment_report_create(period=period, category="debt_collection", sender="95xxx", occurred_at=timezone.now(),
                             description="Calls for the previous holder's loan", files=[])
    return numbers


def _query_call(platform) -> None:
    """A call of the reassignment queries by the platform's key (its counts only, as the API writes them)."""
    from renewal.models import ApiKey, ReassignmentQueryCall

    key = ApiKey.objects.filter(platform=platform).first()
    ReassignmentQueryCall.objects.create(key=key, key_prefix=key.prefix, platform=platform, at=timezone.now(),
                                         items=3, yes=1, no=1, no_data=1, errors=0)


def _onboarding_rows(platform) -> None:
    """A registration waiting for approval, and an engineer's account of the platform."""
    from django.contrib.auth import get_user_model

    from numbers import roles
    from renewal.models import PlatformAccount
    from renewal.onboarding.services import RegistrationInput, registration_submit
    from tests.factories import role_group

    registration_submit(data=RegistrationInput(
        organisation="Gamma Ltd", platform_name="Gamma Rides", contact_name="Zhang", contact_email="ops@gamma.example",
        contact_phone="+86 10 5555 0100", categories=["travel"], kind="application", webhook_url="",
        support_phone="+86 400 555 0100", support_url=""))
    user = get_user_model().objects.create_user(username="dev@alipay.example", email="dev@alipay.example")
    user.groups.add(role_group(roles.PLATFORM_ENGINEER))
    PlatformAccount.objects.create(user=user, platform=platform, is_owner=True)
