"""The public registration page and the platform account area (/platform/).

Every page of the area is for a signed-in engineer of one platform (`engineer_required`), and every object is
looked up through that platform: another platform's key or delivery answers 404. Views parse a form, call one
service and render; the services own transactions and write the audit trail.
"""

from typing import Any

from csp.decorators import csp_update
from django.conf import settings
from django.contrib import messages
from django.contrib.auth.views import PasswordResetConfirmView
from django.core.exceptions import ValidationError
from django.core.paginator import Paginator
from django.http import Http404, HttpResponse
from django.shortcuts import get_object_or_404, redirect, render
from django.urls import reverse, reverse_lazy
from django.utils.translation import gettext as _
from django.views.decorators.cache import never_cache
from django.views.decorators.csrf import csrf_protect
from django.views.decorators.http import require_http_methods, require_POST

from numbers import two_factor
from numbers.queueing import QueueUnavailable
from numbers.ratelimit import Limit, client_address, hit
from renewal.conformance import selectors as conformance
from renewal.conformance import services as conformance_services
from renewal.deliveries.services import delivery_retry
from renewal.errors import Conflict, Invalid
from renewal.models import ApiKey, Delivery, DeliveryState
from renewal.onboarding import selectors, services, session
from renewal.onboarding.forms import (
    AlertForm,
    CodeForm,
    DeliveryFilterForm,
    InviteForm,
    KeyForm,
    PlatformLoginForm,
    RegistrationForm,
    SettingsForm,
)
from renewal.onboarding.tokens import set_password_tokens
from renewal.platforms import services as platforms

_REGISTER_LIMIT_NAME = "platform_register"


def _base_url(request: Any) -> str:
    return request.build_absolute_uri("/")


def _invalid(form: Any, exc: Invalid | ValidationError) -> None:
    fields = getattr(exc, "fields", {}) or {}
    for name, errors in fields.items():
        for error in errors:
            form.add_error(name if name in form.fields else None, error)
    if not fields:
        form.add_error(None, exc.message if isinstance(exc, Invalid) else exc.messages[0])


# --- registration -----------------------------------------------------------------------------------------


