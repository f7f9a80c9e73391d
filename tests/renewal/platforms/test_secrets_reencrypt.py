"""Rotating the key that encrypts signing secrets: `manage.py secrets_reencrypt` (README, "Rotating the secrets
key"). The plain secrets never change, so platforms keep verifying every signature."""

import io

import pytest
from cryptography.fernet import Fernet
from django.core.management import call_command
from django.core.management.base import CommandError

from renewal.models import Platform
from renewal.platforms import crypto, services
from tests.renewal.helpers_renewal import make_platform

OLD, NEW, OTHER = (Fernet.generate_key().decode() for _ in range(3))


def _run(*args):
    out = io.StringIO()
    call_command("secrets_reencrypt", *args, stdout=out)
    return out.getvalue()


def _readable_with(key, token):
    try:
        Fernet(key.encode()).decrypt(token.encode())
    except Exception:  # noqa: BLE001
        return False
    return True


@pytest.fixture
def rotating(settings, db):
    """Two platforms (one in a secret rotation's overlap) encrypted with OLD; then NEW is put first."""
    settings.RENEWAL_SECRETS_KEYS = [OLD]
    plain = {}
    for name in ("Alipay", "WeChat"):
        platform = make_platform(name)
        plain[name] = services.platform_secrets(platform)
    services.platform_rotate_secret(platform=Platform.objects.get(name="WeChat"))
    plain["WeChat"] = services.platform_secrets(Platform.objects.get(name="WeChat"))
    settings.RENEWAL_SECRETS_KEYS = [NEW, OLD]
    return plain


def test_reencrypt_moves_every_secret_to_the_first_key_and_keeps_the_plain_secrets(rotating, settings):
    with pytest.raises(CommandError, match=r"3 secret\(s\) of 2 platform\(s\) are not yet encrypted"):
        _run("--check")
    assert "Re-encrypted 3 secret(s) of 2 platform(s)" in _run()
    for platform in Platform.objects.all():
        for token in (platform.signing_secret_encrypted, platform.previous_secret_encrypted):
            if token:
                assert _readable_with(NEW, token) and not _readable_with(OLD, token)
    assert "Every signing secret is encrypted with the first key." in _run("--check")
    settings.RENEWAL_SECRETS_KEYS = [NEW]  # the old key removed: everything still decrypts, the same secrets
    for platform in Platform.objects.all():
        assert services.platform_secrets(platform) == rotating[platform.name]


def test_running_it_twice_changes_nothing(rotating):
    _run()
    before = list(Platform.objects.values_list("signing_secret_encrypted", "previous_secret_encrypted"))
    assert "Re-encrypted 0 secret(s) of 0 platform(s)" in _run()
    assert list(Platform.objects.values_list("signing_secret_encrypted", "previous_secret_encrypted")) == before


def test_a_secret_no_key_decrypts_stops_everything(rotating, settings):
    settings.RENEWAL_SECRETS_KEYS = [OTHER]
    stranger = make_platform("Stranger")
    settings.RENEWAL_SECRETS_KEYS = [NEW]  # OLD forgotten: Alipay and WeChat are unreadable, Stranger too
    before = list(Platform.objects.order_by("pk").values_list("signing_secret_encrypted", flat=True))
    with pytest.raises(CommandError, match="No key of RENEWAL_SECRETS_KEYS decrypts the secrets of: Alipay, "
                                           "WeChat, Stranger. Nothing was changed."):
        _run()
    assert list(Platform.objects.order_by("pk").values_list("signing_secret_encrypted", flat=True)) == before
    assert stranger.pk


def test_is_current_tells_the_first_keys_tokens(settings):
    settings.RENEWAL_SECRETS_KEYS = [NEW, OLD]
    assert crypto.is_current(crypto.encrypt("whsec_x"))
    settings.RENEWAL_SECRETS_KEYS = [OLD]
    token = crypto.encrypt("whsec_x")
    settings.RENEWAL_SECRETS_KEYS = [NEW, OLD]
    assert not crypto.is_current(token) and crypto.decrypt(crypto.reencrypt(token)) == "whsec_x"
