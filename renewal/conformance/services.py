"""The sandbox and the conformance check: test events, the check itself, the go-live gate, dying live platforms.

Public surface (the platform account area and admin call these):

* `send_test_event(platform, actor)` — a signed `ping` through the outbox;
* `run_conformance_check(platform, actor)` — record a check as running and run it in a Celery task;
* `conformance_run(check_id=…)` — what the task runs: the steps, each with its evidence;
* `platform_go_live(platform=…, actor=…, as_owner=…)` — switch live, only after a passing check;
* `conformance_record_simulated(platform=…)` — the demo's platforms: a pass recorded against the simulator;
* `platforms_dying_flag()` — flag live platforms whose deliveries have kept dying for a day.

The check never reaches further than a delivery does: every POST goes through the outbox's client, which
refuses private, loopback and link-local addresses after resolving the name (renewal.deliveries.http).
"""

from __future__ import annotations

import logging
import secrets
import time
import uuid
from datetime import datetime, timedelta
from typing import Any

from django.conf import settings
from django.db import transaction
from django.db.models import Max, Min, Q
from django.utils import timezone
from django.utils.translation import gettext as _
from django.utils.translation import gettext_noop

from numbers import queueing
from numbers.audit import audit_record
from numbers.models import AuditAction
from numbers.services import Actor, actor_label
from renewal.deliveries import services as deliveries
from renewal.errors import Conflict, Invalid
from renewal.models import (
    ConformanceCheck,
    ConformanceSource,
    ConformanceState,
    Delivery,
    DeliveryAttempt,
    DeliveryState,
    Platform,
    PlatformStatus,
)
from renewal.platforms import services as platforms
from renewal.platforms.signing import InvalidSecret, signature_headers

log = logging.getLogger(__name__)

CHECK_TASK = "renewal.conformance.conformance_check_task"
QUERY_ONLY = "query_only"  # a site that only asks reassignment queries: no deliveries, no check
STALE_SECONDS = 600  # the stale probe's timestamp: twice the 300 s a receiver must refuse past
POLL_SECONDS = 0.2

# What each piece of evidence is (stored in English, shown in the page's language).
SIGNED_BATCH = gettext_noop("signed sandbox batch")
SIGNED_UNBIND = gettext_noop("signed unbind request")
FORGED = gettext_noop("forged signature")
STALE = gettext_noop("stale timestamp")
REPEAT = gettext_noop("the same delivery again (same webhook-id)")
CONFIRMATION = gettext_noop("confirmation through the API")
RESULTS = gettext_noop("unbind results through the API")
BATCH_CONFIRMED = gettext_noop("batch confirmed")
RESULTS_IN = gettext_noop("every unbind result in")
RECORDED = gettext_noop("recorded by the demo loader against the simulator (not run)")
NOT_IN_TIME = gettext_noop("not in time")

# Step names and titles (titles are translated where they are shown: the admin and the account area).
STEPS = {
    1: ("valid_batch", gettext_noop("A valid signed batch is answered 2xx within the read timeout")),
    2: ("bad_signatures", gettext_noop("A forged signature and a stale timestamp are each answered 4xx")),
    3: ("repeat", gettext_noop("The same delivery sent twice ends confirmed with one chunk's counts, "
                               "no confirmation refused")),
    4: ("api_answers", gettext_noop("The confirmation and the unbind results arrive through the API in time, "
                                    "with valid reasons")),
}
PULL_STEPS = {
    3: ("pull_confirm", gettext_noop("The sandbox batch is read with GET /api/v1/deliveries and confirmed with "
                                     "one chunk's counts, no confirmation refused")),
    4: ("api_answers", STEPS[4][1]),
}


def needs_check(platform: Platform) -> bool:
    return platform.kind != QUERY_ONLY


