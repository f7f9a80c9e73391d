"""The platform account area's own sign-in scope: keys of the session, never Django's signed-in user.

A platform engineer signed in here is nobody to admin, the staff pages or the subscriber pages (request.user
stays anonymous), and a staff or admin sign-in is nobody here. A changed password ends every such session
(the account's session hash is kept and compared, as Django does for its own sign-in).
"""

from __future__ import annotations

from functools import wraps
from typing import Any

from django.contrib.auth.views import redirect_to_login
from django.shortcuts import redirect
from django.urls import reverse
from django.utils.crypto import constant_time_compare
from django.views.decorators.cache import never_cache

from numbers import access, roles, two_factor
from renewal.models import PlatformAccount

ACCOUNT = "platform:account"
HASH = "platform:hash"
VERIFIED = "platform:verified"


def sign_in(request: Any, account: PlatformAccount, *, verified: bool) -> None:
    request.session.cycle_key()  # a new session id at every sign-in (fixation)
    request.session[ACCOUNT] = account.pk
    request.session[HASH] = account.user.get_session_auth_hash()
    request.session[VERIFIED] = verified


def mark_verified(request: Any) -> None:
    request.session[VERIFIED] = True


def sign_out(request: Any) -> None:
    for key in (ACCOUNT, HASH, VERIFIED):
        request.session.pop(key, None)
    request.session.cycle_key()


def current_account(request: Any) -> PlatformAccount | None:
    """Return the signed-in engineer's account (with its platform), or None."""
    pk = request.session.get(ACCOUNT)
    if not pk:
        return None
    account = (PlatformAccount.objects.select_related("platform", "user")
               .filter(pk=pk, user__is_active=True).first())
    if account is None or not constant_time_compare(request.session.get(HASH, ""),
                                                     account.user.get_session_auth_hash()):
        sign_out(request)
        return None
    if access.account_role(account.user) != roles.PLATFORM_ENGINEER:
        return None  # a mixed account (another role too) gets nowhere
    return account


def engineer_required(view: Any) -> Any:
    """Let in a signed-in platform engineer (as `request.account`), enrolled in two-factor sign-in unless the demo
    relaxes that; send others to this area's sign-in."""

    @wraps(view)
    def wrapper(request: Any, *args: Any, **kwargs: Any) -> Any:
        account = current_account(request)
        if account is None:
            return redirect_to_login(request.get_full_path(), reverse("platform:login"))
        user = account.user
        if not request.session.get(VERIFIED) and (two_factor.is_enrolled(user) or two_factor.must_enrol(user)):
            return redirect("platform:two_factor")
        request.account = account
        return view(request, *args, **kwargs)

    return never_cache(wrapper)
