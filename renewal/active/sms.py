"""Sign-in codes sent by SMS: issue, verify, and the backends that send them.

The page answers every number the same, at once; `sms_code_send_task` then
issues and sends a code only when the number is in service (state active).
Codes are stored as an HMAC keyed with a server key, live 5 minutes, allow 5
tries, and a new code replaces the number's previous one.
"""

import hashlib
import hmac
import logging
import secrets
from datetime import timedelta

import requests
from django.conf import settings
from django.db import transaction
from django.utils import timezone, translation
from django.utils.module_loading import import_string
from django.utils.translation import gettext as _
from django.utils.translation import gettext_noop

from numbers import metrics
from numbers.models import PhoneNumber, State
from numbers.phone import format_national
from renewal.models import SmsCode, SmsMessage

log = logging.getLogger(__name__)


class SmsSendError(Exception):
    pass


# --- backends --------------------------------------------------------------------------------


# Marks the console backend's lines: `make run` shows exactly these on its console (portal/devrun.py).
CONSOLE_MARK = "▶ SMS"


class ConsoleBackend:
    """Development: print the message, whole and on one marked line, as demo output (not through logging)."""

    def send(self, *, to: str, body: str) -> None:
        one_line = " ".join(body.split())
        print(f"{CONSOLE_MARK} to {format_national(to)} ({to}): {one_line}", flush=True)


class DatabaseBackend:
    """Tests: store the message in the database so another process (the test) can read it."""

    def send(self, *, to: str, body: str) -> None:
        SmsMessage.objects.create(to=to, body=body)


class HttpGatewayBackend:
    """Production: POST to the SMS gateway (URL and credentials from the environment)."""

    def send(self, *, to: str, body: str) -> None:
        if not settings.SMS_GATEWAY_URL:
            raise SmsSendError("SMS_GATEWAY_URL is not set")
        try:
            response = requests.post(
                settings.SMS_GATEWAY_URL,
                json={"to": to, "text": body},
                auth=(settings.SMS_GATEWAY_USER, settings.SMS_GATEWAY_PASSWORD),
                timeout=settings.SMS_GATEWAY_TIMEOUT,
                allow_redirects=False,
            )
        except requests.RequestException as exc:
            raise SmsSendError(f"{exc.__class__.__name__}: {exc}") from exc
        if not 200 <= response.status_code < 300:
            raise SmsSendError(f"gateway answered {response.status_code}")


def get_backend():
    return import_string(settings.SMS_BACKEND)()


# --- codes -----------------------------------------------------------------------------------


def _key() -> bytes:
    if settings.SMS_CODE_KEY:
        return settings.SMS_CODE_KEY.encode()
    return hashlib.sha256(b"sms-code:" + settings.SECRET_KEY.encode()).digest()


def code_hmac(msisdn: str, code: str) -> str:
    return hmac.new(_key(), f"{msisdn}:{code}".encode(), hashlib.sha256).hexdigest()


@transaction.atomic
def sms_code_issue(*, msisdn: str, now=None) -> str | None:
    """Create the number's one live code if the number is in service; return it (None when not in service)."""
    now = now or timezone.now()
    if not PhoneNumber.objects.filter(msisdn=msisdn, state=State.ACTIVE).exists():
        return None
    code = f"{secrets.randbelow(10**6):06d}"
    SmsCode.objects.update_or_create(
        msisdn=msisdn,
        defaults={"code_hmac": code_hmac(msisdn, code), "created_at": now, "tries": 0,
                  "expires_at": now + timedelta(seconds=settings.SMS_CODE_TTL_SECONDS)},
    )
    return code


class VerifyResult:
    OK = "ok"
    WRONG = "wrong"  # wrong, expired or no code: one answer, so it does not tell whether a code exists
    LOCKED = "locked"


@transaction.atomic
def sms_code_verify(*, msisdn: str, code: str, now=None) -> str:
    """Check a code; a right one is used up, a wrong one counts a try, the 5th wrong try kills it."""
    now = now or timezone.now()
    row = SmsCode.objects.select_for_update().filter(msisdn=msisdn).first()
    if row is None or row.expires_at <= now:
        return VerifyResult.WRONG
    if row.tries >= settings.SMS_CODE_MAX_TRIES:
        return VerifyResult.LOCKED
    if hmac.compare_digest(row.code_hmac, code_hmac(msisdn, (code or "").strip())):
        row.delete()
        return VerifyResult.OK
    row.tries += 1
    row.save(update_fields=["tries"])
    return VerifyResult.LOCKED if row.tries >= settings.SMS_CODE_MAX_TRIES else VerifyResult.WRONG


# Every SMS fits one segment in zh-hans (70 characters): a test formats each at its longest.
CODE_SMS = gettext_noop("[Number renewal] Your sign-in code is %(code)s. It expires in %(minutes)d minutes. "
                        "Never tell it to anyone.")


def code_message(code: str) -> str:
    minutes = settings.SMS_CODE_TTL_SECONDS // 60
    return _(CODE_SMS) % {"code": code, "minutes": minutes}


def sms_code_send(*, msisdn: str, language: str | None = None) -> None:
    """Issue a code to `msisdn` and send it, if the number is in service; raise SmsSendError if sending fails."""
    code = sms_code_issue(msisdn=msisdn)
    if code is None:
        return
    try:
        with translation.override(language or settings.LANGUAGE_CODE):
            body = code_message(code)
        get_backend().send(to=msisdn, body=body)
    except SmsSendError as exc:
        metrics.SMS_FAILED.inc()
        log.warning("SMS send failed: %s", exc, extra={"event": "sms_failed", "msisdn": msisdn})
        raise
    metrics.SMS_SENT.inc()
