"""Demo data for the operator endpoints: an API key of CMCC's back office, and a call to try with it.

A key is shown once and only its hash is kept, so each `make run` revokes the previous demo key and prints a new
one, with a curl command that asks for a dry-run cancellation of one of CMCC's active numbers.
"""

import json
import shlex
from datetime import timedelta

from django.conf import settings
from django.utils import timezone

from numbers.models import Operator, PhoneNumber, State
from renewal.models import ApiKey
from renewal.platforms import services

KEY_NAME = "demo back office"


def load(stdout) -> list[tuple[str, str, str]]:
    operator = Operator.objects.filter(code="CMCC").first()
    number = PhoneNumber.objects.filter(serving_operator=operator, state=State.ACTIVE).order_by("id").first()
    if operator is None or number is None:
        stdout.write("renewal: no demo operator with an active number: no back-office key")
        return []
    for old in ApiKey.objects.filter(operator=operator, name=KEY_NAME, revoked_at__isnull=True):
        services.api_key_revoke(key=old, actor="demo")
    _, raw = services.api_key_create(operator=operator, name=KEY_NAME, actor="demo")
    stdout.write(f"renewal: an API key of {operator.code}'s back office (each run issues a new one)")
    return [(f"{operator.code} back office's API key", "/api/v1/cancellations", raw),
            ("  …try it (a dry run changes nothing)", "", curl_cancellation(raw, number.msisdn))]


def curl_cancellation(key: str, msisdn: str) -> str:
    """A curl command that asks for a dry-run cancellation of `msisdn` as of a minute ago."""
    at = timezone.localtime(timezone.now() - timedelta(minutes=1)).isoformat(timespec="seconds")
    body = json.dumps({"items": [{"msisdn": msisdn, "cancelled_at": at}], "dry_run": True})
    base = settings.PUBLIC_BASE_URL or "http://127.0.0.1:8000"
    return (f"curl -s -H {shlex.quote('Authorization: Bearer ' + key)} -H 'Content-Type: application/json' "
            f"-d {shlex.quote(body)} {base}/api/v1/cancellations")