def _refuse_unless_sandbox(platform: Platform) -> None:
    if not needs_check(platform):
        raise Invalid(_("A query-only site receives no deliveries and needs no conformance check."),
                      code="not_applicable")
    if platform.status != PlatformStatus.SANDBOX:
        raise Conflict(_("Only a platform in the sandbox can be checked: sandbox traffic never goes to a live or "
                         "suspended platform."), code="not_in_sandbox")


# --- test events -----------------------------------------------------------------------------------------


def send_test_event(platform: Platform, actor: Actor = None) -> Delivery:
    """Send the platform a signed `ping` through the outbox; audited. Refused for suspended and query-only ones."""
    if not needs_check(platform):
        raise Invalid(_("A query-only site receives no deliveries."), code="not_applicable")
    if platform.status == PlatformStatus.SUSPENDED:
        raise Conflict(_("A suspended platform receives nothing."), code="suspended")
    with transaction.atomic():
        delivery = deliveries.ping_send(platform=platform)
        audit_record(actor=actor, action=AuditAction.TEST_EVENT, obj=platform,
                     detail={"delivery": str(delivery.pk), "event": delivery.event})
    return delivery


# --- the check ---------------------------------------------------------------------------------------------


def run_conformance_check(platform: Platform, actor: Actor = None) -> ConformanceCheck:
    """Record a check of the platform as running and run it in the background (a Celery task); audited.

    One check at a time per platform: another is refused while one is running.
    """
    with transaction.atomic():
        platform = Platform.objects.select_for_update().get(pk=platform.pk)
        _refuse_unless_sandbox(platform)
        now = timezone.now()
        if ConformanceCheck.objects.filter(platform=platform, state=ConformanceState.RUNNING,
                                           started_at__gt=now - _longest()).exists():
            raise Conflict(_("A conformance check of this platform is already running."), code="already_running")
        check = ConformanceCheck.objects.create(
            platform=platform, started_at=now, requested_by=actor_label(actor)[:150],
            variant="pull" if platform.is_pull_only else "push", webhook_url=platform.webhook_url)
        audit_record(actor=actor, action=AuditAction.CONFORMANCE_CHECK, obj=platform, at=now,
                     detail={"check": check.pk, "variant": check.variant})
        check_id = check.pk
        transaction.on_commit(lambda: _check_enqueue(check_id=check_id))
    return check


def _check_enqueue(*, check_id: int) -> None:
    """Queue the check's task; if the broker refuses it, finish the check as failed and raise QueueUnavailable.

    A check left running without a task would refuse every new check until it counted as lost (minutes): finished
    as failed, with no step run, it lets the engineer run the check again at once, and it never counts as a pass.
    """
    try:
        queueing.enqueue(CHECK_TASK, check_id)
    except queueing.QueueUnavailable as exc:
        ConformanceCheck.objects.filter(pk=check_id, state=ConformanceState.RUNNING).update(
            state=ConformanceState.FAILED, finished_at=timezone.now())
        raise queueing.QueueUnavailable(_("The conformance check could not be started: the portal's task queue "
                                          "cannot take work just now. Nothing was sent to your platform; run the "
                                          "check again in a few minutes.")) from exc


def _longest() -> timedelta:
    """The longest a check can run: a running check older than this was lost (a killed worker)."""
    return timedelta(seconds=settings.CONFORMANCE_TIME_LIMIT_SECONDS + settings.CONFORMANCE_SETTLE_SECONDS
                     + 4 * (settings.RENEWAL_CONNECT_TIMEOUT + settings.RENEWAL_READ_TIMEOUT) + 60)


