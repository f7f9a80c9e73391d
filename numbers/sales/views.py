"""Pages for sales staff: sign-in, the number book, allocation with disclosure, declined offers, receipts.

Every page is for active sales staff tied to an outlet (`sales_staff_required`), and every object URL
is scoped: numbers to the outlet's operator, receipts and records to the outlet itself (404 otherwise).
Views parse a form, call one service and render; the services own transactions and row locks.
"""

from datetime import datetime
from functools import wraps
from urllib.parse import urlencode

from django.conf import settings
from django.contrib import messages
from django.contrib.auth import login, logout, update_session_auth_hash
from django.contrib.auth.forms import PasswordChangeForm
from django.contrib.auth.views import PasswordResetConfirmView, redirect_to_login
from django.core.exceptions import ValidationError
from django.http import FileResponse, Http404
from django.shortcuts import redirect, render
from django.urls import reverse, reverse_lazy
from django.utils.http import url_has_allowed_host_and_scheme
from django.utils.translation import gettext as _
from django.views.decorators.cache import never_cache
from django.views.decorators.csrf import csrf_protect
from django.views.decorators.http import require_GET, require_http_methods, require_POST

from numbers import hooks
from numbers.errors import DomainError, NumberTaken, WrongOperator
from numbers.models import DeclinedOffer, HolderPeriod, PhoneNumber, State
from numbers.queueing import QueueUnavailable
from numbers.sales import selectors
from numbers.sales.forms import AllocateForm, BookSearchForm, DeclineForm, StaffLoginForm
from numbers.sales.services import disclosure_sms_copy_send
from numbers.services import number_allocate, number_offer_decline


def sales_staff_required(view):
    """Let in active sales staff with an outlet (as `request.outlet`); send others to sign in, or refuse them."""

    @wraps(view)
    def wrapper(request, *args, **kwargs):
        if not request.user.is_authenticated:
            return redirect_to_login(request.get_full_path(), reverse("staff:login"))
        outlet = selectors.staff_outlet(request.user)
        if outlet is None:
            return render(request, "staff/forbidden.html", status=403)
        request.outlet = outlet
        return view(request, *args, **kwargs)

    return never_cache(wrapper)


def _safe_next(request, fallback: str) -> str:
    target = request.POST.get("next") or request.GET.get("next") or ""
    if url_has_allowed_host_and_scheme(target, allowed_hosts={request.get_host()},
                                       require_https=request.is_secure()):
        return target
    return fallback


@never_cache
@csrf_protect
@require_http_methods(["GET", "POST"])
def login_view(request):
    book = reverse("staff:book")
    if request.method == "GET" and selectors.staff_outlet(request.user) is not None:
        return redirect(book)
    form = StaffLoginForm(request, data=request.POST or None)
    if request.method == "POST" and form.is_valid():
        login(request, form.get_user())
        return redirect(_safe_next(request, book))
    status = 429 if form.is_throttled() else 200
    return render(request, "staff/login.html", {"form": form, "next": _safe_next(request, "")}, status=status)


@require_POST
def logout_view(request):
    logout(request)
    messages.info(request, _("You are signed out."))
    return redirect("staff:login")


def _book_url(params: dict) -> str:
    params = {k: v for k, v in params.items() if v}
    return reverse("staff:book") + (f"?{urlencode(params)}" if params else "")


@require_GET
@sales_staff_required
def book(request):
    form = BookSearchForm(request.GET or None)
    page = None
    if not form.is_bound or form.is_valid():
        query = form.book_query() if form.is_bound else selectors.BookQuery()
        page = selectors.number_book_page(request.outlet.operator, query)
        base = {"q": query.digits, "match": query.match if query.digits else "", "kind": query.kind}
        rows = [{"number": n, "renewal": selectors.renewal_display(page.statuses.get(n.pk))} for n in page.numbers]
        context = {
            "rows": rows, "query": query,
            "next_url": _book_url({**base, "after": page.next_after}) if page.next_after else None,
            "prev_url": _book_url({**base, "before": page.prev_before}) if page.prev_before else None,
            "first_url": _book_url(base) if (query.after or query.before) else None,
        }
    else:
        context = {"rows": [], "query": None}
    return render(request, "staff/book.html", {"form": form, "outlet": request.outlet, **context})


def _outlet_number(request, pk: int) -> PhoneNumber:
    """Return a number of the outlet's operator, or 404: another operator's number does not exist here."""
    number = PhoneNumber.objects.select_related("range_holder").filter(
        pk=pk, range_holder=request.outlet.operator
    ).first()
    if number is None:
        raise Http404
    return number


def _taken(request):
    messages.error(request, _("This number was just taken or is no longer available. Choose another number."))
    return redirect("staff:book")


def _facts(number: PhoneNumber) -> dict:
    return {
        "disconnected_at": number.cancelled_at,
        "released_at": number.released_at,
        "renewal": selectors.renewal_display(hooks.renewal_status(number)) if number.is_secondary else None,
    }


