"""Two-factor sign-in to admin: who needs it, enrolment, sign-in with and without the code, recovery codes,
the limiter on the code step, the superuser's reset, and the demo's relaxed setting."""

import re

import pytest
from django.test import Client
from django.urls import reverse
from django_otp.plugins.otp_static.models import StaticToken
from django_otp.plugins.otp_totp.models import TOTPDevice

from numbers import roles
from numbers.models import AuditAction, AuditEntry
from tests.factories import OperatorFactory, UserFactory, staff_user
from tests.helpers_two_factor import current_code, enrol, sign_in_verified
from tests.portal.test_settings import PRODUCTION, run_manage

PASSWORD = "pw-for-tests-only"
LOGIN = reverse("admin:login")
INDEX = reverse("admin:index")
TWO_FACTOR = reverse("admin:two_factor")


@pytest.fixture(autouse=True)
def _enforced(settings):
    settings.ADMIN_2FA_RELAXED = False


@pytest.fixture
def client():
    return Client(headers={"accept-language": "en"})


@pytest.fixture
def regulator(db):
    return staff_user(role=roles.REGULATOR, username="reg")


@pytest.fixture
def operator_admin(db):
    return staff_user(role=roles.OPERATOR_ADMIN, operator=OperatorFactory(code="CMCC"), username="cmcc-admin")


def sign_in(client, username, code="", password=PASSWORD):
    return client.post(LOGIN, {"username": username, "password": password, "otp_token": code, "next": INDEX})


def refusals(reason):
    return AuditEntry.objects.filter(action=AuditAction.SIGN_IN_REFUSED, detail__reason=reason)


# --- who needs it --------------------------------------------------------------------------------------


@pytest.mark.parametrize("role", [roles.REGULATOR, roles.PLATFORM_ADMIN, "superuser"])
def test_a_role_that_needs_two_factor_is_sent_to_set_it_up_after_its_password(client, db, role):
    user = (UserFactory(username="root", is_staff=True, is_superuser=True) if role == "superuser"
            else staff_user(role=role, username="someone"))
    response = sign_in(client, user.username)
    assert response.status_code == 302
    # signed in with the password only: no admin page, only the set-up page
    assert client.get(reverse("admin:numbers_phonenumber_changelist")).status_code == 302
    response = client.get(INDEX, follow=True)
    assert response.redirect_chain[-1][0] == TWO_FACTOR
    assert b"Set up two-factor sign-in" in response.content
    assert b"Your role needs two-factor sign-in" in response.content


def test_an_operator_administrator_may_work_without_two_factor(client, operator_admin):
    assert sign_in(client, "cmcc-admin").status_code == 302
    assert client.get(INDEX).status_code == 200
    entry = AuditEntry.objects.get(action=AuditAction.SIGN_IN)
    assert (entry.actor_name, entry.role, entry.detail) == ("cmcc-admin", roles.OPERATOR_ADMIN,
                                                            {"site": "admin", "second_factor": ""})


def test_once_enrolled_an_operator_administrator_needs_the_code_too(client, operator_admin):
    enrol(operator_admin)
    response = sign_in(client, "cmcc-admin")
    assert response.status_code == 200 and b"Enter the code of your authenticator app" in response.content
    assert client.get(INDEX).status_code == 302
    # a session signed in without the code (as a password thief's would be) gets nowhere either
    client.force_login(operator_admin)
    assert client.get(INDEX).status_code == 302
    assert client.get(TWO_FACTOR)["Location"].startswith(LOGIN)


# --- enrolment -----------------------------------------------------------------------------------------