def conformance_run(*, check_id: int) -> ConformanceCheck | None:
    """Run a recorded check's steps and record each one's evidence; a finished or unknown check is left alone."""
    check = ConformanceCheck.objects.select_related("platform").filter(
        pk=check_id, state=ConformanceState.RUNNING).first()
    if check is None:
        return None
    run = _Run(check)
    try:
        steps = run.pull() if check.variant == "pull" else run.push()
    finally:
        deliveries.test_deliveries_cancel(ids=run.delivery_ids)
    applicable = [s for s in steps if s["passed"] is not None]
    check.state = (ConformanceState.PASSED if applicable and all(s["passed"] for s in applicable)
                   else ConformanceState.FAILED)
    check.steps, check.finished_at = steps, timezone.now()
    check.save(update_fields=["steps", "state", "finished_at"])
    failed = check.first_failed_step
    log.info("conformance check %s of platform %s: %s%s", check.pk, check.platform_id, check.state,
             f" (step {failed['step']}: {failed['name']})" if failed else "")
    return check


def _step(number: int, *, passed: bool | None, expected: str, evidence: list[dict[str, Any]], failure: str = "",
          pull: bool = False) -> dict[str, Any]:
    name, title = (PULL_STEPS if pull and number in PULL_STEPS else STEPS)[number]
    return {"step": number, "name": name, "title": title, "passed": passed, "expected": expected,
            "evidence": evidence, "failure": failure if passed is False else ""}


def _answer_evidence(what: str, answer: Any) -> dict[str, Any]:
    return {"what": what, "status_code": answer.status, "latency_ms": answer.latency_ms, "error": answer.error[:300]}