@require_http_methods(["GET", "POST"])
@sales_staff_required
def number_offer(request, pk: int):
    """Offer one number: allocate it (with the disclosure when secondary) or record that the customer declines."""
    number = _outlet_number(request, pk)
    if number.state != State.AVAILABLE:
        return _taken(request)
    action = request.POST.get("action") if request.method == "POST" else None
    form = AllocateForm(request.POST if action == "allocate" else None, number=number)
    decline_form = DeclineForm(request.POST if action == "decline" else None)
    status, page_error = 200, None
    try:
        if action == "allocate" and form.is_valid():
            period = number_allocate(number=number, outlet=request.outlet, staff=request.user,
                                     customer_ref=form.cleaned_data["customer_ref"], disclosure=form.disclosure())
            messages.success(request, _("Number %(number)s allocated.") % {"number": number.national})
            return redirect("staff:receipt", pk=period.pk)
        if action == "decline" and decline_form.is_valid():
            number_offer_decline(number=number, outlet=request.outlet, staff=request.user,
                                 reason=decline_form.cleaned_data["reason"])
            messages.success(
                request, _("Declined offer of %(number)s recorded; the number stays available.")
                % {"number": number.national},
            )
            return redirect("staff:book")
    except NumberTaken:
        return _taken(request)
    except WrongOperator:
        raise Http404 from None
    except DomainError as error:  # the service's own refusal, e.g. a disclosure it does not accept
        (decline_form if action == "decline" else form).add_error(None, error.message)
    except ValidationError as error:  # the service re-checks the customer reference
        form.add_error("customer_ref", error)
    if action in ("allocate", "decline"):
        status = 400  # the form is shown again with what is missing; nothing was saved
    elif request.method == "POST":
        page_error = _("Nothing was saved: choose “Allocate this number” or “Customer declines”.")
        status = 400
    return render(request, "staff/offer.html", {
        "number": number, "facts": _facts(number), "form": form, "decline_form": decline_form,
        "outlet": request.outlet, "page_error": page_error,
    }, status=status)


def _parse(value: str | None) -> datetime | None:
    return datetime.fromisoformat(value) if value else None


def public_url(request, path: str) -> str:
    """The address a customer reaches `path` at: PUBLIC_BASE_URL, or this request's host when it is not set."""
    base = settings.PUBLIC_BASE_URL
    return f"{base}{path}" if base else request.build_absolute_uri(path)


def _receipt_period(request, pk: int) -> HolderPeriod:
    period = (
        HolderPeriod.objects.select_related("number", "disclosure", "outlet", "outlet__operator", "staff")
        .filter(pk=pk, outlet=request.outlet)
        .first()
    )
    if period is None:
        raise Http404
    return period


@require_GET
@sales_staff_required
def receipt(request, pk: int):
    period = _receipt_period(request, pk)
    facts = period.disclosure.facts if period.disclosure else {}
    context = {
        "period": period, "number": period.number, "disclosure": period.disclosure,
        "disconnected_at": _parse(facts.get("disconnected_at")), "released_at": _parse(facts.get("released_at")),
        "renewal": selectors.renewal_display(facts.get("renewal")) if period.disclosure else None,
        "portal_url": public_url(request, reverse("subscriber:start")),
        # The button's own label, from the same message as the button on the subscriber's page.
        "unbind_button": _("Unbind all"),
    }
    return render(request, "staff/receipt.html", context)


@require_GET
@sales_staff_required
def receipt_signature(request, pk: int):
    """The customer's signature on this outlet's receipt (the outlet's own staff, who took it)."""
    period = _receipt_period(request, pk)
    if period.disclosure is None or not period.disclosure.signature:
        raise Http404
    return signature_response(period.disclosure)


def signature_response(disclosure) -> FileResponse:
    response = FileResponse(disclosure.signature.open("rb"), content_type="image/png")
    response["X-Content-Type-Options"] = "nosniff"
    response["Cache-Control"] = "private, no-store"
    return response


@require_POST
@sales_staff_required
def receipt_sms(request, pk: int):
    """Send the disclosure's electronic copy to the customer's new number."""
    period = _receipt_period(request, pk)
    try:
        sent = disclosure_sms_copy_send(period=period, renew_url=public_url(request, reverse("subscriber:start")))
    except ValidationError as error:
        messages.error(request, error.messages[0])
    except QueueUnavailable:
        messages.error(request, _("The copy was not sent: the portal cannot queue an SMS just now. Try again in a "
                                  "few minutes; the printed receipt is valid as it is."))
    else:
        if sent:
            messages.success(request, _("A copy was sent by SMS to %(number)s.") % {"number": period.number.national})
        else:
            messages.info(request, _("A copy was sent less than a minute ago; it is on its way."))
    return redirect("staff:receipt", pk=period.pk)


@require_GET
@sales_staff_required
def outlet_records(request):
    """The outlet's recent allocations (with their receipts) and declined offers."""
    periods = (
        HolderPeriod.objects.filter(outlet=request.outlet).select_related("number", "staff")
        .order_by("-started_at", "-id")[:50]
    )
    declined = (
        DeclinedOffer.objects.filter(outlet=request.outlet).select_related("number", "staff")
        .order_by("-declined_at", "-id")[:50]
    )
    return render(request, "staff/records.html", {"periods": periods, "declined": declined,
                                                  "outlet": request.outlet})


# --- the clerk's own password ----------------------------------------------------------------------------------


@never_cache
@csrf_protect
@require_http_methods(["GET", "POST"])
@sales_staff_required
def password_change(request):
    """A clerk changes their own password (admin is not theirs); the session stays signed in."""
    form = PasswordChangeForm(request.user, request.POST or None)
    if request.method == "POST" and form.is_valid():
        form.save()
        update_session_auth_hash(request, form.user)
        messages.success(request, _("Your password was changed."))
        return redirect("staff:book")
    return render(request, "staff/password_change.html", {"form": form, "outlet": request.outlet},
                  status=400 if form.errors else 200)


class PasswordResetConfirm(PasswordResetConfirmView):
    """A one-time link from the clerk's operator administrator: the clerk sets a new password, then signs in."""

    template_name = "staff/password_reset.html"
    success_url = reverse_lazy("staff:login")
    post_reset_login = False

    def form_valid(self, form):
        messages.success(self.request, _("Your new password is set. Sign in with it."))
        return super().form_valid(form)