@csrf_protect
@require_http_methods(["GET", "POST"])
def register(request: Any) -> HttpResponse:
    """The public page where an application's engineers ask to join (nothing is saved from a bad form)."""
    form = RegistrationForm(request.POST or None)
    if request.method == "POST":
        limit = Limit(_REGISTER_LIMIT_NAME, settings.PLATFORM_REGISTRATIONS_PER_ADDRESS_HOUR, 3600)
        refusal = hit(limit, client_address(request))
        if refusal is not None:
            minutes = max(1, refusal.retry_after // 60)
            form = RegistrationForm(request.POST)
            response = render(request, "platform/register.html", {
                "form": form, "throttled": _("Too many registrations from this address. Try again in %(minutes)d "
                                             "minutes.") % {"minutes": minutes}}, status=429)
            response["Retry-After"] = str(refusal.retry_after)
            return response
        if form.is_valid():
            data = form.cleaned_data
            services.registration_submit(data=services.RegistrationInput(
                organisation=data["organisation"], platform_name=data["platform_name"],
                contact_name=data["contact_name"], contact_email=data["contact_email"],
                contact_phone=data["contact_phone"], categories=list(data["categories"]), kind=data["kind"],
                webhook_url=data["webhook_url"], support_phone=data["support_phone"],
                support_url=data["support_url"]), address=client_address(request))
            return redirect("platform:register_done")
    return render(request, "platform/register.html", {"form": form}, status=400 if form.errors else 200)


def register_done(request: Any) -> HttpResponse:
    return render(request, "platform/register_done.html")


# --- signing in ---------------------------------------------------------------------------------------------


@never_cache
@csrf_protect
@require_http_methods(["GET", "POST"])
def login_view(request: Any) -> HttpResponse:
    if request.method == "GET" and session.current_account(request) is not None:
        return redirect("platform:overview")
    form = PlatformLoginForm(request, data=request.POST or None)
    if request.method == "POST" and form.is_valid():
        user = form.get_user()
        session.sign_in(request, user.platform_account, verified=getattr(user, "otp_device", None) is not None)
        return redirect("platform:overview")
    status = 429 if form.is_bound and form.is_throttled() else 200
    return render(request, "platform/login.html", {"form": form}, status=status)


@require_POST
def logout_view(request: Any) -> HttpResponse:
    session.sign_out(request)
    messages.info(request, _("You are signed out."))
    return redirect("platform:login")


class SetPasswordView(PasswordResetConfirmView):
    """The single-use link of an approved registration or an invitation: set a password, then sign in."""

    template_name = "platform/set_password.html"
    token_generator = set_password_tokens
    success_url = reverse_lazy("platform:login")
    post_reset_login = False
    reset_url_token = "set-password"

    def get_user(self, uidb64: str) -> Any:
        user = super().get_user(uidb64)
        return user if user is not None and hasattr(user, "platform_account") else None

    def form_valid(self, form: Any) -> HttpResponse:
        services.engineer_password_set(user=form.user, password=form.cleaned_data["new_password1"],
                                       address=client_address(self.request))
        messages.success(self.request, _("Your password is set. Sign in, then set up your authenticator app."))
        return redirect(self.success_url)


def _two_factor_context(request: Any, account: Any) -> dict[str, Any]:
    device = two_factor.totp_device_start(user=account.user)
    return {"qr": two_factor.totp_qr_data_uri(device), "secret": two_factor.totp_secret(device),
            "must_enrol": two_factor.must_enrol(account.user)}


@never_cache
@csrf_protect
@csp_update({"img-src": ["data:"]})  # the QR code, drawn here, on this page alone
@require_http_methods(["GET", "POST"])
def two_factor_view(request: Any) -> HttpResponse:
    """Set up the authenticator app: required before anything else (unless the demo relaxes it)."""
    account = session.current_account(request)
    if account is None:
        return redirect("platform:login")
    user = account.user
    if two_factor.is_enrolled(user):
        if not request.session.get(session.VERIFIED):
            session.sign_out(request)  # enrolled: only a sign-in with a code gets in
            return redirect("platform:login")
        return render(request, "platform/two_factor.html", {"account": account, "enrolled": True,
                                                            "codes_left": two_factor.recovery_codes_left(user)})
    form = CodeForm(request.POST or None)
    if form.is_bound and form.is_valid():
        code = "".join(form.cleaned_data["code"].split())
        enrolment = two_factor.two_factor_enrol(user=user, token=code, address=client_address(request))
        if enrolment is not None:
            session.mark_verified(request)
            return render(request, "platform/two_factor.html", {
                "account": account, "enrolled": True, "recovery_codes": enrolment.recovery_codes})
        form.add_error("code", _("That code is not right. Check the app shows the account just added, and enter "
                                 "its current code."))
    return render(request, "platform/two_factor.html", {"account": account, "form": form,
                                                        **_two_factor_context(request, account)},
                  status=400 if form.errors else 200)


# --- the account area ----------------------------------------------------------------------------------------


@session.engineer_required
def overview(request: Any) -> HttpResponse:
    account = request.account
    platform = account.platform
    counts = {state: platform.deliveries.filter(state=state).count()
              for state in (DeliveryState.PENDING, DeliveryState.DEAD)}
    return render(request, "platform/overview.html", {
        "account": account, "platform": platform, "pending": counts[DeliveryState.PENDING],
        "dead": counts[DeliveryState.DEAD], "keys": selectors.platform_keys(platform).filter(
            revoked_at__isnull=True).count(),
        "enrolled": two_factor.is_enrolled(account.user),
        "needs_check": conformance_services.needs_check(platform), "check": conformance.last_check(platform),
        "steps": conformance.last_check_steps(platform),
        "may_go_live": account.is_owner and settings.PLATFORM_OWNER_MAY_GO_LIVE})


def _sandbox_action(request: Any, action: Any, done: str) -> HttpResponse:
    """Run one of the sandbox's actions for the engineer's platform; say what happened or why it was refused."""
    try:
        action(request.account.platform, request.account.user)
    except (Invalid, Conflict, QueueUnavailable) as exc:
        messages.error(request, str(exc))
    else:
        messages.success(request, done)
    return redirect(reverse("platform:overview") + "#conformance")


@session.engineer_required
@csrf_protect
@require_POST
def test_event(request: Any) -> HttpResponse:
    return _sandbox_action(request, conformance_services.send_test_event,
                           _("A signed ping is on its way to your webhook URL: see it in the delivery log."))


@session.engineer_required
@csrf_protect
@require_POST
def check_run(request: Any) -> HttpResponse:
    return _sandbox_action(request, conformance_services.run_conformance_check,
                           _("The conformance check is running: reload this page in a minute to see each step."))


@session.engineer_required
@csrf_protect
@require_POST
def go_live(request: Any) -> HttpResponse:
    if not request.account.is_owner:
        raise Http404  # only the owner sees the button

    def live(platform: Any, user: Any) -> None:
        conformance_services.platform_go_live(platform=platform, actor=user, as_owner=True)

    return _sandbox_action(request, live, _("Your platform is live: it now receives real batches."))


@session.engineer_required
@csrf_protect
@require_http_methods(["GET", "POST"])
def keys(request: Any) -> HttpResponse:
    """The platform's API keys; a new key is shown on this answer only (it is never stored)."""
    account = request.account
    form = KeyForm(request.POST or None)
    raw = None
    if form.is_bound and form.is_valid():
        _key, raw = platforms.api_key_create(platform=account.platform, name=form.cleaned_data["name"],
                                             actor=account.user)
        form = KeyForm()
    return render(request, "platform/keys.html", {
        "account": account, "form": form, "new_key": raw, "keys": selectors.platform_keys(account.platform)},
        status=400 if form.errors else 200)


@session.engineer_required
@csrf_protect
@require_POST
def key_revoke(request: Any, pk: int) -> HttpResponse:
    key = get_object_or_404(ApiKey, pk=pk, platform=request.account.platform)
    platforms.api_key_revoke(key=key, actor=request.account.user)
    messages.success(request, _("The key %(prefix)s… is revoked.") % {"prefix": key.prefix})
    return redirect("platform:keys")


@session.engineer_required
@csrf_protect
@require_http_methods(["GET", "POST"])
def secret(request: Any) -> HttpResponse:
    """Rotate the signing secret: the new one is shown once; the old one keeps signing for the overlap."""
    account = request.account
    new = None
    if request.method == "POST":
        new = platforms.platform_rotate_secret(platform=account.platform, actor=account.user)
        account.platform.refresh_from_db()
    return render(request, "platform/secret.html", {
        "account": account, "platform": account.platform, "new_secret": new,
        "overlap_hours": settings.RENEWAL_SECRET_OVERLAP_HOURS})


@session.engineer_required
@csrf_protect
@require_http_methods(["GET", "POST"])
def platform_settings(request: Any) -> HttpResponse:
    account = request.account
    platform = account.platform
    initial = {"webhook_url": platform.webhook_url, "max_in_flight": platform.max_in_flight}
    form = SettingsForm(request.POST or None, initial=initial)
    if form.is_bound and form.is_valid():
        try:
            services.platform_settings_change(account=account, changes=form.cleaned_data)
        except (Invalid, ValidationError) as exc:
            _invalid(form, exc)
        else:
            messages.success(request, _("The settings are saved."))
            return redirect("platform:settings")
    return render(request, "platform/settings.html", {"account": account, "form": form},
                  status=400 if form.errors else 200)


@session.engineer_required
def deliveries(request: Any) -> HttpResponse:
    """The delivery log: every delivery with its last attempt's status code, latency and error."""
    account = request.account
    form = DeliveryFilterForm(request.GET or None)
    state = form.cleaned_data["state"] if form.is_valid() else ""
    page = Paginator(selectors.platform_deliveries(account.platform, state=state), 50).get_page(
        request.GET.get("page"))
    rows = list(page.object_list)
    latest = selectors.last_attempts(account.platform, rows)
    return render(request, "platform/deliveries.html", {
        "account": account, "form": form, "page": page, "state": state,
        "rows": [(delivery, latest.get(delivery.pk)) for delivery in rows]})


def _delivery(request: Any, pk: Any) -> Delivery:
    return get_object_or_404(Delivery, pk=pk, platform=request.account.platform)


@session.engineer_required
def delivery(request: Any, pk: Any) -> HttpResponse:
    item = _delivery(request, pk)
    return render(request, "platform/delivery.html", {
        "account": request.account, "delivery": item, "attempts": selectors.delivery_attempts(item)[:50],
        "dead": item.state == DeliveryState.DEAD})


@session.engineer_required
@csrf_protect
@require_POST
def delivery_redeliver(request: Any, pk: Any) -> HttpResponse:
    item = _delivery(request, pk)
    if item.state != DeliveryState.DEAD:
        raise Http404  # only a dead delivery is sent again
    delivery_retry(delivery=item, actor=request.account.user)
    messages.success(request, _("The delivery will be sent again now."))
    return redirect("platform:delivery", pk=item.pk)


@session.engineer_required
@csrf_protect
@require_http_methods(["GET", "POST"])
def alerts(request: Any) -> HttpResponse:
    account = request.account
    alert = getattr(account.platform, "alert", None)
    form = AlertForm(request.POST or None, initial={"email": getattr(alert, "email", ""),
                                                    "phone": getattr(alert, "phone", "")})
    if form.is_bound and form.is_valid():
        services.alert_set(account=account, email=form.cleaned_data["email"], phone=form.cleaned_data["phone"])
        messages.success(request, _("The alert settings are saved."))
        return redirect("platform:alerts")
    return render(request, "platform/alerts.html", {"account": account, "form": form},
                  status=400 if form.errors else 200)


@session.engineer_required
@csrf_protect
@require_http_methods(["GET", "POST"])
def team(request: Any) -> HttpResponse:
    """The platform's engineers; its owner invites more (an e-mailed set-password link)."""
    account = request.account
    form = InviteForm(request.POST or None)
    if form.is_bound:
        if not account.is_owner:
            raise Http404
        if form.is_valid():
            try:
                services.engineer_invite(account=account, email=form.cleaned_data["email"],
                                         base_url=_base_url(request))
            except Invalid as exc:
                _invalid(form, exc)
            else:
                messages.success(request, _("The invitation is sent."))
                return redirect("platform:team")
    return render(request, "platform/team.html", {
        "account": account, "form": form, "accounts": selectors.platform_accounts(account.platform)},
        status=400 if form.errors else 200)