class _Run:
    """The steps of one check; each appends its evidence (status code, latency, what was expected)."""

    def __init__(self, check: ConformanceCheck) -> None:
        self.check = check
        self.platform = check.platform
        self.delivery_ids: list[uuid.UUID] = []

    def _deliveries(self) -> tuple[Delivery, Delivery]:
        batch, unbind = deliveries.sandbox_deliveries_create(
            platform=self.platform, numbers=settings.CONFORMANCE_BATCH_NUMBERS, tasks=settings.CONFORMANCE_UNBIND_TASKS)
        self.delivery_ids += [batch.pk, unbind.pk]
        return batch, unbind

    # --- push (a webhook URL) ---

    def push(self) -> list[dict[str, Any]]:
        batch, unbind = self._deliveries()
        steps = [self._valid_batch(batch)]
        try:
            keys = platforms.platform_signing_keys(self.platform)
        except InvalidSecret as exc:
            keys, no_keys = [], str(exc)
        else:
            no_keys = ""
        steps.append(self._bad_signatures(batch, keys, no_keys))
        repeat = self._repeat_post(batch, keys)
        sent_unbind = self._send(unbind, SIGNED_UNBIND)
        waited = self._wait_for_answers(batch, unbind)
        steps.append(self._repeat_step(batch, repeat, waited))
        steps.append(self._answers_step(batch, unbind, waited, sent_unbind))
        return steps

    def _send(self, delivery: Delivery, what: str) -> dict[str, Any]:
        """One attempt through the outbox (signed, the address rules of send time); its DeliveryAttempt."""
        deliveries.delivery_send(delivery_id=delivery.pk)
        attempt = DeliveryAttempt.objects.filter(delivery=delivery).order_by("-started_at", "-id").first()
        if attempt is None:
            return {"what": what, "status_code": None, "latency_ms": None,
                    "error": "not sent (the platform is at its in-flight limit, or not in the sandbox)"}
        return {"what": what, "status_code": attempt.status_code, "latency_ms": attempt.latency_ms,
                "error": attempt.error[:300]}

    def _valid_batch(self, batch: Delivery) -> dict[str, Any]:
        evidence = self._send(batch, SIGNED_BATCH)
        limit_ms = int(settings.RENEWAL_READ_TIMEOUT * 1000)
        code, latency = evidence["status_code"], evidence["latency_ms"]
        passed = code is not None and 200 <= code < 300 and latency is not None and latency <= limit_ms
        failure = "" if passed else (
            _("No 2xx answer: %(error)s") % {"error": evidence["error"] or code} if not (code and 200 <= code < 300)
            else _("Answered after %(ms)d ms, past the read timeout of %(limit)d ms.") % {"ms": latency,
                                                                                          "limit": limit_ms})
        return _step(1, passed=passed, evidence=[evidence], failure=failure,
                     expected=_("2xx within %(limit)d ms") % {"limit": limit_ms})

    def _bad_signatures(self, batch: Delivery, keys: list[bytes], no_keys: str) -> dict[str, Any]:
        body, msg_id = batch.body.encode(), str(batch.pk)
        probes = [(FORGED, signature_headers(keys=[secrets.token_bytes(32)], msg_id=msg_id, body=body))]
        if keys:
            probes.append((STALE, signature_headers(
                keys=keys, msg_id=msg_id, body=body, timestamp=int(time.time()) - STALE_SECONDS)))
        evidence = [_answer_evidence(what, deliveries.webhook_post(platform=self.platform, delivery=batch,
                                                                   headers=headers)) for what, headers in probes]
        wrong = [e for e in evidence if not (e["status_code"] and 400 <= e["status_code"] < 500)]
        failure = no_keys or "; ".join(
            _("%(what)s answered %(answer)s") % {"what": _(e["what"]), "answer": e["status_code"] or e["error"]}
            for e in wrong)
        return _step(2, passed=not wrong and not no_keys, evidence=evidence, failure=failure,
                     expected=_("4xx to each (any 2xx fails)"))

    def _repeat_post(self, batch: Delivery, keys: list[bytes]) -> dict[str, Any]:
        if not keys:
            return {"what": REPEAT, "status_code": None, "latency_ms": None,
                    "error": "cannot sign"}
        headers = signature_headers(keys=keys, msg_id=str(batch.pk), body=batch.body.encode())
        return _answer_evidence(REPEAT,
                                deliveries.webhook_post(platform=self.platform, delivery=batch, headers=headers))

    def _wait_for_answers(self, batch: Delivery, unbind: Delivery) -> dict[str, Any]:
        """Wait (up to the time limit) for the batch's confirmation and every unbind result, then listen a little
        longer for a repeated or refused call; return the two rows as they ended and when each was answered."""
        started = timezone.now()
        deadline = time.monotonic() + settings.CONFORMANCE_TIME_LIMIT_SECONDS
        settle_until = None
        while True:
            rows = {d.pk: d for d in Delivery.objects.filter(pk__in=[batch.pk, unbind.pk])}
            done = all(rows[pk].state == DeliveryState.CONFIRMED for pk in (batch.pk, unbind.pk))
            now = time.monotonic()
            if done and settle_until is None:
                settle_until = now + settings.CONFORMANCE_SETTLE_SECONDS
            if (settle_until is not None and now >= settle_until) or (settle_until is None and now >= deadline):
                break
            time.sleep(POLL_SECONDS)
        return {"batch": rows[batch.pk], "unbind": rows[unbind.pk], "since": started}

    def _confirm_evidence(self, row: Delivery, since: datetime) -> tuple[list[dict[str, Any]], list[dict[str, Any]]]:
        calls = [c for c in row.test_log or [] if c["call"] == "confirm"]
        refused = [c for c in calls if not c["ok"]]
        evidence = [{"what": CONFIRMATION, "status_code": 200 if c["ok"] else None,
                     "latency_ms": None, "error": "" if c["ok"] else f"{c['code']}: {c['message']}",
                     "data": c["data"], "at": c["at"]} for c in calls]
        return evidence, refused

    def _repeat_step(self, batch: Delivery, repeat: dict[str, Any], waited: dict[str, Any]) -> dict[str, Any]:
        row: Delivery = waited["batch"]
        size = len(deliveries.test_body(row).get("numbers", []))
        calls, refused = self._confirm_evidence(row, waited["since"])
        repeat_ok = bool(repeat["status_code"] and 200 <= repeat["status_code"] < 300)
        confirmed = row.state == DeliveryState.CONFIRMED
        passed = repeat_ok and confirmed and not refused
        failure = ""
        if not repeat_ok:
            failure = _("The repeat was not acknowledged with a 2xx: %(answer)s") % {
                "answer": repeat["status_code"] or repeat["error"]}
        elif refused:
            failure = _("%(n)d confirmation(s) refused, the first: %(code)s %(message)s") % {
                "n": len(refused), "code": refused[0]["code"], "message": refused[0]["message"]}
        elif not confirmed:
            failure = _("The batch was never confirmed.")
        return _step(3, passed=passed, evidence=[repeat, *calls], failure=failure,
                     expected=_("2xx to the repeat; confirmed once with unbound + not_found = %(n)d; no refused "
                                "confirmation") % {"n": size})

    def _answers_step(self, batch: Delivery, unbind: Delivery, waited: dict[str, Any],
                      sent: dict[str, Any] | None, pull: bool = False) -> dict[str, Any]:
        b, u = waited["batch"], waited["unbind"]
        limit = settings.CONFORMANCE_TIME_LIMIT_SECONDS
        results_calls = [c for c in u.test_log or [] if c["call"] == "results"]
        refused = [c for c in results_calls if not c["ok"]]
        tasks = len(deliveries.test_body(u).get("tasks", []))
        evidence = [] if sent is None else [sent]
        for row, what in ((b, BATCH_CONFIRMED), (u, RESULTS_IN)):
            evidence.append({"what": what, "status_code": None, "error": "" if row.confirmed_at else NOT_IN_TIME,
                             "latency_ms": _ms(row.confirmed_at - waited["since"]) if row.confirmed_at else None})
        evidence += [{"what": RESULTS, "status_code": 200, "latency_ms": None,
                      "error": "" if c["ok"] else f"{c['code']}: {c['message']}", "data": c["data"], "at": c["at"]}
                     for c in results_calls]
        in_time = b.state == DeliveryState.CONFIRMED and u.state == DeliveryState.CONFIRMED
        passed = in_time and not refused
        failure = ""
        if refused:
            first = (refused[0]["data"] or {}).get("refused") or [{}]
            failure = _("Results refused: %(code)s %(fields)s") % {
                "code": refused[0]["code"], "fields": first[0].get("error", {}).get("fields", "")}
        elif b.state != DeliveryState.CONFIRMED:
            failure = _("No confirmation of the batch within %(s)g s.") % {"s": limit}
        elif u.state != DeliveryState.CONFIRMED:
            failure = _("Results for %(got)d of %(n)d unbind tasks within %(s)g s.") % {
                "got": len(u.test_results or {}), "n": tasks, "s": limit}
        return _step(4, passed=passed, evidence=evidence, failure=failure, pull=pull,
                     expected=_("within %(s)g s: the batch confirmed, %(n)d task results through "
                                "POST /api/v1/deliveries/{id}/results, every reason from the vocabulary")
                     % {"s": limit, "n": tasks})

    # --- pull (no webhook URL) ---

    def pull(self) -> list[dict[str, Any]]:
        batch, unbind = self._deliveries()
        waited = self._wait_for_answers(batch, unbind)
        row = waited["batch"]
        size = len(deliveries.test_body(row).get("numbers", []))
        calls, refused = self._confirm_evidence(row, waited["since"])
        confirmed = row.state == DeliveryState.CONFIRMED
        failure = (_("%(n)d confirmation(s) refused, the first: %(code)s %(message)s") % {
            "n": len(refused), "code": refused[0]["code"], "message": refused[0]["message"]} if refused
            else "" if confirmed else _("The batch was never read and confirmed."))
        na = _("Not applicable: a pull-only platform receives no webhooks.")
        return [
            _step(1, passed=None, expected=na, evidence=[]),
            _step(2, passed=None, expected=na, evidence=[]),
            _step(3, passed=confirmed and not refused, evidence=calls, failure=failure, pull=True,
                  expected=_("confirmed once with unbound + not_found = %(n)d; no refused confirmation")
                  % {"n": size}),
            self._answers_step(batch, unbind, waited, None, pull=True),
        ]


