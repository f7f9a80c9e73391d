"""Platform onboarding: registration requests, their approval, platform engineers' accounts, delivery alerts.

Each service owns its transaction and writes its audit entry; e-mails and SMS go after the commit. The
platform's own settings (webhook URL, concurrency, keys, secrets) change through renewal.platforms.services,
which audit them with before and after.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import TYPE_CHECKING, Any

from django.conf import settings
from django.contrib.auth import get_user_model
from django.contrib.auth.models import Group
from django.core.mail import send_mail
from django.db import IntegrityError, transaction
from django.urls import reverse
from django.utils import timezone
from django.utils.encoding import force_bytes
from django.utils.http import urlsafe_base64_encode
from django.utils.translation import gettext as _

from numbers import roles
from numbers.audit import audit_changes, audit_record
from numbers.models import AuditAction
from numbers.services import Actor, actor_label
from renewal.active.services import sms_enqueue
from renewal.errors import Invalid
from renewal.models import (
    DeliveryState,
    Platform,
    PlatformAccount,
    PlatformAlert,
    PlatformRegistration,
    PlatformStatus,
    RegistrationState,
)
from renewal.onboarding.tokens import set_password_tokens
from renewal.platforms import services as platforms

if TYPE_CHECKING:
    from django.contrib.auth.models import User


@dataclass(frozen=True)
class RegistrationInput:
    organisation: str
    platform_name: str
    contact_name: str
    contact_email: str
    contact_phone: str
    categories: list[str]
    kind: str
    webhook_url: str
    support_phone: str
    support_url: str


@transaction.atomic
def registration_submit(*, data: RegistrationInput, address: str = "") -> PlatformRegistration:
    """Store a validated registration request; it waits in admin for a renewal-platform administrator."""
    registration = PlatformRegistration.objects.create(
        organisation=data.organisation, platform_name=data.platform_name, contact_name=data.contact_name,
        contact_email=data.contact_email.lower(), contact_phone=data.contact_phone, categories=data.categories,
        kind=data.kind, webhook_url=data.webhook_url, support_phone=data.support_phone,
        support_url=data.support_url, address=address[:64])
    audit_record(actor=None, actor_name=data.contact_email[:150], action=AuditAction.CREATE, obj=registration,
                 address=address, after={"organisation": registration.organisation,
                                         "platform_name": registration.platform_name, "kind": registration.kind,
                                         "webhook_url": registration.webhook_url})
    return registration


def _pending(registration: PlatformRegistration) -> PlatformRegistration:
    registration = PlatformRegistration.objects.select_for_update().get(pk=registration.pk)
    if registration.state != RegistrationState.PENDING:
        raise Invalid(_("This registration was decided already."), code="decided")
    return registration


def set_password_url(user: User, *, base_url: str) -> str:
    path = reverse("platform:set_password", args=[urlsafe_base64_encode(force_bytes(user.pk)),
                                                  set_password_tokens.make_token(user)])
    return (settings.PORTAL_BASE_URL or base_url).rstrip("/") + path


def _engineer(*, email: str, platform: Platform, owner: bool, actor: Actor) -> PlatformAccount:
    User = get_user_model()
    if User.objects.filter(username__iexact=email).exists():
        raise Invalid(_("An account with this e-mail address exists already."), code="account_exists",
                      fields={"email": [_("Already in use.")]})
    user = User.objects.create_user(username=email, email=email, is_staff=False)  # no password until the link
    user.groups.add(Group.objects.get(name=roles.PLATFORM_ENGINEER))
    return PlatformAccount.objects.create(user=user, platform=platform, is_owner=owner,
                                          invited_by=actor_label(actor))


def _mail_link(account: PlatformAccount, *, base_url: str, subject: str, intro: str) -> None:
    url = set_password_url(account.user, base_url=base_url)
    hours = settings.PLATFORM_SET_PASSWORD_HOURS
    body = "\n\n".join([intro, _("Set your password here (the link works once, for %(hours)d hours):") %
                        {"hours": hours}, url,
                        _("You will then set up an authenticator app: the platform account area needs a code "
                          "from it at every sign-in.")])
    email = account.user.email
    transaction.on_commit(lambda: send_mail(subject, body, None, [email]))


@transaction.atomic
def registration_approve(*, registration: PlatformRegistration, actor: Actor, base_url: str) -> PlatformAccount:
    """Create the platform in sandbox and its owner's account; e-mail the owner a set-password link."""
    registration = _pending(registration)
    if Platform.objects.filter(name=registration.platform_name).exists():
        raise Invalid(_("A platform named %(name)s exists already: reject this request or rename that platform.")
                      % {"name": registration.platform_name}, code="name_taken")
    categories = registration.categories or ["other"]
    platform = platforms.platform_create(
        name=registration.platform_name, category=categories[0], kind=registration.kind,
        webhook_url=registration.webhook_url, status=PlatformStatus.SANDBOX,
        support_phone=registration.support_phone, support_url=registration.support_url, actor=actor)
    account = _engineer(email=registration.contact_email, platform=platform, owner=True, actor=actor)
    now = timezone.now()
    PlatformRegistration.objects.filter(pk=registration.pk).update(
        state=RegistrationState.APPROVED, decided_at=now, decided_by=actor_label(actor), platform=platform)
    audit_record(actor=actor, action=AuditAction.STATUS_CHANGE, obj=registration, at=now,
                 before={"state": RegistrationState.PENDING}, after={"state": RegistrationState.APPROVED},
                 detail={"platform": platform, "owner": account.user.get_username()})
    _mail_link(account, base_url=base_url, subject=_("Your platform is registered: set your password"),
               intro=_("%(name)s is registered with the secondary-number renewal portal, in the sandbox.")
               % {"name": platform.name})
    return account


