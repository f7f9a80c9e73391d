"""Signing secrets encrypted at rest (Fernet) with keys from the environment (RENEWAL_SECRETS_KEYS).

The portal must sign with the plain secret, so it cannot be hashed like an API
key. The first key encrypts; every key decrypts, so a key can be rotated by
putting the new one first and re-encrypting (`manage.py secrets_reencrypt`, README "Rotating the secrets key").
"""

import base64
import secrets
from functools import lru_cache

from cryptography.fernet import Fernet, InvalidToken, MultiFernet
from django.conf import settings
from django.core.signals import setting_changed
from django.dispatch import receiver

from renewal.platforms.signing import KEY_BYTES, SECRET_PREFIX


@lru_cache(maxsize=1)
def _fernet() -> MultiFernet:
    return MultiFernet([Fernet(k.encode() if isinstance(k, str) else k) for k in settings.RENEWAL_SECRETS_KEYS])


@receiver(setting_changed)
def _reset(setting, **kwargs):
    if setting == "RENEWAL_SECRETS_KEYS":
        _fernet.cache_clear()


def new_signing_secret() -> str:
    """Return a fresh Standard Webhooks secret: whsec_ and the base64 of 32 random bytes."""
    return SECRET_PREFIX + base64.b64encode(secrets.token_bytes(KEY_BYTES)).decode()


def encrypt(plain: str) -> str:
    return _fernet().encrypt(plain.encode()).decode()


def decrypt(token: str) -> str:
    return _fernet().decrypt(token.encode()).decode()


def reencrypt(token: str) -> str:
    """Return the token encrypted with the first (newest) key."""
    return _fernet().rotate(token.encode()).decode()


def is_current(token: str) -> bool:
    """Return whether the token is encrypted with the first (newest) key."""
    try:
        Fernet(_first_key()).decrypt(token.encode())
    except InvalidToken:
        return False
    return True


def _first_key() -> bytes:
    key = settings.RENEWAL_SECRETS_KEYS[0]
    return key.encode() if isinstance(key, str) else key
