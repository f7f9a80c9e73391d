import pytest
from django.utils import timezone

from renewal.platforms import crypto, services
from renewal.platforms.signing import InvalidSignature, signature, signature_header, verify
from tests.renewal.helpers_renewal import make_platform

VECTOR_SECRET = "whsec_3f9a1c7e5b2d4f60a8c1e3b5d7f90a2c"
VECTOR_BODY = (b'{"event":"recycled_numbers.batch","delivery_id":"0b6f1c2e-3d4a-4b5c-8d6e-7f8091a2b3c4",'
               b'"operator":"CMCC","numbers":[{"msisdn":"+8613800138000","disconnected_at":'
               b'"2026-08-01T00:00:00+08:00","release_not_before":"2026-10-30"}]}')


def test_design_test_vector():
    assert signature(secret=VECTOR_SECRET, t=1767225600, body=VECTOR_BODY) == (
        "c50fcbaad2f89a237498a1161fec93ff40cf2b70643614d81e4ec6b8a9d56d2e")
    assert signature_header(secrets=[VECTOR_SECRET], body=VECTOR_BODY, t=1767225600) == (
        "t=1767225600,v1=c50fcbaad2f89a237498a1161fec93ff40cf2b70643614d81e4ec6b8a9d56d2e")


def test_receiver_rejects_old_future_and_wrong_signatures():
    header = signature_header(secrets=[VECTOR_SECRET], body=VECTOR_BODY, t=1767225600)
    assert verify(header=header, body=VECTOR_BODY, secrets=[VECTOR_SECRET], now=1767225600 + 300) == 1767225600
    for now in (1767225600 + 301, 1767225600 - 301):
        with pytest.raises(InvalidSignature):
            verify(header=header, body=VECTOR_BODY, secrets=[VECTOR_SECRET], now=now)
    with pytest.raises(InvalidSignature):
        verify(header=header, body=VECTOR_BODY + b" ", secrets=[VECTOR_SECRET], now=1767225600)
    with pytest.raises(InvalidSignature):
        verify(header="t=abc,v1=00", body=VECTOR_BODY, secrets=[VECTOR_SECRET], now=1767225600)


@pytest.mark.django_db
def test_signing_secret_is_encrypted_at_rest():
    platform = make_platform()
    plain = services.platform_secrets(platform)[0]
    assert plain.startswith("whsec_") and len(plain) == 6 + 64
    assert plain not in platform.signing_secret_encrypted
    assert crypto.decrypt(platform.signing_secret_encrypted) == plain


@pytest.mark.django_db
def test_rotation_signs_with_both_secrets_new_first_during_the_overlap():
    platform = make_platform()
    old = services.platform_secrets(platform)[0]
    now = timezone.now()
    new = services.platform_rotate_secret(platform=platform, now=now)
    platform.refresh_from_db()
    assert services.platform_secrets(platform, now=now) == [new, old]
    header = signature_header(secrets=services.platform_secrets(platform, now=now), body=b"{}", t=100)
    v_new, v_old = (signature(secret=s, t=100, body=b"{}") for s in (new, old))
    assert header == f"t=100,v1={v_new},v1={v_old}"
    # a receiver that has not switched yet still verifies with the old secret
    assert verify(header=header, body=b"{}", secrets=[old], now=100) == 100
    later = now + timezone.timedelta(hours=24, seconds=1)
    assert services.platform_secrets(platform, now=later) == [new]
