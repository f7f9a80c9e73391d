"""Unbind requests of active renewal: create, coalesce into deliveries, take results, time out.

An unbind request writes one task per platform in its own transaction: the
tasks are its outbox rows. The coalescer (a beat task every
UNBIND_COALESCE_SECONDS) claims each platform's unassigned tasks with a
conditional UPDATE into ONE `unbind.request` delivery of the batch-renewal
outbox, which sends, signs and retries it. So N requests within one window
become one delivery per platform.
"""

import logging
import uuid
from datetime import datetime, timedelta
from functools import partial
from itertools import groupby
from typing import Any

from django.conf import settings
from django.db import IntegrityError, connection, transaction
from django.db.models import Count, Exists, OuterRef, Q, QuerySet
from django.utils import timezone, translation
from django.utils.translation import gettext as _
from django.utils.translation import gettext_noop, ngettext, pgettext

from numbers import queueing
from numbers.errors import DomainError
from numbers.models import HolderPeriod, State
from renewal.active import outcomes, sms

# The reports' retention (renewal.active.reports), re-exported as the feature's public surface.
from renewal.active.reports import RetentionSummary as RetentionSummary
from renewal.active.reports import reports_retention_sweep as reports_retention_sweep
from renewal.deliveries.services import test_body, test_log_append, test_log_entry, unbind_deliveries_confirm
from renewal.errors import Conflict, NotFound
from renewal.models import (
    MAX_REPORTED_COUNT,
    REPORTABLE_RESULTS,
    Delivery,
    DeliveryEvent,
    DeliveryState,
    Platform,
    UnbindReason,
    UnbindRequest,
    UnbindResult,
    UnbindTask,
)

log = logging.getLogger(__name__)



class UnbindError(DomainError):
    code = "unbind_refused"


class TaskNotFound(DomainError):
    code = "not_found"


class AlreadyReported(DomainError):
    code = "already_reported"


# --- requests ---------------------------------------------------------------------------------


@transaction.atomic
def unbind_request_create(
    *, period: HolderPeriod, platform_ids: list[int] | None = None, now: datetime | None = None
) -> UnbindRequest:
    """Create a request with one task per chosen live platform (all of them when `platform_ids` is None).

    It queues nothing: the coalescer's beat tick claims the tasks. So a broker that cannot take a message (a full
    disk, a broker down) never refuses a subscriber's request; the request waits in the database until it can go.
    """
    now = now or timezone.now()
    # The period's row lock serialises two clicks of the same subscriber.
    period = HolderPeriod.objects.select_for_update().select_related("number").get(pk=period.pk)
    if period.ended_at is not None or period.number.state != State.ACTIVE:
        raise UnbindError(_("Your holding of this number has ended."), code="period_closed")
    if period.started_at is None:
        raise UnbindError(_("The start of your holding is unknown, so bindings cannot be removed safely."),
                          code="unknown_start")
    running = UnbindRequest.objects.running().filter(holder_period=period).first()
    if running is not None:
        raise UnbindError(_("Your request of %(at)s is still running. Wait until every platform has answered, "
                            "then you can send another.") % {"at": timezone.localtime(running.created_at)
                                                             .strftime("%Y-%m-%d %H:%M")},
                          code="already_running")
    platforms = Platform.objects.receiving()
    if platform_ids is not None:
        platforms = platforms.filter(pk__in=platform_ids)
    platform_ids = list(platforms.values_list("pk", flat=True))
    if not platform_ids:
        raise UnbindError(_("Choose at least one application or tag provider."), code="no_platforms")
    try:
        with transaction.atomic():
            request = UnbindRequest.objects.create(number=period.number, holder_period=period,
                                                   bound_before=period.started_at, created_at=now)
    except IntegrityError:  # a concurrent request won the one-running constraint
        raise UnbindError(_("A request for this number is already running."), code="already_running") from None
    deadline = now + timedelta(seconds=settings.UNBIND_ANSWER_DEADLINE_SECONDS)
    UnbindTask.objects.bulk_create(
        [UnbindTask(request=request, platform_id=pid, created_at=now, deadline_at=deadline) for pid in platform_ids]
    )
    return request


