"""Internet platforms: registering them, their status, their API keys and their signing secrets."""

import hashlib
import hmac
import secrets
from dataclasses import dataclass, field
from datetime import datetime, timedelta

from cryptography.fernet import InvalidToken
from django.conf import settings
from django.db import transaction
from django.utils import timezone
from django.utils.translation import gettext as _

from numbers.audit import audit_changes, audit_record
from numbers.models import AuditAction, Operator
from numbers.services import Actor, actor_label
from renewal.errors import Invalid
from renewal.models import (
    ApiKey,
    ConformanceCheck,
    ConformanceState,
    Delivery,
    DeliveryState,
    Platform,
    PlatformStatus,
)
from renewal.platforms import crypto
from renewal.platforms.signing import InvalidSecret, secret_key
from renewal.platforms.webhook_urls import validate_webhook_url

KEY_PREFIX = "rk_"


_LOOKUP_LEN = 8  # characters after KEY_PREFIX kept in clear to find the key


def _key_hash(raw: str) -> str:
    return hashlib.sha256(raw.encode()).hexdigest()


@transaction.atomic
def api_key_create(*, platform: Platform | None = None, operator: Operator | None = None, name: str,
                   actor: Actor = None) -> tuple[ApiKey, str]:
    """Create a key for a platform or an operator; return it with the raw key, which is never stored."""
    if (platform is None) == (operator is None):
        raise Invalid(_("A key belongs to one platform or one operator."), fields={"platform": [_("Choose one.")]})
    raw = KEY_PREFIX + secrets.token_urlsafe(32)  # 32 random bytes
    key = ApiKey.objects.create(
        platform=platform, operator=operator, name=(name or "").strip()[:100] or "key",
        prefix=raw[: len(KEY_PREFIX) + _LOOKUP_LEN], key_hash=_key_hash(raw), created_by=actor_label(actor),
    )
    # The key itself is never written anywhere: the audit names its prefix and owner.
    audit_record(actor=actor, action=AuditAction.KEY_CREATE, obj=key,
                 after={"name": key.name, "prefix": key.prefix, "scope": key.scope, "owner": key.owner})
    return key, raw


@transaction.atomic
def api_key_revoke(*, key: ApiKey, actor: Actor = None, now: datetime | None = None) -> ApiKey:
    """Revoke a key (once: revoking a revoked key changes nothing and writes nothing)."""
    now = now or timezone.now()
    if ApiKey.objects.filter(pk=key.pk, revoked_at__isnull=True).update(revoked_at=now):
        key.refresh_from_db()
        audit_record(actor=actor, action=AuditAction.KEY_REVOKE, obj=key, at=now,
                     before={"revoked_at": None}, after={"revoked_at": key.revoked_at})
    else:
        key.refresh_from_db()
    return key


def api_key_authenticate(raw: str, *, now: datetime | None = None) -> ApiKey | None:
    """Return the active key matching `raw`, or None. Looked up by prefix, compared by SHA-256."""
    raw = (raw or "").strip()
    if not raw.startswith(KEY_PREFIX) or len(raw) > 100:
        return None
    digest = _key_hash(raw)
    prefix = raw[: len(KEY_PREFIX) + _LOOKUP_LEN]
    for key in ApiKey.objects.filter(prefix=prefix, revoked_at__isnull=True).select_related("platform", "operator"):
        if hmac.compare_digest(key.key_hash, digest):
            now = now or timezone.now()
            if key.last_used_at is None or key.last_used_at < now - timedelta(minutes=5):
                ApiKey.objects.filter(pk=key.pk).update(last_used_at=now)  # at most one write per 5 minutes
            return key
    return None


# What a platform's page changes, and the audit trail records before and after (never the secrets).
PLATFORM_FIELDS = ("name", "category", "kind", "webhook_url", "status", "max_in_flight", "support_phone",
                   "support_url")


def _platform_state(platform: Platform) -> dict[str, object]:
    return {name: getattr(platform, name) for name in PLATFORM_FIELDS if hasattr(platform, name)}


