"""Standard Webhooks signatures, checked against the `standardwebhooks` library as platforms will verify them."""

import base64
import time
from datetime import UTC, datetime
from io import StringIO

import pytest
from django.core.management import call_command
from django.utils import timezone
from standardwebhooks import Webhook, WebhookVerificationError

from renewal.models import Platform
from renewal.platforms import crypto, services
from renewal.platforms.signing import InvalidSecret, secret_key, sign, signature_headers
from tests.renewal.helpers_renewal import make_platform

# DESIGN's test vector ("Webhook signing").
VECTOR_SECRET = "whsec_P5ocflstT2CoweO11/kKLE5rjQ8aPF5wkrTW+KDC5PY="
VECTOR_ID = "0b6f1c2e-3d4a-4b5c-8d6e-7f8091a2b3c4"
VECTOR_TIMESTAMP = 1767225600
VECTOR_BODY = (b'{"event":"recycled_numbers.batch","delivery_id":"0b6f1c2e-3d4a-4b5c-8d6e-7f8091a2b3c4",'
               b'"operator":"CMCC","numbers":[{"msisdn":"+8613800138000","disconnected_at":'
               b'"2026-08-01T00:00:00+08:00","release_not_before":"2026-10-30"}]}')
VECTOR_SIGNATURE = "v1,C02fbBskGGmtNBrE3wYHibXX9rN+qCqTxFqh5VmeSFo="


def test_the_design_vector_with_the_library_and_with_the_portal():
    library = Webhook(VECTOR_SECRET).sign(VECTOR_ID, datetime.fromtimestamp(VECTOR_TIMESTAMP, tz=UTC),
                                          VECTOR_BODY.decode())
    assert library == VECTOR_SIGNATURE
    headers = signature_headers(keys=[secret_key(VECTOR_SECRET)], msg_id=VECTOR_ID, body=VECTOR_BODY,
                                timestamp=VECTOR_TIMESTAMP)
    assert headers == {"webhook-id": VECTOR_ID, "webhook-timestamp": str(VECTOR_TIMESTAMP),
                       "webhook-signature": VECTOR_SIGNATURE}
    # the library refuses the vector's own timestamp: it is long past
    with pytest.raises(WebhookVerificationError, match="too old"):
        Webhook(VECTOR_SECRET).verify(VECTOR_BODY, headers)


def test_a_live_signature_verifies_with_the_library():
    headers = signature_headers(keys=[secret_key(VECTOR_SECRET)], msg_id=VECTOR_ID, body=VECTOR_BODY)
    assert abs(int(headers["webhook-timestamp"]) - time.time()) < 5
    assert Webhook(VECTOR_SECRET).verify(VECTOR_BODY, headers)["operator"] == "CMCC"
    # any change to the body, the id or the timestamp breaks it
    for changed in ({"webhook-id": "another"}, {"webhook-timestamp": str(int(headers["webhook-timestamp"]) - 1)}):
        with pytest.raises(WebhookVerificationError):
            Webhook(VECTOR_SECRET).verify(VECTOR_BODY, {**headers, **changed})
    with pytest.raises(WebhookVerificationError):
        Webhook(VECTOR_SECRET).verify(VECTOR_BODY + b" ", headers)
    other = crypto.new_signing_secret()
    with pytest.raises(WebhookVerificationError):
        Webhook(other).verify(VECTOR_BODY, headers)


@pytest.mark.parametrize("offset", [-301, 301])
def test_a_stale_or_future_timestamp_is_refused_by_the_library(offset):
    stamp = int(time.time()) + offset
    headers = signature_headers(keys=[secret_key(VECTOR_SECRET)], msg_id=VECTOR_ID, body=VECTOR_BODY,
                                timestamp=stamp)
    with pytest.raises(WebhookVerificationError, match="too old" if offset < 0 else "too new"):
        Webhook(VECTOR_SECRET).verify(VECTOR_BODY, headers)


@pytest.mark.parametrize("secret", [
    "whsec_" + "ab" * 32,  # an old hex secret: base64-decodes to 48 bytes, which the library would accept
    "whsec_" + base64.b64encode(b"x" * 31).decode(),
    "whsec_" + base64.b64encode(b"x" * 33).decode(),
    "whsec_not base64!",
    base64.b64encode(b"x" * 32).decode(),  # no prefix
    "",
])
def test_signing_refuses_a_secret_whose_key_is_not_32_bytes(secret):
    with pytest.raises(InvalidSecret):
        secret_key(secret)