# --- results ----------------------------------------------------------------------------------

MAX_RESULT_ITEMS = 1000
DETAIL_MAX_CHARS = 500


class InvalidResult(DomainError):
    code = "validation_error"
    fields: dict[str, list[str]]

    def __init__(self, message: str, *, fields: dict[str, list[str]]):
        super().__init__(message)
        self.fields = fields


def _validate_result(status: object, accounts: object, reason: object, detail: object) -> dict[str, Any]:
    # The values come as the platform sent them (any JSON): checked here, one message per field.
    fields: dict[str, list[str]] = {}
    if status not in REPORTABLE_RESULTS:
        fields["status"] = [_("Must be one of: unbound, nothing_bound, rejected.")]
    if accounts is None:
        accounts = 0 if status != UnbindResult.UNBOUND else None
    if (accounts is None or isinstance(accounts, bool) or not isinstance(accounts, int)
            or not 0 <= accounts <= MAX_REPORTED_COUNT):
        fields["accounts"] = [_("A whole number from 0 to %(max)d (required when status is unbound).")
                              % {"max": MAX_REPORTED_COUNT}]
    if status == UnbindResult.REJECTED:
        if reason not in UnbindReason.values:
            fields["reason"] = [_("Required when status is rejected, one of: %(codes)s.")
                                % {"codes": ", ".join(UnbindReason.values)}]
    elif reason not in (None, ""):
        fields["reason"] = [_("Only a rejected task has a reason.")]
    if detail is None:
        detail = ""
    if not isinstance(detail, str) or len(detail) > DETAIL_MAX_CHARS:
        fields["detail"] = [_("Text of at most %(max)d characters.") % {"max": DETAIL_MAX_CHARS}]
    if fields:
        raise InvalidResult(_("The result is not valid."), fields=fields)
    assert isinstance(detail, str)  # checked above
    return {"status": status, "accounts": accounts, "reason": reason if status == UnbindResult.REJECTED else "",
            "detail": detail.strip()}


def _same_result(task: UnbindTask, data: dict[str, Any]) -> bool:
    # `detail` is free text: a repeat that words it differently is still the same result.
    return (task.result, task.accounts, task.reason) == (data["status"], data["accounts"], data["reason"])


def _apply_result(task: UnbindTask, data: dict[str, Any], now: datetime) -> bool:
    """Put the result on the task; return whether it changed (False for the same again); 409 if it differs."""
    if task.result in REPORTABLE_RESULTS:
        if _same_result(task, data):
            return False
        raise AlreadyReported(_("A different result was already reported for this task."))
    # A late answer replaces the portal's `no_answer`: the platform's word is the better record.
    task.result, task.accounts, task.reason, task.detail, task.reported_at = (
        data["status"], data["accounts"], data["reason"], data["detail"], now)
    return True


_RESULT_FIELDS = ["result", "accounts", "reason", "detail", "reported_at"]


def unbind_task_report(
    *, platform: Platform, task_id: uuid.UUID | str, status: object, accounts: object = None, reason: object = None,
    detail: object = None, now: datetime | None = None,
) -> UnbindTask:
    """Record a platform's result for its task; the same result again changes nothing, a different one is a 409.

    Only the task's row is locked, so platforms answering for one request never wait for each other.
    Whether that finished the request (or confirmed the delivery) is checked after commit: whichever
    answer commits last sees every other one, so exactly the right moment is caught without a lock.
    """
    now = now or timezone.now()
    data = _validate_result(status, accounts, reason, detail)
    with transaction.atomic():
        task = UnbindTask.objects.select_for_update().filter(pk=task_id, platform=platform).first()
        if task is None:  # unknown, or another platform's task: a 404, never a 403
            raise TaskNotFound(_("No such unbind task."))
        if _apply_result(task, data, now):
            task.save(update_fields=_RESULT_FIELDS)
            request_ids, delivery_id = [task.request_id], task.delivery_id
            transaction.on_commit(lambda: _finish(request_ids=request_ids, delivery_id=delivery_id, now=now))
    return task