def test_enrolment_shows_a_local_qr_code_then_the_recovery_codes_once(client, regulator):
    sign_in(client, "reg")
    page = client.get(TWO_FACTOR)
    html = page.content.decode()
    assert page.status_code == 200
    assert re.search(r'<img src="data:image/png;base64,[A-Za-z0-9+/=]+"', html)
    assert "img-src 'self' data:" in page["Content-Security-Policy"]
    device = TOTPDevice.objects.get(user=regulator, confirmed=False)
    secret = page.context["secret"].replace(" ", "")
    assert len(secret) == 32 and secret in html.replace(" ", "")

    # a wrong code changes nothing
    response = client.post(TWO_FACTOR, {"code": "000000" if current_code(device) != "000000" else "111111"})
    assert b"That code is not right" in response.content
    assert not TOTPDevice.objects.filter(user=regulator, confirmed=True).exists()

    response = client.post(TWO_FACTOR, {"code": current_code(device)})
    codes = response.context["recovery_codes"]
    assert len(codes) == 10 and all(code in response.content.decode() for code in codes)
    assert "data:" not in response.get("Content-Security-Policy", "")  # no QR code: no data: images
    assert TOTPDevice.objects.filter(user=regulator, confirmed=True).count() == 1
    assert client.get(INDEX).status_code == 200  # this session gave the code: it is in
    entry = AuditEntry.objects.get(action=AuditAction.TWO_FACTOR_ENROL)
    assert (entry.actor_name, entry.object_id, entry.after) == ("reg", str(regulator.pk),
                                                                {"authenticator_app": True, "recovery_codes": 10})
    # the codes are not shown again
    page = client.get(TWO_FACTOR).content.decode()
    assert not any(code in page for code in codes) and "10 recovery codes left" in page


def test_new_recovery_codes_replace_the_old_ones(client, regulator):
    device, old = enrol(regulator)
    sign_in_verified(client, regulator, device)
    new = client.post(TWO_FACTOR, {"new_codes": "1"}).context["recovery_codes"]
    assert len(new) == 10 and not set(new) & set(old)
    assert set(StaticToken.objects.filter(device__user=regulator).values_list("token", flat=True)) == set(new)
    assert AuditEntry.objects.filter(action=AuditAction.RECOVERY_CODES, actor_name="reg").count() == 1


# --- signing in with and without the code --------------------------------------------------------------


def test_sign_in_with_the_code(client, regulator):
    device, _codes = enrol(regulator)
    # the app's next code (enrol() used the current one, and a code works once)
    response = sign_in(client, "reg", code=current_code(device, steps_ahead=1))
    assert response.status_code == 302 and response["Location"] == INDEX
    assert client.get(INDEX).status_code == 200
    entry = AuditEntry.objects.get(action=AuditAction.SIGN_IN)
    assert entry.detail == {"site": "admin", "second_factor": "authenticator_app"} and entry.role == "regulator"


def test_sign_in_without_the_code_or_with_a_wrong_one_is_refused(client, regulator):
    device, _codes = enrol(regulator)
    response = sign_in(client, "reg")
    assert response.status_code == 200 and client.get(INDEX).status_code == 302
    wrong = "123456" if current_code(device) != "123456" else "654321"
    response = sign_in(client, "reg", code=wrong)
    assert b"That code is not right" in response.content and client.get(INDEX).status_code == 302
    response = sign_in(client, "reg", code="not a code")
    assert b"That code is not right" in response.content
    assert refusals("code_missing").count() == 1 and refusals("code").count() == 2
    assert not AuditEntry.objects.filter(action=AuditAction.SIGN_IN).exists()


def test_a_wrong_password_with_a_right_code_is_refused(client, regulator):
    device, _codes = enrol(regulator)
    response = sign_in(client, "reg", code=current_code(device), password="wrong")
    assert response.status_code == 200 and client.get(INDEX).status_code == 302
    assert refusals("wrong_password").get().actor_name == "reg"


def test_a_code_works_once(client, regulator):
    device, _codes = enrol(regulator)
    code = current_code(device, steps_ahead=1)  # not the one enrol() used
    assert sign_in(client, "reg", code=code).status_code == 302
    other = Client()
    assert sign_in(other, "reg", code=code).status_code == 200  # replayed: refused
    assert other.get(INDEX).status_code == 302


def test_a_recovery_code_signs_in_once(client, regulator):
    _device, codes = enrol(regulator)
    assert sign_in(client, "reg", code=codes[0].upper()).status_code == 302
    assert client.get(INDEX).status_code == 200
    assert AuditEntry.objects.get(action=AuditAction.SIGN_IN).detail["second_factor"] == "recovery_code"
    other = Client()
    assert sign_in(other, "reg", code=codes[0]).status_code == 200
    assert other.get(INDEX).status_code == 302
    assert StaticToken.objects.filter(device__user=regulator).count() == 9


