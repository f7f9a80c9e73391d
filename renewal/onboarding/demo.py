"""Demo data of onboarding: a registration waiting for approval, and a platform engineer of a live platform."""

from django.contrib.auth import get_user_model
from django.contrib.auth.models import Group
from django.core.management.base import OutputWrapper
from django.db import transaction

from numbers import roles
from renewal.models import Platform, PlatformAccount, PlatformRegistration, PlatformStatus
from renewal.onboarding import services

ENGINEER = "engineer@alipay.example.cn"
PASSWORD = "demo-platform-2026"
REGISTRATION = "示例出行 Demo Rides"


@transaction.atomic
def load(stdout: OutputWrapper) -> list[tuple[str, str, str]]:
    if not PlatformRegistration.objects.filter(platform_name=REGISTRATION).exists():
        services.registration_submit(data=services.RegistrationInput(
            organisation="示例出行科技有限公司", platform_name=REGISTRATION, contact_name="张工",
            contact_email="ops@rides.example.cn", contact_phone="+86 10 5555 0100", categories=["travel"],
            kind="application", webhook_url="https://hooks.rides.example.cn/renewal", support_phone="+86 400 555 0100",
            support_url=""), address="127.0.0.1")
    account = PlatformAccount.objects.filter(user__username=ENGINEER).first()
    if account is None:
        # A live platform whose webhook is the simulator's (its deliveries, keys and secret are real ones).
        platform = (Platform.objects.filter(status=PlatformStatus.LIVE, webhook_url__startswith="http://127.0.0.1")
                    .order_by("pk").first())
        if platform is None:
            return []
        user = get_user_model().objects.create_user(username=ENGINEER, email=ENGINEER, password=PASSWORD)
        user.groups.add(Group.objects.get(name=roles.PLATFORM_ENGINEER))
        account = PlatformAccount.objects.create(user=user, platform=platform, is_owner=True, invited_by="demo")
    stdout.write(f"onboarding: a registration waiting in admin; {ENGINEER} is the owner of {account.platform}")
    return [("Platform engineer", "/platform/", f"{ENGINEER} / {PASSWORD}"),
            ("  register an application", "/platform/register/", "then approve it in admin (platform admin)")]
