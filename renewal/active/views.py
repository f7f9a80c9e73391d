"""The subscriber's pages: sign in with an SMS code, the renewal page, unbind requests, harassment reports."""

import errno
import logging
import time
from functools import wraps

from django.conf import settings
from django.contrib import messages
from django.contrib.auth.decorators import login_required
from django.core.cache import cache
from django.http import FileResponse, Http404, HttpResponseForbidden, JsonResponse
from django.shortcuts import get_object_or_404, redirect, render
from django.template.loader import render_to_string
from django.utils import timezone
from django.utils.translation import get_language, ngettext
from django.utils.translation import gettext as _
from django.views.decorators.http import require_http_methods, require_POST

from numbers import metrics, queueing, ratelimit, roles
from numbers.access import SUPERUSER, account_role
from numbers.audit import audit_record
from numbers.models import AuditAction, HolderPeriod, State
from numbers.phone import format_national
from renewal.active import outcomes
from renewal.active import services as unbind
from renewal.active.forms import CodeForm, NumberForm, ReportForm, evidence_previewable
from renewal.active.reports import evidence_storage, harassment_report_create
from renewal.active.sms import VerifyResult, sms_code_verify
from renewal.active.tasks import sms_code_send_task
from renewal.models import Evidence, HarassmentReport, ReportAuthority, UnbindRequest

log = logging.getLogger(__name__)

SESSION_PENDING = "renew_pending"
SESSION_SUBSCRIBER = "renew_subscriber"
SESSION_NEXT = "renew_next"


def _limits():
    # The day's count starts again at local midnight, as "a day" reads on the page.
    midnight = int(timezone.localtime().utcoffset().total_seconds())
    return {
        # "One a minute" on the page is one in any 60 seconds, never two across a window's edge.
        "number_minute": ratelimit.Limit("sms-number-minute", settings.SMS_LIMIT_PER_NUMBER_MINUTE, 60),
        "number_day": ratelimit.Limit("sms-number-day", settings.SMS_LIMIT_PER_NUMBER_DAY, 86400, offset=midnight),
        "address_hour": ratelimit.Limit("sms-address-hour", settings.SMS_LIMIT_PER_ADDRESS_HOUR, 3600),
    }


def _wait(seconds: int) -> str:
    if seconds < 90:
        return ngettext("%(n)d second", "%(n)d seconds", seconds) % {"n": seconds}
    if seconds < 5400:
        minutes = (seconds + 59) // 60
        return ngettext("%(n)d minute", "%(n)d minutes", minutes) % {"n": minutes}
    hours = (seconds + 3599) // 3600
    return ngettext("%(n)d hour", "%(n)d hours", hours) % {"n": hours}


def _refusal_message(refusal: ratelimit.Refusal) -> str:
    wait = _wait(refusal.retry_after)
    if refusal.limit.name == "sms-address-hour":
        return _("Too many codes were requested from your network. Wait %(wait)s, then try again.") % {"wait": wait}
    if refusal.limit.name == "sms-number-day":
        return _("Too many codes were requested for this number today. Wait %(wait)s, then try again, "
                 "or ask your operator's service desk for help.") % {"wait": wait}
    return _("A code was requested for this number a moment ago. Use the code from that SMS, or wait "
             "%(wait)s before requesting a new one.") % {"wait": wait}


def sms_promise() -> str:
    """What the start page promises, from the same settings as the limits it describes."""
    minute, day = settings.SMS_LIMIT_PER_NUMBER_MINUTE, settings.SMS_LIMIT_PER_NUMBER_DAY
    per_minute = ngettext("at most %(n)d code a minute", "at most %(n)d codes a minute", minute) % {"n": minute}
    per_day = ngettext("%(n)d a day (counted from midnight)", "%(n)d a day (counted from midnight)", day) % {"n": day}
    return _("We send a code only to numbers in service: %(minute)s and %(day)s for each number.") % {
        "minute": per_minute, "day": per_day}


def _start_page(request, form, status=200):
    pending = request.session.get(SESSION_PENDING)
    return render(request, "subscriber/start.html", {
        "form": form, "promise": sms_promise(),
        "pending": format_national(pending) if pending else None}, status=status)