def _item_error(index: int, error: DomainError) -> dict[str, Any]:
    body: dict[str, Any] = {"code": error.code, "message": error.message}
    fields = getattr(error, "fields", None)
    if fields:
        body["fields"] = fields
    return {"index": index, "error": body}


def _parse_item(item: object) -> tuple[uuid.UUID, dict[str, Any]]:
    if not isinstance(item, dict):
        raise InvalidResult(_("Each item is a JSON object."), fields={"item": [_("Send an object.")]})
    try:
        task_id = uuid.UUID(item.get("task_id")) if isinstance(item.get("task_id"), str) else None
    except ValueError:
        task_id = None
    bad_id = {"task_id": [_("The id of a task of this delivery.")]} if task_id is None else {}
    try:
        data = _validate_result(item.get("status"), item.get("accounts"), item.get("reason"), item.get("detail"))
    except InvalidResult as exc:
        exc.fields.update(bad_id)
        raise
    if task_id is None:
        raise InvalidResult(_("The result is not valid."), fields=bad_id)
    return task_id, data


def unbind_results_report(*, platform: Platform, delivery_id: uuid.UUID | str, items: list[object],
                          now: datetime | None = None) -> list[dict[str, Any]]:
    """Record the results of many tasks of one unbind delivery; answer each item, in request order.

    Set-based: one query locks the delivery's tasks named (in id order), one statement writes the changed ones,
    and after commit the requests they belong to are finished and the delivery confirmed when nothing is open.
    A task of another delivery or platform, or an unknown one, is an item `not_found`; a bad item is an item
    `validation_error`; a different result than the one recorded is an item `already_reported`.
    """
    now = now or timezone.now()
    delivery = Delivery.objects.filter(pk=delivery_id, platform=platform).only("pk", "event", "test").first()
    if delivery is None:
        raise NotFound(_("No such delivery."))
    if delivery.event != DeliveryEvent.UNBIND:
        error = Conflict(_("This is a batch delivery: confirm it with counts instead."), code="wrong_event")
        if delivery.test:
            test_log_append(delivery_id=delivery.pk, entry=test_log_entry(call="results", ok=False, code=error.code,
                                                                         message=error.message, now=now))
        raise error
    parsed: list[tuple[uuid.UUID, dict[str, Any]] | InvalidResult] = []
    for item in items:
        try:
            parsed.append(_parse_item(item))
        except InvalidResult as exc:
            parsed.append(exc)
    if delivery.test:
        return _test_results_report(delivery_id=delivery.pk, parsed=parsed, now=now)
    ids = {p[0] for p in parsed if isinstance(p, tuple)}
    answers: list[dict[str, Any]] = []
    with transaction.atomic():
        tasks = {t.pk: t for t in UnbindTask.objects.select_for_update().filter(delivery=delivery, pk__in=ids)
                 .order_by("pk")}
        changed: dict[uuid.UUID, UnbindTask] = {}
        for index, entry in enumerate(parsed):
            if isinstance(entry, InvalidResult):
                answers.append(_item_error(index, entry))
                continue
            task_id, data = entry
            task = tasks.get(task_id)
            try:
                if task is None:
                    raise TaskNotFound(_("No such unbind task in this delivery."))
                if _apply_result(task, data, now):
                    changed[task.pk] = task
            except DomainError as exc:
                answers.append(_item_error(index, exc))
                continue
            answers.append({"index": index, **result_answer(task)})
        if changed:
            _write_results(list(changed.values()))
            request_ids = sorted({t.request_id for t in changed.values()})
            transaction.on_commit(lambda: _finish(request_ids=request_ids, delivery_id=delivery.pk, now=now))
    return answers


