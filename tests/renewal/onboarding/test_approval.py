"""Approval in admin, the single-use set-password link, then two-factor enrolment before anything else."""

import re
from datetime import timedelta

import pytest
from django.contrib.admin.helpers import ACTION_CHECKBOX_NAME
from django.core import mail
from django.urls import reverse

from numbers import roles
from numbers.models import AuditEntry
from renewal.models import Platform, PlatformAccount, PlatformRegistration, PlatformStatus, RegistrationState
from renewal.onboarding import services
from renewal.onboarding.tokens import set_password_tokens
from tests.factories import staff_user
from tests.helpers_two_factor import current_code, enrol

CHANGELIST = "/admin/renewal/platformregistration/"


def register(**changes) -> PlatformRegistration:
    data = dict(organisation="Gamma Ltd", platform_name="Gamma Rides", contact_name="Zhang Wei",
                contact_email="ops@gamma.example", contact_phone="+86 10 5555 0100", categories=["travel", "payment"],
                kind="application", webhook_url="https://hooks.gamma.example/renewal", support_phone="+86 400 555",
                support_url="")
    data.update(changes)
    return services.registration_submit(data=services.RegistrationInput(**data))


def approve(client, registration, django_capture_on_commit_callbacks):
    with django_capture_on_commit_callbacks(execute=True):
        return client.post(CHANGELIST, {"action": "approve", ACTION_CHECKBOX_NAME: [registration.pk]})


def link_in(message) -> str:
    return re.search(r"https?://\S+/platform/set-password/\S+/", message.body).group(0)


def test_approval_creates_a_sandbox_platform_and_mails_a_link(client, platform_admin,
                                                              django_capture_on_commit_callbacks):
    registration = register()
    client.force_login(platform_admin)
    assert approve(client, registration, django_capture_on_commit_callbacks).status_code == 302
    platform = Platform.objects.get(name="Gamma Rides")
    assert platform.status == PlatformStatus.SANDBOX and platform.category == "travel"
    assert platform.webhook_url == "https://hooks.gamma.example/renewal"
    owner = PlatformAccount.objects.get(platform=platform)
    assert owner.is_owner and owner.user.email == "ops@gamma.example" and not owner.user.has_usable_password()
    assert not owner.user.is_staff and owner.user.groups.get().name == roles.PLATFORM_ENGINEER
    registration.refresh_from_db()
    assert registration.state == RegistrationState.APPROVED and registration.platform == platform
    assert registration.decided_by == platform_admin.username
    (message,) = mail.outbox
    assert message.to == ["ops@gamma.example"] and "/platform/set-password/" in message.body
    assert AuditEntry.objects.filter(action="status_change", object_type="renewal.platformregistration").exists()


def test_regulators_see_the_queue_but_cannot_approve(client, db, django_capture_on_commit_callbacks):
    registration = register()
    regulator = staff_user(role=roles.REGULATOR, username="reg")
    client.force_login(regulator)
    response = client.get(CHANGELIST)
    assert response.status_code == 200 and b"Gamma Rides" in response.content
    assert response.context["action_form"] is None
    approve(client, registration, django_capture_on_commit_callbacks)
    assert not Platform.objects.filter(name="Gamma Rides").exists()
    registration.refresh_from_db()
    assert registration.state == RegistrationState.PENDING


def test_a_decided_registration_is_not_approved_again(platform_admin):
    registration = register()
    services.registration_reject(registration=registration, actor=platform_admin)
    with pytest.raises(services.Invalid):
        services.registration_approve(registration=registration, actor=platform_admin, base_url="http://x/")
    assert not Platform.objects.filter(name="Gamma Rides").exists()


def test_rejection_mails_the_contact(platform_admin, django_capture_on_commit_callbacks):
    with django_capture_on_commit_callbacks(execute=True):
        services.registration_reject(registration=register(), actor=platform_admin)
    assert mail.outbox[0].to == ["ops@gamma.example"]


@pytest.fixture
def approved(platform_admin, django_capture_on_commit_callbacks):
    with django_capture_on_commit_callbacks(execute=True):
        account = services.registration_approve(registration=register(), actor=platform_admin,
                                                base_url="http://testserver/")
    return account, link_in(mail.outbox[0])