def test_new_secrets_are_32_random_bytes_in_base64():
    secrets = {crypto.new_signing_secret() for _ in range(20)}
    assert len(secrets) == 20
    for secret in secrets:
        assert secret.startswith("whsec_") and len(secret_key(secret)) == 32


@pytest.mark.django_db
def test_signing_secret_is_encrypted_at_rest():
    platform = make_platform()
    plain = services.platform_secrets(platform)[0]
    assert len(secret_key(plain)) == 32
    assert plain not in platform.signing_secret_encrypted
    assert crypto.decrypt(platform.signing_secret_encrypted) == plain


@pytest.mark.django_db
def test_rotation_signs_with_both_secrets_new_first_and_each_verifies_during_the_overlap():
    platform = make_platform()
    old = services.platform_secrets(platform)[0]
    now = timezone.now()
    new = services.platform_rotate_secret(platform=platform, now=now)
    platform.refresh_from_db()
    assert services.platform_secrets(platform, now=now) == [new, old]
    headers = signature_headers(keys=services.platform_signing_keys(platform, now=now), msg_id=VECTOR_ID,
                                body=VECTOR_BODY)
    first, second = headers["webhook-signature"].split(" ")
    stamp = int(headers["webhook-timestamp"])
    assert first == sign(key=secret_key(new), msg_id=VECTOR_ID, timestamp=stamp, body=VECTOR_BODY)
    assert second == sign(key=secret_key(old), msg_id=VECTOR_ID, timestamp=stamp, body=VECTOR_BODY)
    # a receiver that switched already, and one that has not yet: both verify with the library
    assert Webhook(new).verify(VECTOR_BODY, headers) and Webhook(old).verify(VECTOR_BODY, headers)
    later = now + timezone.timedelta(hours=24, seconds=1)
    assert services.platform_secrets(platform, now=later) == [new]


@pytest.mark.django_db
def test_rotating_away_from_a_secret_that_cannot_sign_keeps_no_overlap():
    platform = make_platform()
    Platform.objects.filter(pk=platform.pk).update(signing_secret_encrypted=crypto.encrypt("whsec_" + "ab" * 32))
    platform.refresh_from_db()
    with pytest.raises(InvalidSecret):
        services.platform_signing_keys(platform)
    new = services.platform_rotate_secret(platform=platform)
    platform.refresh_from_db()
    assert services.platform_secrets(platform) == [new]


@pytest.mark.django_db
def test_platform_secrets_reissue_replaces_secrets_that_cannot_sign_and_prints_each_once():
    stale = make_platform("Stale")
    fine = make_platform("Fine")
    hex_secret = "whsec_" + "cd" * 32
    Platform.objects.filter(pk=stale.pk).update(signing_secret_encrypted=crypto.encrypt(hex_secret),
                                                previous_secret_encrypted=crypto.encrypt(hex_secret),
                                                previous_secret_expires_at=timezone.now() + timezone.timedelta(1))
    fine_secret = services.platform_secrets(fine)[0]
    out, err = StringIO(), StringIO()
    call_command("platform_secrets_reissue", stdout=out, stderr=err)
    (line,) = out.getvalue().splitlines()
    pk, name, printed = line.split("\t")
    stale.refresh_from_db()
    assert (int(pk), name) == (stale.pk, "Stale")
    assert services.platform_secrets(stale) == [printed] and len(secret_key(printed)) == 32
    assert services.platform_secrets(fine) == [fine_secret]
    assert "1 signing secret(s) re-issued" in err.getvalue()
    # nothing left to do: the second run prints no secret
    out = StringIO()
    call_command("platform_secrets_reissue", stdout=out, stderr=StringIO())
    assert out.getvalue() == ""
    # --all (or --platform) re-issues good ones too, each printed once
    out = StringIO()
    call_command("platform_secrets_reissue", "--platform", "Fine", stdout=out, stderr=StringIO())
    (line,) = out.getvalue().splitlines()
    fine.refresh_from_db()
    assert line.split("\t")[1] == "Fine" and services.platform_secrets(fine) == [line.split("\t")[2]]
    out = StringIO()
    call_command("platform_secrets_reissue", "--all", stdout=out, stderr=StringIO())
    assert len(out.getvalue().splitlines()) == 2
