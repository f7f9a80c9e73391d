import pytest
from django.test import Client

from tests.renewal.helpers_renewal import make_platform

PLATFORMS = [
    ("Alipay", "payment", "application"), ("WeChat", "social", "application"), ("Taobao", "e-commerce", "application"),
    ("Gov Service", "government", "application"), ("Tag Co", "number_tags", "tag_provider"),
]


@pytest.fixture
def client():
    """A browser asking for English (the pages' default is Simplified Chinese): the assertions read English."""
    return Client(headers={"accept-language": "en"})


@pytest.fixture
def platforms(db):
    """Five live platforms of every kind, and one in the sandbox (which subscribers never see)."""
    live = [make_platform(n, category=c, kind=k) for n, c, k in PLATFORMS]
    make_platform("Sandbox App", status="sandbox")
    return live