def _test_results_report(*, delivery_id: uuid.UUID, parsed: list[tuple[uuid.UUID, dict[str, Any]] | InvalidResult],
                         now: datetime) -> list[dict[str, Any]]:
    """Results for a sandbox unbind request: checked as for real tasks, kept on the delivery row, logged.

    The delivery is confirmed once every task of its body has a result.
    """
    answers: list[dict[str, Any]] = []
    with transaction.atomic():
        delivery = Delivery.objects.select_for_update().get(pk=delivery_id)
        tasks = {t["task_id"] for t in test_body(delivery).get("tasks", [])}
        results = dict(delivery.test_results or {})
        for index, entry in enumerate(parsed):
            if isinstance(entry, InvalidResult):
                answers.append(_item_error(index, entry))
                continue
            task_id, data = entry
            key, recorded = str(task_id), results.get(str(task_id))
            if key not in tasks:
                answers.append(_item_error(index, TaskNotFound(_("No such unbind task in this delivery."))))
                continue
            if recorded is not None and (recorded["status"], recorded["accounts"], recorded["reason"]) != (
                    data["status"], data["accounts"], data["reason"]):
                answers.append(_item_error(index, AlreadyReported(
                    _("A different result was already reported for this task."))))
                continue
            if recorded is None:
                recorded = results[key] = {**data, "reported_at": timezone.localtime(now).isoformat()}
            answers.append({"index": index, "task_id": key, **{k: recorded[k] for k in
                                                                ("status", "accounts", "reason", "detail")},
                            "reported_at": recorded["reported_at"]})
        errors = [a["error"] for a in answers if "error" in a]
        delivery.test_results = results
        delivery.test_log = [*(delivery.test_log or []), test_log_entry(
            call="results", ok=not errors, code=errors[0]["code"] if errors else "", now=now,
            message=errors[0]["message"] if errors else "",
            data={"items": len(parsed), "refused": errors[:10]})][-50:]
        fields = ["test_results", "test_log"]
        if tasks and tasks <= set(results) and delivery.state not in (DeliveryState.CONFIRMED,
                                                                      DeliveryState.CANCELLED):
            delivery.state, delivery.confirmed_at = DeliveryState.CONFIRMED, now
            delivery.claimed_until = delivery.next_attempt_at = None
            fields += ["state", "confirmed_at", "claimed_until", "next_attempt_at"]
        delivery.save(update_fields=fields)
    return answers


def _write_results(tasks: list[UnbindTask]) -> None:
    """Write the tasks' results with one statement (bulk_update's CASE per field took seconds for 1,000 rows)."""
    table, pk = UnbindTask._meta.db_table, UnbindTask._meta.pk
    assert pk is not None
    rows = [[pk.get_db_prep_value(t.pk, connection), t.result, t.accounts, t.reason, t.detail,
             connection.ops.adapt_datetimefield_value(t.reported_at)] for t in tasks]
    with connection.cursor() as cursor:
        if connection.vendor == "postgresql":
            values = ", ".join(["(%s::uuid, %s, %s::int, %s, %s, %s::timestamptz)"] * len(rows))
            cursor.execute(
                f"UPDATE {table} t SET result = v.result, accounts = v.accounts, reason = v.reason, "
                f"detail = v.detail, reported_at = v.reported_at "
                f"FROM (VALUES {values}) AS v(id, result, accounts, reason, detail, reported_at) WHERE t.id = v.id",
                [x for row in rows for x in row])
        else:
            cursor.executemany(
                f"UPDATE {table} SET result = %s, accounts = %s, reason = %s, detail = %s, reported_at = %s "
                f"WHERE id = %s", [[*row[1:], row[0]] for row in rows])


def result_answer(task: UnbindTask) -> dict[str, Any]:
    """A recorded result as the API answers it."""
    return {"task_id": str(task.pk), "status": task.result, "accounts": task.accounts, "reason": task.reason,
            "detail": task.detail,
            "reported_at": timezone.localtime(task.reported_at).isoformat() if task.reported_at else None}


def _finish(*, request_ids: list[uuid.UUID], delivery_id: uuid.UUID | None, now: datetime) -> None:
    """Finish the requests and confirm the delivery if nothing in them is open any more (conditional updates)."""
    with transaction.atomic():  # one commit for both
        if _finish_requests(UnbindRequest.objects.filter(pk__in=request_ids), now):
            _summary_after_commit(list(UnbindRequest.objects.filter(pk__in=request_ids, finished_at=now)
                                       .values_list("pk", flat=True)))
        if delivery_id:
            unbind_deliveries_confirm(Delivery.objects.filter(pk=delivery_id), now)