def _ms(delta: timedelta) -> int:
    return max(0, int(delta.total_seconds() * 1000))


# --- going live -------------------------------------------------------------------------------------------


def platform_go_live(*, platform: Platform, actor: Actor = None, as_owner: bool = False) -> Platform:
    """Switch the platform live; refused unless its last check passed (renewal.platforms.services says why).

    `as_owner`: the platform's owner asks from the account area, allowed only with PLATFORM_OWNER_MAY_GO_LIVE.
    """
    if as_owner and not settings.PLATFORM_OWNER_MAY_GO_LIVE:
        raise Conflict(_("A renewal-platform administrator switches platforms live: ask them once your check has "
                         "passed."), code="owner_may_not_go_live")
    return platforms.platform_set_status(platform=platform, status=PlatformStatus.LIVE, actor=actor)


def conformance_record_simulated(*, platform: Platform, actor: Actor = "demo") -> ConformanceCheck:
    """Record a passing check of a demo platform against the simulator, without running it (demo data only).

    The record says so (`source` "recorded"): the demo's platforms are the simulator's, which `make run` starts
    after the data is loaded, and which the tests check against for real (tests/renewal/conformance).
    """
    now = timezone.now()
    pull = platform.is_pull_only
    note = [{"what": RECORDED, "status_code": None,
             "latency_ms": None, "error": ""}]
    steps = [_step(n, passed=None if pull and n < 3 else True, expected="", evidence=note, pull=pull)
             for n in (1, 2, 3, 4)]
    return ConformanceCheck.objects.create(
        platform=platform, started_at=now, finished_at=now, state=ConformanceState.PASSED,
        source=ConformanceSource.RECORDED,
        variant="pull" if pull else "push", requested_by=actor_label(actor)[:150], steps=steps,
        webhook_url=platform.webhook_url)