def test_the_sign_in_limiter_counts_wrong_codes(client, regulator, settings):
    settings.STAFF_LOGIN_FAILURES_PER_ACCOUNT = 3
    device, _codes = enrol(regulator)
    wrong = "999999" if current_code(device) != "999999" else "888888"
    for _ in range(3):
        assert sign_in(client, "reg", code=wrong).status_code == 200
    # locked out: even the right password and the right code wait
    response = sign_in(client, "reg", code=current_code(device, steps_ahead=1))
    assert response.status_code == 429 and b"Too many failed sign-ins" in response.content
    assert client.get(INDEX).status_code == 302
    assert refusals("throttled").count() == 1


def test_a_right_password_does_not_clear_the_count_before_the_code_passes(client, regulator, settings):
    settings.STAFF_LOGIN_FAILURES_PER_ACCOUNT = 2
    device, _codes = enrol(regulator)
    wrong = "999999" if current_code(device) != "999999" else "888888"
    sign_in(client, "reg", code=wrong)
    sign_in(client, "reg")  # the right password without a code: no failure counted, nothing cleared
    sign_in(client, "reg", code=wrong)
    assert sign_in(client, "reg", code=current_code(device, steps_ahead=1)).status_code == 429


# --- the superuser's reset -----------------------------------------------------------------------------


def test_a_superuser_resets_an_account_that_lost_its_phone(client, regulator):
    enrol(regulator)
    root = UserFactory(username="root", is_staff=True, is_superuser=True)
    sign_in_verified(client, root)
    url = reverse("admin:auth_user_two_factor_reset", args=[regulator.pk])
    assert url.encode() in client.get(reverse("admin:auth_user_change", args=[regulator.pk])).content
    assert b"Reset the two-factor sign-in of reg?" in client.get(url).content
    response = client.post(url)
    assert response.status_code == 302
    assert not TOTPDevice.objects.filter(user=regulator).exists()
    assert not StaticToken.objects.filter(device__user=regulator).exists()
    entry = AuditEntry.objects.get(action=AuditAction.TWO_FACTOR_RESET)
    assert (entry.actor_name, entry.role, entry.object_repr) == ("root", "superuser", "reg")
    # the regulator's next sign-in goes to the set-up page
    other = Client()
    assert sign_in(other, "reg").status_code == 302
    assert other.get(INDEX, follow=True).redirect_chain[-1][0] == TWO_FACTOR


def test_only_a_superuser_resets(client, regulator, operator_admin):
    enrol(regulator)
    sign_in_verified(client, regulator)
    response = client.post(reverse("admin:auth_user_two_factor_reset", args=[regulator.pk]))
    assert response.status_code in (302, 403)
    assert TOTPDevice.objects.filter(user=regulator, confirmed=True).exists()
    assert not AuditEntry.objects.filter(action=AuditAction.TWO_FACTOR_RESET).exists()


def test_django_otps_device_pages_are_not_in_admin(client):
    from django.contrib import admin
    from django_otp.plugins.otp_static.models import StaticDevice

    assert not admin.site.is_registered(TOTPDevice) and not admin.site.is_registered(StaticDevice)


# --- the demo's relaxed setting --------------------------------------------------------------------------


def test_relaxed_lets_an_account_that_has_not_enrolled_in_with_its_password(client, regulator, settings):
    settings.ADMIN_2FA_RELAXED = True
    assert sign_in(client, "reg").status_code == 302
    assert client.get(INDEX).status_code == 200
    # an enrolled account still needs its code
    device, _codes = enrol(regulator)
    other = Client()
    assert sign_in(other, "reg").status_code == 200
    assert sign_in(other, "reg", code=current_code(device, steps_ahead=1)).status_code == 302


def test_the_relaxed_setting_is_refused_without_debug():
    result = run_manage("check", env_overrides={**PRODUCTION, "ADMIN_2FA_RELAXED": "true"})
    assert result.returncode != 0 and "ADMIN_2FA_RELAXED" in result.stderr
