"""Every URL of the platform account area, walked as every role, against both platforms' objects.

The URLs come from the URLconf (an area URL this test cannot build fails it). The platform area is its own
sign-in scope: staff, admin and subscriber sign-ins are nobody here, and an engineer's sign-in is nobody in
admin or the staff pages. One platform's engineers never see or change another's keys, deliveries or
settings (numbers.permission_matrix.PLATFORM_AREA).
"""

import pytest
from django.urls import URLPattern, reverse
from django.utils import timezone

from numbers import permission_matrix as pm
from numbers import roles
from renewal.models import ApiKey, Delivery, DeliveryAttempt, DeliveryEvent, DeliveryState
from renewal.onboarding import urls as area_urls
from renewal.platforms.services import api_key_create, platform_secrets
from tests.factories import UserFactory, staff_user
from tests.renewal.onboarding.conftest import sign_in_engineer

# Pages anyone may open (the sign-in's own pages); every other URL of the area needs an engineer.
OPEN = {"register", "register_done", "login", "logout", "set_password", "two_factor"}


def area_names() -> list[tuple[str, list[str]]]:
    return sorted((p.name, list(p.pattern.converters)) for p in area_urls.urlpatterns if isinstance(p, URLPattern))


@pytest.fixture
def objects(platform_a, platform_b, engineer_a, engineer_b):
    out = {}
    for label, platform in (("a", platform_a), ("b", platform_b)):
        key, _raw = api_key_create(platform=platform, name=f"key {label}")
        dead = Delivery.objects.create(event=DeliveryEvent.UNBIND, platform=platform, state=DeliveryState.DEAD,
                                       created_at=timezone.now(), last_error=f"error of {label}")
        DeliveryAttempt.objects.create(delivery=dead, platform=platform, started_at=timezone.now(), status_code=500,
                                       latency_ms=77, error=f"attempt error of {label}")
        out[label] = {"key": key, "delivery": dead}
    return out


def urls_for(name: str, params: list[str], objs: dict) -> list[str]:
    if not params:
        return [reverse(f"platform:{name}")]
    if name == "set_password":
        return [reverse("platform:set_password", kwargs={"uidb64": "MQ", "token": "x-y"})]
    if name == "key_revoke":
        return [reverse(f"platform:{name}", kwargs={"pk": objs["key"].pk})]
    if name in ("delivery", "delivery_redeliver"):
        return [reverse(f"platform:{name}", kwargs={"pk": objs["delivery"].pk})]
    raise AssertionError(f"platform:{name} takes {params}: give it sample arguments here")


def test_every_area_url_is_classified():
    for name, params in area_names():
        urls_for(name, params, {"key": ApiKey(pk=1), "delivery": Delivery(pk="00000000-0000-0000-0000-000000000001")})
    assert pm.scope("platform area", "view", pm.PLATFORM_ENGINEER) == pm.OWN_PLATFORM
    assert pm.scope("platform area", "view", pm.PLATFORM_ADMIN) is None


def _state(platform_a):
    platform_a.refresh_from_db()
    return (list(ApiKey.objects.order_by("pk").values_list("pk", "revoked_at")),
            list(Delivery.objects.order_by("pk").values_list("pk", "state")),
            platform_a.webhook_url, platform_a.max_in_flight, platform_secrets(platform_a),
            platform_a.accounts.count(), getattr(platform_a, "alert", None))


def _admin_subjects(operator, outlet, clerk):
    admin = staff_user(role=roles.OPERATOR_ADMIN, operator=operator, username="oa")
    return {"superuser": UserFactory(username="root", is_superuser=True, is_staff=True),
            "regulator": staff_user(role=roles.REGULATOR, username="reg"),
            "renewal-platform administrator": staff_user(role=roles.PLATFORM_ADMIN, username="pa"),
            "operator administrator": admin, "sales staff": clerk}


POST_DATA = {"keys": {"name": "stolen"}, "settings": {"webhook_url": "https://evil.example/x", "max_in_flight": 99},
             "alerts": {"email": "evil@example.com"}, "team": {"email": "evil@example.com"}}


