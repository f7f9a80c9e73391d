"""Password sign-in, limited per account and per client address: the staff pages' and the admin's alike."""

import logging
from typing import TYPE_CHECKING, Any

from django.contrib.admin.forms import AdminAuthenticationForm
from django.contrib.auth import authenticate, get_user_model
from django.contrib.auth.forms import AuthenticationForm
from django.core.exceptions import ValidationError
from django.http import HttpRequest
from django.utils.translation import gettext as _

from numbers import metrics
from numbers.ratelimit import LoginLimiter, client_address

if TYPE_CHECKING:
    # What the mixin's methods call on `self` and `super()`; at run time it is a plain class.
    _LoginFormMixin = AuthenticationForm
else:
    _LoginFormMixin = object

log = logging.getLogger("numbers.signin")


class LimitedLoginMixin(_LoginFormMixin):
    """A password sign-in limited per account and per client address (numbers.ratelimit.LoginLimiter)."""

    def __init__(self, request: HttpRequest | None = None, *args: Any, **kwargs: Any) -> None:
        super().__init__(request, *args, **kwargs)
        self.limiter = LoginLimiter(request) if request is not None else None

    def clean(self) -> dict[str, Any]:
        username = self.cleaned_data.get("username")
        password = self.cleaned_data.get("password")
        if not username or not password:
            return self.cleaned_data
        # The sign-in views always bind the form with the request, which the limiter counts by.
        assert self.limiter is not None
        wait = self.limiter.blocked_for(username)
        if wait:
            # Refused before the password is checked: a locked account answers nothing about it.
            self._refused(username, "throttled", wait_seconds=wait)
            raise ValidationError(self.limiter.message(wait), code="throttled")
        self.user_cache = authenticate(self.request, username=username, password=password)
        if self.user_cache is None:
            self.limiter.failed(username)
            if self._inactive_with_right_password(username, password):
                self._refused(username, "inactive")
                raise ValidationError(
                    _("This account is switched off. Ask your operator administrator to switch it on."),
                    code="inactive",
                )
            self._refused(username, "wrong_password")
            raise self.get_invalid_login_error()
        self.confirm_login_allowed(self.user_cache)
        self.limiter.succeeded(username)
        return self.cleaned_data

    page = "staff"

    def _refused(self, username: str, reason: str, **extra: Any) -> None:
        metrics.SIGNIN_REFUSALS.labels(page=self.page, reason=reason).inc()
        address = client_address(self.request) if self.request is not None else None
        log.warning("sign-in refused", extra={"event": "signin_refused", "page": self.page, "reason": reason,
                                              "user": username[:150], "address": address, **extra})

    def is_throttled(self) -> bool:
        return any(e.code == "throttled" for e in self.non_field_errors().as_data())

    @staticmethod
    def _inactive_with_right_password(username: str, password: str) -> bool:
        user = get_user_model()._default_manager.filter(username=username, is_active=False).first()
        return user is not None and user.check_password(password)


class AdminLoginForm(LimitedLoginMixin, AdminAuthenticationForm):
    """The admin's sign-in, with the same limits, refusal and wait message as the staff pages'."""

    page = "admin"