def _set_password(client, link: str, password: str = "a-long-new-pw-2026"):
    page = client.get(link, follow=True)
    return client.post(page.redirect_chain[-1][0] if page.redirect_chain else link,
                       {"new_password1": password, "new_password2": password})


def test_the_link_sets_a_password_once(client, approved):
    account, link = approved
    response = _set_password(client, link)
    assert response.status_code == 302 and response["Location"] == reverse("platform:login")
    account.user.refresh_from_db()
    assert account.user.check_password("a-long-new-pw-2026")
    assert AuditEntry.objects.filter(action="password_set", actor_id=account.user.pk).exists()
    # used: the same link no longer works
    again = client.get(link, follow=True)
    assert again.context["validlink"] is False


def test_the_link_expires_after_72_hours(client, approved, monkeypatch):
    account, link = approved
    token = link.rstrip("/").rsplit("/", 1)[1]
    assert set_password_tokens.check_token(account.user, token)
    later = set_password_tokens._now() + timedelta(hours=72, minutes=1)
    monkeypatch.setattr(set_password_tokens, "_now", lambda: later)
    assert not set_password_tokens.check_token(account.user, token)
    assert client.get(link, follow=True).context["validlink"] is False


def test_a_staff_reset_token_does_not_open_the_page(client, approved):
    from django.contrib.auth.tokens import default_token_generator

    account, link = approved
    forged = link.rstrip("/").rsplit("/", 1)[0] + "/" + default_token_generator.make_token(account.user) + "/"
    assert client.get(forged, follow=True).context["validlink"] is False


def test_after_the_password_the_engineer_must_enrol_then_signs_in_with_a_code(client, approved, settings):
    settings.ADMIN_2FA_RELAXED = False
    account, link = approved
    _set_password(client, link)
    login = {"username": "ops@gamma.example", "password": "a-long-new-pw-2026"}
    assert client.post("/platform/login/", login)["Location"] == reverse("platform:overview")
    # every page sends it to set up its authenticator app first
    assert client.get("/platform/keys/")["Location"] == reverse("platform:two_factor")
    page = client.get("/platform/two-factor/")
    assert page.status_code == 200 and "data:" in page["Content-Security-Policy"]
    device, _codes = None, None
    from django_otp.plugins.otp_totp.models import TOTPDevice

    device = TOTPDevice.objects.get(user=account.user, confirmed=False)
    done = client.post("/platform/two-factor/", {"code": current_code(device)})
    assert done.status_code == 200 and done.context["recovery_codes"]
    assert client.get("/platform/keys/").status_code == 200
    # the next sign-in needs the code
    client.post("/platform/logout/")
    refused = client.post("/platform/login/", login)
    assert refused.status_code == 200 and refused.context["form"].errors
    device.refresh_from_db()
    ok = client.post("/platform/login/", {**login, "otp_token": current_code(device, steps_ahead=1)})
    assert ok["Location"] == reverse("platform:overview")
    assert client.get("/platform/keys/").status_code == 200


def test_a_wrong_password_counts_against_the_shared_limiter(client, engineer_a, settings):
    settings.STAFF_LOGIN_FAILURES_PER_ACCOUNT = 2
    for _ in range(2):
        client.post("/platform/login/", {"username": "owner@alpha.example", "password": "wrong"})
    locked = client.post("/platform/login/", {"username": "owner@alpha.example", "password": "engineer-pw-2026!"})
    assert locked.status_code == 429
    assert AuditEntry.objects.filter(action="sign_in_refused", detail__site="platform").count() == 3


def test_staff_and_admin_accounts_cannot_sign_in_here(client, platform_admin):
    platform_admin.set_password("admin-pw-2026!")
    platform_admin.save()
    response = client.post("/platform/login/", {"username": platform_admin.username, "password": "admin-pw-2026!"})
    assert response.status_code == 200 and response.context["form"].errors
    assert "platform:account" not in client.session


def test_an_enrolled_engineer_without_code_is_refused(client, engineer_a, settings):
    settings.ADMIN_2FA_RELAXED = True  # even the demo's relaxation never skips an enrolled account's code
    enrol(engineer_a.user)
    response = client.post("/platform/login/", {"username": "owner@alpha.example",
                                                "password": "engineer-pw-2026!"})
    assert response.status_code == 200 and "platform:account" not in client.session