@transaction.atomic
def platform_create(*, name: str, category: str, kind: str = "application", webhook_url: str = "",
                    status: str = PlatformStatus.SANDBOX, max_in_flight: int | None = None,
                    support_phone: str = "", support_url: str = "", actor: Actor = None) -> Platform:
    """Create a platform with a fresh signing secret, encrypted at rest."""
    platform = Platform(name=name, category=category, kind=kind, webhook_url=validate_webhook_url(webhook_url),
                        status=status, signing_secret_encrypted=crypto.encrypt(crypto.new_signing_secret()),
                        support_phone=support_phone, support_url=support_url)
    if max_in_flight is not None:
        platform.max_in_flight = max_in_flight
    platform.full_clean(exclude=["signing_secret_encrypted"])
    platform.save()
    audit_record(actor=actor, action=AuditAction.CREATE, obj=platform, after=_platform_state(platform))
    return platform


@transaction.atomic
def platform_update(*, platform: Platform, changes: dict[str, object], actor: Actor = None) -> Platform:
    """Change a platform's page fields (a new webhook URL is checked); a status change goes as platform_set_status.

    The audit entry keeps each changed field before and after: a changed webhook URL sends every future
    delivery somewhere else.
    """
    unknown = set(changes) - set(PLATFORM_FIELDS)
    if unknown:
        raise Invalid(_("These fields cannot be changed here."), fields={k: [_("Not changeable.")] for k in unknown})
    platform = Platform.objects.select_for_update().get(pk=platform.pk)
    before = _platform_state(platform)
    status = changes.pop("status", platform.status)
    if "webhook_url" in changes:
        changes["webhook_url"] = validate_webhook_url(str(changes["webhook_url"] or ""))
    for name, value in changes.items():
        setattr(platform, name, value)
    platform.full_clean(exclude=["signing_secret_encrypted"])
    platform.save(update_fields=list(changes) or None)
    if status != platform.status:
        platform = platform_set_status(platform=platform, status=str(status), actor=actor)
    old, new = audit_changes(before, _platform_state(platform))
    if new:
        audit_record(actor=actor, action=AuditAction.CHANGE, obj=platform, before=old, after=new)
    return platform


def platform_secrets(platform: Platform, *, now: datetime | None = None) -> list[str]:
    """Return the secrets that sign now, the newest first (two during a rotation's overlap)."""
    now = now or timezone.now()
    out = [crypto.decrypt(platform.signing_secret_encrypted)]
    if platform.previous_secret_encrypted and platform.previous_secret_expires_at and \
            platform.previous_secret_expires_at > now:
        out.append(crypto.decrypt(platform.previous_secret_encrypted))
    return out


def platform_signing_keys(platform: Platform, *, now: datetime | None = None) -> list[bytes]:
    """Return the HMAC keys that sign now, newest first; raise InvalidSecret for a secret that cannot sign."""
    return [secret_key(secret) for secret in platform_secrets(platform, now=now)]


def _signs(secret: str) -> bool:
    try:
        secret_key(secret)
    except InvalidSecret:
        return False
    return True


@transaction.atomic
def platform_rotate_secret(*, platform: Platform, actor: Actor = None, now: datetime | None = None) -> str:
    """Give the platform a new signing secret; the old one keeps signing (a second signature) for the overlap.

    An old secret that cannot sign (not 32 bytes) is dropped instead of kept for the overlap.
    """
    now = now or timezone.now()
    platform = Platform.objects.select_for_update().get(pk=platform.pk)
    new = crypto.new_signing_secret()
    if _signs(crypto.decrypt(platform.signing_secret_encrypted)):
        platform.previous_secret_encrypted = platform.signing_secret_encrypted
        platform.previous_secret_expires_at = now + timedelta(hours=settings.RENEWAL_SECRET_OVERLAP_HOURS)
    else:
        platform.previous_secret_encrypted, platform.previous_secret_expires_at = "", None
    platform.signing_secret_encrypted = crypto.encrypt(new)
    platform.save(update_fields=["previous_secret_encrypted", "previous_secret_expires_at",
                                 "signing_secret_encrypted"])
    audit_record(actor=actor, action=AuditAction.SECRET_ROTATE, obj=platform, at=now,
                 detail={"previous_secret_valid_until": platform.previous_secret_expires_at})
    return new


def platform_secret_signs(platform: Platform) -> bool:
    """Whether the platform's current secret is a Standard Webhooks secret (whsec_ and 32 bytes)."""
    return _signs(crypto.decrypt(platform.signing_secret_encrypted))


