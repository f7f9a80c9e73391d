"""Sign-in, limited per account and per client address: the staff pages' and the admin's alike.

Every sign-in and every refused one is written to the audit trail (who, from where, why refused). The
admin's form adds the second factor (numbers.two_factor): a wrong code counts against the same limits as
a wrong password, and the account's count is cleared only when both factors passed.
"""

import logging
from typing import TYPE_CHECKING, Any

from django import forms
from django.contrib.admin.forms import AdminAuthenticationForm
from django.contrib.auth import authenticate, get_user_model
from django.contrib.auth.forms import AuthenticationForm
from django.core.exceptions import ValidationError
from django.http import HttpRequest
from django.utils.translation import gettext as _
from django.utils.translation import gettext_lazy

from numbers import metrics, two_factor
from numbers.audit import audit_record
from numbers.models import AuditAction
from numbers.ratelimit import LoginLimiter, client_address

if TYPE_CHECKING:
    from django.contrib.auth.models import User

    # What the mixin's methods call on `self` and `super()`; at run time it is a plain class.
    _LoginFormMixin = AuthenticationForm
else:
    _LoginFormMixin = object


log = logging.getLogger("numbers.signin")


class LimitedLoginMixin(_LoginFormMixin):
    """A password sign-in limited per account and per client address (numbers.ratelimit.LoginLimiter)."""

    # Which sign-in page, as the audit trail names it.
    audit_site = "staff"

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
            self._audit_refused(username, "throttled", wait_seconds=wait)
            raise ValidationError(self.limiter.message(wait), code="throttled")
        self.user_cache = authenticate(self.request, username=username, password=password)
        if self.user_cache is None:
            self.limiter.failed(username)
            if self._inactive_with_right_password(username, password):
                self._audit_refused(username, "inactive")
                raise ValidationError(
                    _("This account is switched off. Ask your operator administrator to switch it on."),
                    code="inactive",
                )
            self._audit_refused(username, "wrong_password")
            raise self.get_invalid_login_error()
        try:
            self.confirm_login_allowed(self.user_cache)
        except ValidationError as exc:
            self._audit_refused(username, exc.code or "not_allowed")
            raise
        self.clean_second_factor(self.user_cache, username)
        self.limiter.succeeded(username)
        audit_record(actor=self.user_cache, action=AuditAction.SIGN_IN, address=self._address(),
                     detail={"site": self.audit_site, "second_factor": self.second_factor_used()})
        return self.cleaned_data

    def clean_second_factor(self, user: "User", username: str) -> None:
        """Check a second factor after the password; the staff pages have none."""

    def second_factor_used(self) -> str:
        return ""

    def is_throttled(self) -> bool:
        return any(e.code == "throttled" for e in self.non_field_errors().as_data())

    def _address(self) -> str:
        return client_address(self.request) if self.request is not None else ""

    def _audit_refused(self, username: str, reason: str, **extra: Any) -> None:
        """Count, log and audit a refused sign-in."""
        metrics.SIGNIN_REFUSALS.labels(page=self.audit_site, reason=reason).inc()
        log.warning("sign-in refused", extra={"event": "signin_refused", "page": self.audit_site, "reason": reason,
                                              "user": username[:150], "address": self._address(), **extra})
        audit_record(actor=None, actor_name=username, action=AuditAction.SIGN_IN_REFUSED, address=self._address(),
                     detail={"site": self.audit_site, "reason": reason})

    @staticmethod
    def _inactive_with_right_password(username: str, password: str) -> bool:
        user = get_user_model()._default_manager.filter(username=username, is_active=False).first()
        return user is not None and user.check_password(password)


class AdminLoginForm(LimitedLoginMixin, AdminAuthenticationForm):
    """The admin's sign-in: the same limits, refusal and wait message as the staff pages', and the code step."""

    audit_site = "admin"
    otp_token = forms.CharField(
        label=gettext_lazy("Code"), required=False, max_length=32, strip=True,
        help_text=gettext_lazy("The 6-digit code of your authenticator app, or one of your recovery codes. "
                               "Leave it empty if you have not set up two-factor sign-in yet."),
        widget=forms.TextInput(attrs={"autocomplete": "one-time-code", "autocapitalize": "none",
                                      "spellcheck": "false"}),
    )

    def clean_second_factor(self, user: "User", username: str) -> None:
        assert self.limiter is not None
        # Set before any refusal: django-otp's sign-in handler reads it (None: signed in without a second factor).
        user.otp_device = None  # type: ignore[attr-defined]
        if not two_factor.is_enrolled(user):
            return  # the admin site decides whether a password alone is enough for this account's role
        token = self.cleaned_data.get("otp_token") or ""
        if not token.strip():
            self._audit_refused(username, "code_missing")
            raise ValidationError(_("Enter the code of your authenticator app, or one of your recovery codes."),
                                  code="code_required")
        try:
            device = two_factor.second_factor_verify(user=user, token=token)
        except two_factor.CodeThrottled:
            device = None
        if device is None:
            self.limiter.failed(username)
            self._audit_refused(username, "code")
            raise ValidationError(
                _("That code is not right, or was used already. Enter the current code of your authenticator "
                  "app, or an unused recovery code."), code="invalid_code")
        user.otp_device = device  # type: ignore[attr-defined]

    def second_factor_used(self) -> str:
        device = getattr(self.user_cache, "otp_device", None)
        if device is None:
            return ""
        return "recovery_code" if device.__class__.__name__ == "StaticDevice" else "authenticator_app"