@transaction.atomic
def registration_reject(*, registration: PlatformRegistration, actor: Actor) -> PlatformRegistration:
    registration = _pending(registration)
    registration.state, registration.decided_at = RegistrationState.REJECTED, timezone.now()
    registration.decided_by = actor_label(actor)
    registration.save(update_fields=["state", "decided_at", "decided_by"])
    audit_record(actor=actor, action=AuditAction.STATUS_CHANGE, obj=registration,
                 before={"state": RegistrationState.PENDING}, after={"state": RegistrationState.REJECTED})
    email, name = registration.contact_email, registration.platform_name
    transaction.on_commit(lambda: send_mail(
        _("Your platform registration"), _("The registration of %(name)s was not approved. Reply to this e-mail "
                                           "or register again with corrected details.") % {"name": name},
        None, [email]))
    return registration


@transaction.atomic
def engineer_invite(*, account: PlatformAccount, email: str, base_url: str) -> PlatformAccount:
    """The owner invites an engineer of the same platform: an account and an e-mailed set-password link."""
    if not account.is_owner:
        raise Invalid(_("Only the platform's owner invites engineers."), code="not_owner")
    try:
        with transaction.atomic():
            invited = _engineer(email=email.strip().lower(), platform=account.platform, owner=False,
                                actor=account.user)
    except IntegrityError as exc:
        raise Invalid(_("An account with this e-mail address exists already."), code="account_exists") from exc
    audit_record(actor=account.user, action=AuditAction.CREATE, obj=invited,
                 after={"user": invited.user.get_username(), "platform": account.platform, "owner": False})
    _mail_link(invited, base_url=base_url, subject=_("You are invited to a platform account"),
               intro=_("%(who)s invited you to the account of %(name)s on the secondary-number renewal portal.")
               % {"who": account.user.get_username(), "name": account.platform.name})
    return invited


@transaction.atomic
def engineer_password_set(*, user: User, password: str, address: str = "") -> None:
    """Set an engineer's password from the link (which stops working: the token hashes the password)."""
    user.set_password(password)
    user.save(update_fields=["password"])
    audit_record(actor=user, action=AuditAction.PASSWORD_SET, obj=user, address=address,
                 detail={"site": "platform", "set": True})


# --- the account area's changes ----------------------------------------------------------------------------


@transaction.atomic
def platform_settings_change(*, account: PlatformAccount, changes: dict[str, Any]) -> Platform:
    """Change the webhook URL or the concurrency limit (audited with before and after by platform_update)."""
    allowed = {k: v for k, v in changes.items() if k in ("webhook_url", "max_in_flight")}
    return platforms.platform_update(platform=account.platform, changes=allowed, actor=account.user)


@transaction.atomic
def alert_set(*, account: PlatformAccount, email: str, phone: str) -> PlatformAlert:
    alert, _created = PlatformAlert.objects.select_for_update().get_or_create(platform=account.platform)
    before = {"email": alert.email, "phone": alert.phone}
    alert.email, alert.phone = email, phone
    alert.save(update_fields=["email", "phone"])
    old, new = audit_changes(before, {"email": email, "phone": phone})
    if new:
        audit_record(actor=account.user, action=AuditAction.CHANGE, obj=alert, before=old, after=new)
    return alert


def alerts_check(*, now: datetime | None = None) -> int:
    """Alert each platform whose dead deliveries grew since its last alert (at most every few minutes); return
    how many alerts went."""
    now = now or timezone.now()
    sent = 0
    quiet_since = now - timedelta(minutes=settings.PLATFORM_ALERT_MIN_MINUTES)
    for alert in PlatformAlert.objects.exclude(email="", phone="").select_related("platform"):
        if alert.last_alert_at and alert.last_alert_at > quiet_since:
            continue
        sent += int(_alert_one(alert_id=alert.pk, now=now))
    return sent


@transaction.atomic
def _alert_one(*, alert_id: int, now: datetime) -> bool:
    alert = PlatformAlert.objects.select_for_update().select_related("platform").get(pk=alert_id)
    dead = alert.platform.deliveries.filter(state=DeliveryState.DEAD).count()
    if dead <= alert.dead_alerted:
        if dead < alert.dead_alerted:  # some were redelivered: the next death counts again
            PlatformAlert.objects.filter(pk=alert.pk).update(dead_alerted=dead)
        return False
    PlatformAlert.objects.filter(pk=alert.pk).update(dead_alerted=dead, last_alert_at=now)
    text = _("Renewal portal: %(count)d deliveries to %(name)s have died (every retry failed). See the delivery "
             "log in your platform account and redeliver them once fixed.") % {"count": dead,
                                                                                "name": alert.platform.name}
    if alert.email:
        email = alert.email
        transaction.on_commit(lambda: send_mail(_("Deliveries are dying"), text, None, [email]))
    if alert.phone:
        sms_enqueue(alert.phone, text)
    return True