# --- live platforms whose deliveries keep dying ------------------------------------------------------------


def platforms_dying_flag(*, now: datetime | None = None) -> list[int]:
    """Flag live platforms with dead deliveries and no 2xx answer for PLATFORM_DYING_HOURS; clear the others.

    A platform is flagged from its first failed attempt after its last 2xx (or ever), once that is at least
    PLATFORM_DYING_HOURS old. Returns the ids newly flagged (administrators see them in the platform list).
    """
    now = now or timezone.now()
    since = now - timedelta(hours=settings.PLATFORM_DYING_HOURS)
    ok = Q(status_code__gte=200, status_code__lt=300)
    live_dead = Platform.objects.filter(status=PlatformStatus.LIVE, deliveries__state=DeliveryState.DEAD,
                                        deliveries__test=False).distinct()
    last_ok = dict(DeliveryAttempt.objects.filter(ok, platform__in=live_dead).order_by().values("platform_id")
                   .annotate(at=Max("started_at")).values_list("platform_id", "at"))
    dying: dict[int, datetime] = {}
    for platform_id in live_dead.values_list("pk", flat=True):
        failed = DeliveryAttempt.objects.filter(platform_id=platform_id).exclude(ok)
        if platform_id in last_ok:
            failed = failed.filter(started_at__gt=last_ok[platform_id])
        first = failed.aggregate(at=Min("started_at"))["at"]
        if first is not None and first <= since:
            dying[platform_id] = first
    with transaction.atomic():
        Platform.objects.filter(dying_since__isnull=False).exclude(pk__in=list(dying)).update(dying_since=None)
        new = list(Platform.objects.filter(pk__in=list(dying), dying_since__isnull=True).values_list("pk", flat=True))
        for platform_id, first in dying.items():
            Platform.objects.filter(pk=platform_id).update(dying_since=first)
    for platform_id in new:
        log.warning("live platform %s: every delivery attempt failed since %s; flagged to administrators",
                    platform_id, dying[platform_id].isoformat())
    return new
