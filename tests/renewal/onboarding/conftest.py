"""Platform engineers of two platforms, and a client signed in to the platform account area as one of them."""

import pytest
from django.contrib.auth import get_user_model

from numbers import roles
from renewal.models import PlatformAccount, PlatformStatus
from tests.factories import role_group
from tests.renewal.helpers_renewal import make_platform

PASSWORD = "engineer-pw-2026!"


def make_engineer(platform, *, email: str, owner: bool = True) -> PlatformAccount:
    user = get_user_model().objects.create_user(username=email, email=email, password=PASSWORD)
    user.groups.add(role_group(roles.PLATFORM_ENGINEER))
    return PlatformAccount.objects.create(user=user, platform=platform, is_owner=owner)


def sign_in_engineer(client, account: PlatformAccount) -> None:
    """Sign the client in to the platform account area, as the sign-in page does after password and code."""
    session = client.session
    session["platform:account"] = account.pk
    session["platform:hash"] = account.user.get_session_auth_hash()
    session["platform:verified"] = True
    session.save()


@pytest.fixture
def platform_a(db):
    return make_platform("Alpha Pay", status=PlatformStatus.SANDBOX, webhook_url="https://hooks.alpha.example/x")


@pytest.fixture
def platform_b(db):
    return make_platform("Beta Chat", status=PlatformStatus.LIVE, webhook_url="https://hooks.beta.example/x")


@pytest.fixture
def engineer_a(platform_a):
    return make_engineer(platform_a, email="owner@alpha.example")


@pytest.fixture
def engineer_b(platform_b):
    return make_engineer(platform_b, email="owner@beta.example")


@pytest.fixture
def client_a(client, engineer_a):
    sign_in_engineer(client, engineer_a)
    return client