def _verify_fail_key(msisdn: str) -> str:
    return f"sms-verify-fail:{msisdn}"


# --- sign-in ---------------------------------------------------------------------------------


@require_http_methods(["GET", "POST"])
def start(request):
    """Ask for the number; answer every number the same, at once, and send a code in the background."""
    if request.method == "GET":
        pending = request.session.get(SESSION_PENDING)
        typed = request.GET.get("msisdn", "")[:32] or (format_national(pending) if pending else "")
        return _start_page(request, NumberForm(initial={"msisdn": typed}))
    limits, now = _limits(), time.time()
    form = NumberForm(request.POST)
    checks = [(limits["address_hour"], ratelimit.client_address(request))]
    valid = form.is_valid()
    if valid:
        msisdn = form.cleaned_data["msisdn"]
        checks += [(limits["number_day"], msisdn)]
    refusal = ratelimit.hit_all(checks, now=now)  # counted whatever the number, valid or not
    if not valid:
        return _start_page(request, form, status=400)
    if refusal is None:
        refusal = ratelimit.hit_sliding(limits["number_minute"], msisdn, now=now)
    if refusal:
        form.add_error("msisdn", _refusal_message(refusal))
        # The code already sent still works: the page leads back to where it is entered.
        request.session[SESSION_PENDING] = msisdn
        response = _start_page(request, form, status=429)
        response["Retry-After"] = str(refusal.retry_after)
        return response
    try:
        queueing.enqueue(sms_code_send_task.name, msisdn, get_language())
    except queueing.QueueUnavailable:
        # No code will be sent, so this request takes nothing from the subscriber's limits, and the code sent
        # before (if any) keeps its count of wrong tries. The answer is the same for every number.
        for limit, key in checks:
            ratelimit.uncount(limit, key, now=now)
        ratelimit.release_sliding(limits["number_minute"], msisdn, now=now)
        form.add_error(None, _("The portal cannot send codes just now: no code was sent, and this request does not "
                               "count against your limits. Please try again in a few minutes."))
        response = _start_page(request, form, status=503)
        response["Retry-After"] = str(queueing.RETRY_AFTER_SECONDS)
        return response
    # A new code is on its way: its wrong tries count from zero.
    cache.set(_verify_fail_key(msisdn), 0, timeout=settings.SMS_CODE_TTL_SECONDS)
    request.session[SESSION_PENDING] = msisdn
    return redirect("subscriber:verify")


@require_http_methods(["GET", "POST"])
def verify(request):
    msisdn = request.session.get(SESSION_PENDING)
    if not msisdn:
        return redirect("subscriber:start")
    form = CodeForm(request.POST or None)
    status = 200
    if request.method == "POST" and form.is_valid():
        result = sms_code_verify(msisdn=msisdn, code=form.cleaned_data["code"])
        period = None
        if result == VerifyResult.OK:
            period = HolderPeriod.objects.filter(
                number__msisdn=msisdn, number__state=State.ACTIVE, ended_at__isnull=True).first()
        if period is not None:
            request.session.cycle_key()  # a new session id at sign-in: no session fixation
            request.session.pop(SESSION_PENDING, None)
            request.session[SESSION_SUBSCRIBER] = {"msisdn": msisdn, "period": period.pk, "seen": time.time()}
            # Came from a short link in an SMS: to that request, if it is this holding's.
            reference = request.session.pop(SESSION_NEXT, None)
            target = UnbindRequest.objects.filter(reference=reference, holder_period=period).first()
            if target is not None:
                return redirect("subscriber:request_detail", pk=target.pk)
            return redirect("subscriber:overview")
        # Count failures in the cache for every number, so a number not in service answers the same.
        key = _verify_fail_key(msisdn)
        cache.add(key, 0, timeout=settings.SMS_CODE_TTL_SECONDS)
        try:
            failures = cache.incr(key)
        except ValueError:
            failures = settings.SMS_CODE_MAX_TRIES
        reason = "locked" if result == VerifyResult.LOCKED or failures >= settings.SMS_CODE_MAX_TRIES else "wrong_code"
        metrics.SIGNIN_REFUSALS.labels(page="subscriber", reason=reason).inc()
        log.warning("sign-in refused", extra={"event": "signin_refused", "page": "subscriber", "reason": reason,
                                              "msisdn": msisdn, "address": ratelimit.client_address(request)})
        if reason == "locked":
            form.add_error("code", _("That code was wrong too many times and no longer works. Request a new code."))
        else:
            left = settings.SMS_CODE_MAX_TRIES - failures
            form.add_error("code", ngettext(
                "This code is wrong or has expired. Check the latest SMS; %(left)d try left.",
                "This code is wrong or has expired. Check the latest SMS; %(left)d tries left.", left) % {"left": left})
        status = 400
    elif request.method == "POST":
        status = 400
    return render(request, "subscriber/verify.html", {"form": form, "msisdn": msisdn,
                                                      "national": format_national(msisdn)}, status=status)


