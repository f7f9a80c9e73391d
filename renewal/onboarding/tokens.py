"""Single-use set-password links for platform engineers, valid PLATFORM_SET_PASSWORD_HOURS.

Django's password-reset tokens hash the account's password and last sign-in, so a link stops working once a
password is set with it; the generator here has its own salt (a staff reset link never opens this page, nor the
other way round) and its own lifetime.
"""

from django.conf import settings
from django.contrib.auth.tokens import PasswordResetTokenGenerator
from django.utils.crypto import constant_time_compare
from django.utils.http import base36_to_int


class SetPasswordTokenGenerator(PasswordResetTokenGenerator):
    key_salt = "renewal.onboarding.tokens.SetPasswordTokenGenerator"

    def check_token(self, user, token):
        if not (user and token):
            return False
        try:
            ts_b36, _hash = token.split("-")
            ts = base36_to_int(ts_b36)
        except ValueError:
            return False
        if not any(constant_time_compare(self._make_token_with_timestamp(user, ts, secret), token)
                   for secret in [self.secret, *self.secret_fallbacks]):
            return False
        return bool(self._num_seconds(self._now()) - ts <= settings.PLATFORM_SET_PASSWORD_HOURS * 3600)


set_password_tokens = SetPasswordTokenGenerator()
