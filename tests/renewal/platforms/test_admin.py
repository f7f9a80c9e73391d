"""Admin: platforms and keys for platform administrators; every renewal admin page for each role."""

import hashlib
import re

import pytest

from numbers import roles
from renewal.models import ApiKey, Platform
from renewal.platforms import services as platform_services
from tests.factories import staff_user
from tests.renewal.helpers_renewal import make_platform

pytestmark = pytest.mark.django_db



@pytest.fixture(autouse=True)
def _english(settings):
    """The admin in English: the assertions read the English texts (tests/portal reads every page in Chinese)."""
    settings.LANGUAGE_CODE = "en"

def test_platform_admin_adds_a_platform_and_sees_its_secret_once(client, platform_admin):
    client.force_login(platform_admin)
    response = client.post("/admin/renewal/platform/add/", {
        "name": "Alipay", "category": "payment", "kind": "application",
        "webhook_url": "https://hooks.alipay.example/renewal", "status": "sandbox", "max_in_flight": "12",
        "support_phone": "+86 95188", "support_url": "https://help.alipay.example/renewal"}, follow=True)
    assert response.status_code == 200
    platform = Platform.objects.get(name="Alipay")
    # a new platform starts in the sandbox (it goes live after its conformance check: tests/renewal/conformance)
    assert platform.status == "sandbox" and platform.max_in_flight == 12
    assert (platform.support_phone, platform.support_url) == ("+86 95188", "https://help.alipay.example/renewal")
    secret = platform_services.platform_secrets(platform)[0]
    assert secret in response.content.decode()
    assert secret not in client.get(f"/admin/renewal/platform/{platform.pk}/change/").content.decode()


def test_private_webhook_url_is_refused_in_the_form(client, platform_admin, settings):
    settings.RENEWAL_WEBHOOK_ALLOW_LOOPBACK = False
    client.force_login(platform_admin)
    for url in ("http://10.0.0.1/x", "http://127.0.0.1:8000/x"):
        response = client.post("/admin/renewal/platform/add/", {
            "name": "Bad", "category": "payment", "kind": "application", "webhook_url": url, "status": "live",
            "max_in_flight": "8"})
        assert response.status_code == 200 and "cannot receive webhooks" in response.content.decode()
    assert not Platform.objects.exists()


def test_api_key_is_shown_once_and_stored_hashed(client, platform_admin):
    platform = make_platform(name="Taobao")
    client.force_login(platform_admin)
    response = client.post("/admin/renewal/apikey/add/", {"platform": platform.pk, "name": "prod"}, follow=True)
    raw = re.search(r"(rk_[A-Za-z0-9_-]{43})", response.content.decode()).group(1)
    key = ApiKey.objects.get()
    assert key.key_hash == hashlib.sha256(raw.encode()).hexdigest() and key.created_by == platform_admin.username
    assert raw not in client.get(f"/admin/renewal/apikey/{key.pk}/change/").content.decode()
    # revoke
    client.post("/admin/renewal/apikey/", {"action": "revoke", "_selected_action": [key.pk]})
    key.refresh_from_db()
    assert key.revoked_at is not None and platform_services.api_key_authenticate(raw) is None


def test_sales_staff_cannot_reach_renewal_admin(client, clerk):
    client.force_login(clerk)
    assert client.get("/admin/renewal/delivery/").status_code == 302


def test_every_renewal_admin_page_loads_for_each_role(client, dead, platform_admin, regulator, operator):
    from django.contrib import admin

    from numbers.models import Operator

    models = [m for m in admin.site._registry if m._meta.app_label == "renewal"]
    assert {m.__name__ for m in models} >= {"Platform", "ApiKey", "RecycleBatch", "BatchChunk", "Delivery"}
    operator_admin = staff_user(role=roles.OPERATOR_ADMIN, operator=Operator.objects.get(code="CMCC"),
                                username="op-admin")
    for user in (platform_admin, regulator, operator_admin):
        client.force_login(user)
        for model in models:
            url = f"/admin/renewal/{model._meta.model_name}/"
            can_view = user.has_perm(f"renewal.view_{model._meta.model_name}")
            response = client.get(url)
            assert response.status_code == (200 if can_view else 403), (user, url)
            objects = model.objects.all()
            if user == operator_admin and hasattr(model, "operator"):
                objects = objects.filter(operator__code="CMCC")  # their own operator's rows
            obj = objects.first()
            if can_view and obj is not None:
                assert client.get(f"{url}{obj.pk}/change/").status_code == 200, (user, url)