@require_POST
def logout(request):
    request.session.flush()
    messages.info(request, _("You are signed out."))
    return redirect("subscriber:start")


def subscriber_required(view):
    """Let in a verified subscriber whose holding is still open and who was active recently."""

    @wraps(view)
    def wrapper(request, *args, **kwargs):
        data = request.session.get(SESSION_SUBSCRIBER)
        now = time.time()
        if not data:
            return redirect("subscriber:start")
        period = (HolderPeriod.objects.select_related("number")
                  .filter(pk=data["period"], ended_at__isnull=True, number__state=State.ACTIVE).first())
        if now - data["seen"] > settings.SUBSCRIBER_IDLE_SECONDS:
            request.session.flush()
            messages.info(request, _("You were signed out after a while without activity. Sign in again."))
            return redirect("subscriber:start")
        if period is None:
            request.session.flush()
            messages.info(request, _("Your holding of this number has ended, so you were signed out."))
            return redirect("subscriber:start")
        data["seen"] = now
        request.session[SESSION_SUBSCRIBER] = data
        request.period, request.number = period, period.number
        return view(request, *args, **kwargs)

    return wrapper


# --- the renewal page ------------------------------------------------------------------------


def _overview_context(request) -> dict:
    return {
        "period": request.period,
        "number": request.number,
        "reports": HarassmentReport.objects.filter(holder_period=request.period).order_by("-created_at")[:20],
        **unbind.overview_context(request.period),
    }


@subscriber_required
def overview(request):
    return render(request, "subscriber/overview.html", _overview_context(request))


# --- harassment reports ----------------------------------------------------------------------


@subscriber_required
@require_http_methods(["GET", "POST"])
def report_create(request):
    # An empty POST is a submission too (it gets every field's error), not a fresh form.
    form = ReportForm(request.POST, request.FILES) if request.method == "POST" else ReportForm()
    if request.method == "POST":
        if form.is_valid():
            data = form.cleaned_data
            try:
                report = harassment_report_create(
                    period=request.period, category=data["category"], sender=data["sender"],
                    occurred_at=data["occurred_at"], description=data["description"], files=data["evidence"])
            except OSError as exc:
                if exc.errno != errno.ENOSPC:
                    raise
                # Nothing was kept (the report's transaction rolled back, its files removed): say so and let the
                # subscriber send it again later.
                log.error("harassment report not stored: the disk is full")
                form.add_error(None, _("The portal cannot store files right now, so your report was not saved. "
                                       "Please try again later."))
                return render(request, "subscriber/report_form.html", {"form": form}, status=503)
            return redirect("subscriber:report_detail", reference=report.reference)
        return render(request, "subscriber/report_form.html", {"form": form}, status=400)
    return render(request, "subscriber/report_form.html", {"form": form})


@subscriber_required
def report_detail(request, reference: str):
    # Only the reports of this holding: anyone else's is a 404, never a 403.
    report = get_object_or_404(HarassmentReport, reference=reference, holder_period=request.period)
    return render(request, "subscriber/report_detail.html", {
        "report": report, "files": report.evidence.all(),
        "authorities": ReportAuthority.objects.filter(category=report.category)})


@login_required
def evidence_file(request, pk):
    """Stream one evidence file to a regulator (never served from the web root)."""
    return _evidence_response(request, pk, inline=False)