@pytest.mark.parametrize("subject", ["anonymous", "superuser", "regulator", "renewal-platform administrator",
                                     "operator administrator", "sales staff"])
def test_no_other_sign_in_gets_into_the_area(client, objects, platform_a, subject, operator, outlet, clerk,
                                             django_capture_on_commit_callbacks):
    if subject != "anonymous":
        client.force_login(_admin_subjects(operator, outlet, clerk)[subject])
    before = _state(platform_a)
    login = reverse("platform:login")
    with django_capture_on_commit_callbacks(execute=True):
        for name, params in area_names():
            if name in OPEN:
                continue
            for url in urls_for(name, params, objects["a"]):
                for response in (client.get(url), client.post(url, POST_DATA.get(name, {}))):
                    assert response.status_code in (302, 405), (subject, url, response.status_code)
                    if response.status_code == 302:
                        assert response["Location"].startswith(login), (subject, url)
    assert _state(platform_a) == before


# The sandbox's buttons act on the signed-in engineer's platform, whatever is posted (test_area_sandbox.py).
SANDBOX_ACTIONS = {"test_event", "check_run", "go_live"}


def test_an_engineer_never_sees_or_changes_another_platform(client, objects, engineer_b, platform_a,
                                                            django_capture_on_commit_callbacks):
    sign_in_engineer(client, engineer_b)
    before = _state(platform_a)
    a = objects["a"]
    secrets_a = platform_secrets(platform_a)
    with django_capture_on_commit_callbacks(execute=True):
        for name, params in area_names():
            if name in OPEN or name == "logout":
                continue
            for url in urls_for(name, params, a):
                got = client.get(url)
                if params:  # an object of platform A: not found for B's engineer
                    assert got.status_code in (404, 405), (url, got.status_code)
                    assert client.post(url).status_code == 404, url
                    continue
                if name in SANDBOX_ACTIONS:  # POST only, and only ever on the engineer's own platform
                    assert got.status_code == 405, (url, got.status_code)
                    continue
                assert got.status_code == 200, (url, got.status_code)
                page = got.content.decode()
                for secret in (a["key"].prefix, str(a["delivery"].pk), "error of a", platform_a.name,
                               platform_a.webhook_url, *secrets_a):
                    assert secret not in page, (url, secret)
    # B's own posts changed B only (the keys page made a key of B's, the settings page B's webhook)
    assert _state(platform_a) == before


def test_an_engineer_reaches_its_own_objects(client, objects, engineer_a, django_capture_on_commit_callbacks):
    sign_in_engineer(client, engineer_a)
    a = objects["a"]
    assert client.get(reverse("platform:delivery", kwargs={"pk": a["delivery"].pk})).status_code == 200
    with django_capture_on_commit_callbacks(execute=False):
        assert client.post(reverse("platform:delivery_redeliver", kwargs={"pk": a["delivery"].pk})).status_code == 302
    assert client.post(reverse("platform:key_revoke", kwargs={"pk": a["key"].pk})).status_code == 302


@pytest.mark.parametrize("path", ["/admin/", "/admin/renewal/platform/", "/staff/", "/renew/overview"])
def test_an_engineers_sign_in_is_nobody_in_admin_and_the_staff_pages(client, engineer_a, path):
    sign_in_engineer(client, engineer_a)
    response = client.get(path)
    assert response.status_code in (302, 403, 404), (path, response.status_code)
    if response.status_code == 302:
        assert "login" in response["Location"] or "/renew/" in response["Location"], (path, response["Location"])


@pytest.mark.parametrize("path", ["/admin/", "/admin/renewal/platform/", "/staff/"])
def test_an_engineer_account_is_refused_by_admin_and_staff_even_if_signed_in_there(client, engineer_a, path):
    # As if the account had a Django sign-in (and the staff flag by mistake): its role opens neither.
    engineer_a.user.is_staff = True
    engineer_a.user.save()
    client.force_login(engineer_a.user)
    response = client.get(path)
    assert response.status_code == 403 or (response.status_code == 302 and "login" in response["Location"]), path