@transaction.atomic
def platform_secret_reissue(*, platform: Platform) -> str:
    """Replace the platform's signing secret at once, with no overlap; return the new one (shown once).

    For secrets that cannot sign any more (the hex secrets of before Standard Webhooks): nothing was signed
    with them since, so there is nothing to overlap.
    """
    platform = Platform.objects.select_for_update().get(pk=platform.pk)
    new = crypto.new_signing_secret()
    platform.signing_secret_encrypted = crypto.encrypt(new)
    platform.previous_secret_encrypted, platform.previous_secret_expires_at = "", None
    platform.save(update_fields=["signing_secret_encrypted", "previous_secret_encrypted",
                                 "previous_secret_expires_at"])
    return new


def last_finished_check(platform: Platform) -> ConformanceCheck | None:
    return (ConformanceCheck.objects.filter(platform=platform).exclude(state=ConformanceState.RUNNING)
            .order_by("-started_at", "-id").first())


def platform_live_refusal(platform: Platform) -> str | None:
    """Why the platform may not be switched live now, or None (forms show it beside the status)."""
    try:
        _refuse_live_without_passing_check(platform)
    except Invalid as exc:
        return exc.message
    return None


def _refuse_live_without_passing_check(platform: Platform) -> None:
    """Only a platform whose last conformance check passed every step goes live, at the address it was checked
    at (renewal.conformance). A query-only site receives no deliveries and needs no check."""
    if platform.kind == "query_only":
        return
    check = last_finished_check(platform)
    if check is None:
        raise Invalid(_("%(platform)s cannot go live: it has not passed a conformance check yet. Run the check "
                        "from the sandbox first.") % {"platform": platform.name}, code="conformance_required")
    if check.state != ConformanceState.PASSED:
        failed = check.first_failed_step or {}
        raise Invalid(_("%(platform)s cannot go live: its last conformance check failed at step %(step)s "
                        "(%(name)s). Fix it and run the check again.")
                      % {"platform": platform.name, "step": failed.get("step", "?"), "name": failed.get("name", "")},
                      code="conformance_required")
    if check.webhook_url != platform.webhook_url:
        raise Invalid(_("%(platform)s cannot go live: its webhook URL changed since its last conformance check. "
                        "Run the check again.") % {"platform": platform.name}, code="conformance_required")


@transaction.atomic
def platform_set_status(*, platform: Platform, status: str, actor: Actor = None) -> Platform:
    """Change a platform's status; switched off, its unsent deliveries are cancelled (they stop blocking)."""
    if status not in PlatformStatus.values:
        raise Invalid(_("Unknown status."), fields={"status": [_("Choose sandbox, live or suspended.")]})
    platform = Platform.objects.select_for_update().get(pk=platform.pk)
    before = platform.status
    if status == PlatformStatus.LIVE and before != PlatformStatus.LIVE:
        _refuse_live_without_passing_check(platform)
    platform.status = status
    platform.save(update_fields=["status"])
    cancelled = 0
    if status != PlatformStatus.LIVE:
        cancelled = Delivery.objects.filter(platform=platform,
                                            state__in=[DeliveryState.PENDING, DeliveryState.DEAD]).cancel()
    if before != status:
        audit_record(actor=actor, action=AuditAction.STATUS_CHANGE, obj=platform, before={"status": before},
                     after={"status": status}, detail={"deliveries_cancelled": cancelled})
    return platform


@dataclass
class ReencryptSummary:
    platforms: int = 0  # platforms whose secrets were re-encrypted (or, checking, still need it)
    secrets: int = 0
    unreadable: list[str] = field(default_factory=list)  # platforms no key decrypts: nothing is changed then


_SECRET_FIELDS = ("signing_secret_encrypted", "previous_secret_encrypted")


@transaction.atomic
def platform_secrets_reencrypt(*, check: bool = False) -> ReencryptSummary:
    """Re-encrypt every platform's signing secrets with the first key of RENEWAL_SECRETS_KEYS.

    All or nothing, under row locks: when a secret decrypts with no key, nothing is changed and the platforms
    are named. `check` only counts the secrets not yet encrypted with the first key (before the old key is
    removed, this must be 0).
    """
    summary = ReencryptSummary()
    for platform in Platform.objects.select_for_update().order_by("pk").iterator(chunk_size=500):
        changed = []
        for name in _SECRET_FIELDS:
            token = getattr(platform, name)
            if not token or crypto.is_current(token):
                continue
            try:
                setattr(platform, name, crypto.reencrypt(token))
            except InvalidToken:
                summary.unreadable.append(platform.name)
                break
            changed.append(name)
        if changed:
            summary.platforms += 1
            summary.secrets += len(changed)
            if not check:
                platform.save(update_fields=changed)
    if summary.unreadable:
        transaction.set_rollback(True)
    return summary