@login_required
def evidence_preview(request, pk):
    """Show an image of the evidence in the page: inline only for JPEG, PNG and WebP whose bytes say so; any other
    file (SVG, which can carry script, included) is a download, whatever its stored type."""
    return _evidence_response(request, pk, inline=True)


def _evidence_response(request, pk, *, inline: bool):
    if account_role(request.user) not in (SUPERUSER, roles.REGULATOR):
        return HttpResponseForbidden(_("Evidence files are for regulators only."))
    evidence = get_object_or_404(Evidence.objects.select_related("report"), pk=pk)
    storage = evidence_storage()
    if not storage.exists(evidence.path):
        raise Http404
    audit_record(actor=request.user, action=AuditAction.EVIDENCE_DOWNLOAD, obj=evidence,
                 address=ratelimit.client_address(request),
                 detail={"report": evidence.report.reference, "file": evidence.original_name, "inline": inline})
    source = storage.open(evidence.path, "rb")
    head = source.read(16)
    source.seek(0)
    shown = inline and evidence_previewable(evidence, head)
    response = FileResponse(source, content_type=evidence.content_type if shown or not inline
                            else "application/octet-stream", as_attachment=not shown, filename=evidence.original_name)
    response["X-Content-Type-Options"] = "nosniff"
    # Opened in a browser (a PDF, an image), the file runs no script and reaches nothing of the portal's origin:
    # it is the subscriber's.
    response["Content-Security-Policy"] = "sandbox"
    response["Cache-Control"] = "private, no-store"
    return response


# --- unbind requests -------------------------------------------------------------------------


@subscriber_required
@require_POST
def unbind_create(request):
    platform_ids = None
    if "all" not in request.POST:
        try:
            platform_ids = [int(v) for v in request.POST.getlist("platforms")]
        except ValueError:
            platform_ids = []
    try:
        created = unbind.unbind_request_create(period=request.period, platform_ids=platform_ids)
    except unbind.UnbindError as exc:
        messages.error(request, exc.message)
        return redirect("subscriber:overview")
    return redirect("subscriber:request_detail", pk=created.pk)


def _own_request(request, pk):
    # Only the requests of this holding: anyone else's is a 404.
    return get_object_or_404(UnbindRequest, pk=pk, holder_period=request.period)


def _request_context(request, unbind_request) -> dict:
    rows = unbind.request_tasks(unbind_request)
    board = outcomes.board(rows)
    final = unbind_request.finished_at is not None
    return {"unbind_request": unbind_request, "rows": rows, "board": board, "sections": board.sections(),
            "final": final, "number": request.number, "progress": unbind.request_progress(rows),
            "summary": unbind.request_summary(rows) if final else ""}


@subscriber_required
def request_detail(request, pk):
    return render(request, "subscriber/request_detail.html", _request_context(request, _own_request(request, pk)))


@subscriber_required
def request_status(request, pk):
    context = _request_context(request, _own_request(request, pk))
    return JsonResponse({
        "final": context["final"], "tasks": context["rows"], "progress": context["progress"],
        "done": context["board"].done, "total": context["board"].total, "summary": context["summary"],
        # The grouped board as the page renders it, so the page and its updates never differ.
        "html": render_to_string("subscriber/_board.html", context, request=request),
    }, headers={"Cache-Control": "no-store"})


@subscriber_required
def request_proof(request, pk):
    """A page to print or save: the reference, the times, and every platform's outcome."""
    context = _request_context(request, _own_request(request, pk))
    context["printed_at"] = timezone.now()
    return render(request, "subscriber/request_proof.html", context)


def short_link(request, reference: str):
    """PUBLIC_BASE_URL/r/<reference> from the summary SMS: the request, after sign-in if need be.

    Every reference answers alike to someone not signed in (to the sign-in page), so the link tells nothing.
    """
    data = request.session.get(SESSION_SUBSCRIBER)
    if data:
        target = UnbindRequest.objects.filter(reference=reference[:12], holder_period_id=data.get("period")).first()
        if target is not None:
            return redirect("subscriber:request_detail", pk=target.pk)
    request.session[SESSION_NEXT] = reference[:12]
    messages.info(request, _("Sign in with your number to see your unbind request."))
    return redirect("subscriber:start")