SUMMARY_TASK = "renewal.active.unbind_summary_send_task"
# One SMS segment in zh-hans with the short link (a test checks it at its longest).
SUMMARY_SMS = gettext_noop("[Number renewal] Unbinding finished: %(unbound)d removed, %(nothing)d had none, "
                           "%(needs)d need you.")


def _summary_after_commit(request_ids: list[uuid.UUID]) -> None:
    # By name: the tasks module imports these services, not the other way round. A summary the broker refuses is
    # logged, not an error for the platform whose answer finished the request: the deadline sweep queues every
    # finished request's unsent summary again (unbind_summaries_due).
    def enqueue(request_id: str) -> None:
        queueing.enqueue_or_log(SUMMARY_TASK, request_id, queue="interactive")

    for request_id in request_ids:
        transaction.on_commit(partial(enqueue, str(request_id)))


def unbind_summaries_due(*, limit: int = 1000) -> int:
    """Enqueue the summary SMS of finished requests that have none yet (a lost message or a crash); return how many."""
    ids = list(UnbindRequest.objects.filter(finished_at__isnull=False, summary_sent_at__isnull=True)
               .order_by("finished_at").values_list("pk", flat=True)[:limit])
    with transaction.atomic():
        _summary_after_commit(ids)
    return len(ids)


def short_link(request: UnbindRequest) -> str:
    """PUBLIC_BASE_URL/r/<reference>, or "" when the portal's public address is not configured."""
    return f"{settings.PUBLIC_BASE_URL}/r/{request.reference}" if settings.PUBLIC_BASE_URL else ""


def summary_message(request: UnbindRequest, board: outcomes.Board) -> str:
    """One SMS segment: what was unbound, where nothing was bound, what needs the subscriber, and the link back."""
    counts = {"unbound": board.count(UnbindResult.UNBOUND), "nothing": board.count(UnbindResult.NOTHING_BOUND),
              "needs": board.count(outcomes.NEEDS_YOU)}
    text = _(SUMMARY_SMS) % counts
    link = short_link(request)
    return f"{text} {link}" if link else text


def unbind_summary_send(*, request_id: uuid.UUID | str, now: datetime | None = None) -> bool:
    """Text the holder the summary of a finished request, once; return whether this call sent it."""
    now = now or timezone.now()
    claimed = UnbindRequest.objects.filter(pk=request_id, finished_at__isnull=False,
                                           summary_sent_at__isnull=True).update(summary_sent_at=now)
    if not claimed:
        return False
    request = UnbindRequest.objects.select_related("number").get(pk=request_id)
    with translation.override(settings.LANGUAGE_CODE):
        body = summary_message(request, outcomes.board(request_tasks(request)))
    try:
        sms.get_backend().send(to=request.number.msisdn, body=body)
    except sms.SmsSendError:
        UnbindRequest.objects.filter(pk=request_id).update(summary_sent_at=None)  # the retry sends it
        raise
    return True


def _finish_requests(requests: QuerySet[UnbindRequest], now: datetime) -> int:
    return (requests.filter(finished_at__isnull=True)
            .exclude(Exists(UnbindTask.objects.filter(request=OuterRef("pk"), result=UnbindResult.PENDING)))
            .update(finished_at=now))




def unbind_deadline_sweep(*, now: datetime | None = None) -> int:
    """Make tasks past their deadline `no_answer`, then finish requests and confirm deliveries that are done.

    Each statement is its own transaction, so no lock is held across them.
    """
    now = now or timezone.now()
    # Separate statements, each its own transaction: no lock is held across them.
    timed_out = UnbindTask.objects.filter(result="", deadline_at__lte=now).update(
        result=UnbindResult.NO_ANSWER, reported_at=now)
    _finish_requests(UnbindRequest.objects.all(), now)
    unbind_summaries_due()
    # Repair after a crash between an answer's commit and its check: confirmed here.
    unbind_deliveries_confirm(Delivery.objects.all(), now)
    return timed_out


# --- what the subscriber sees -----------------------------------------------------------------


def task_status(task: UnbindTask) -> str:
    """waiting, sent, or the final result."""
    if task.result:
        return task.result
    if task.delivery is not None and task.delivery.sent_at is not None:
        return "sent"
    return "waiting"


def status_labels() -> dict[str, str]:
    return {
        "waiting": _("waiting"),
        "sent": _("sent, waiting for the answer"),
        UnbindResult.UNBOUND: _("unbound"),
        UnbindResult.NOTHING_BOUND: _("nothing was bound"),
        UnbindResult.REJECTED: _("rejected"),
        UnbindResult.NO_ANSWER: _("no answer"),
    }


def request_tasks(request: UnbindRequest) -> list[dict[str, Any]]:
    labels = status_labels()
    rows = []
    for task in request.tasks.select_related("platform", "delivery").order_by("platform__category",
                                                                               "platform__name"):
        status = task_status(task)
        label = labels[status]
        if status == UnbindResult.UNBOUND and task.accounts:
            label = ngettext("unbound (%(n)d account)", "unbound (%(n)d accounts)", task.accounts) % {
                "n": task.accounts}
        row: dict[str, Any] = {"id": str(task.pk), "platform": task.platform.name,
                               "category": task.platform.get_category_display(), "status": status, "label": label}
        if status in (UnbindResult.REJECTED, UnbindResult.NO_ANSWER):
            # The reason code, when the platform sent one; its own words only as the detail beneath.
            row["rejection"] = outcomes.rejection(status=status, reason=task.reason or "",
                                                  detail=task.detail, platform=task.platform)
        rows.append(row)
    return rows


def request_summary(rows: list[dict[str, Any]]) -> str:
    counts: dict[str, int] = {}
    for row in rows:
        counts[row["status"]] = counts.get(row["status"], 0) + 1
    parts = [
        ngettext("%(n)d platform unbound", "%(n)d platforms unbound", counts.get("unbound", 0)),
        ngettext("%(n)d had nothing bound", "%(n)d had nothing bound", counts.get("nothing_bound", 0)),
        ngettext("%(n)d rejected", "%(n)d rejected", counts.get("rejected", 0)),
        ngettext("%(n)d did not answer", "%(n)d did not answer", counts.get("no_answer", 0)),
    ]
    keys = ["unbound", "nothing_bound", "rejected", "no_answer"]
    text = pgettext("list separator", "; ").join(p % {"n": counts.get(k, 0)} for p, k in zip(parts, keys, strict=True))
    return _("Finished: %(parts)s.") % {"parts": text}


def request_progress(rows: list[dict[str, Any]]) -> str:
    done = sum(1 for r in rows if r["status"] not in ("waiting", "sent"))
    return _("%(done)d of %(total)d platforms have answered.") % {"done": done, "total": len(rows)}


def overview_context(period: HolderPeriod) -> dict[str, Any]:
    platforms = list(Platform.objects.receiving().order_by("category", "name"))
    groups = [(category, list(items)) for category, items in
              groupby(platforms, key=lambda p: p.get_category_display())]
    requests = list(UnbindRequest.objects.filter(holder_period=period)
                    .annotate(total=Count("tasks"), open=Count("tasks", filter=Q(tasks__result="")))
                    .order_by("-created_at")[:20])
    return {
        "platform_groups": groups,
        "platform_count": len(platforms),
        "unbind_requests": requests,
        "running_request": next((r for r in requests if r.finished_at is None), None),
    }


# --- tasks ------------------------------------------------------------------------------------






# --- call-outs of the sales pages (numbers.hooks) ---------------------------------------------


def sms_enqueue(to: str, body: str) -> None:
    """Send one SMS from the interactive queue once the current transaction commits (at once outside one).

    Raises QueueUnavailable when the broker refuses it: no sweep resends these, so the caller says it was not sent.
    """
    transaction.on_commit(lambda: queueing.enqueue("renewal.active.sms_send_task", to, body, queue="interactive"))


def unbind_on_allocation(period: HolderPeriod, renewal: dict[str, Any]) -> None:
    """A secondary number sold while its old accounts were still being removed: ask every platform to unbind for
    the new holder too (their bindings before this moment are the old holder's), in the allocation's transaction."""
    if renewal.get("state") == "complete":
        return
    try:
        unbind_request_create(period=period)
    except UnbindError as exc:
        if exc.code != "no_platforms":
            raise
