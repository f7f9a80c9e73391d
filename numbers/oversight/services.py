"""Risk lists from the authorities: the oversight feature's public surface.

An authority (fraud, harassing marketing) sends a list of numbers; a regulator pastes it (up to
MAX_PASTED_LINES lines) or uploads it (up to MAX_UPLOAD_BYTES) and names the terms. `risk_list_submit`
stores the list and queues a background task; `risk_list_apply` runs it on the staging machinery
(numbers/staging.py), so a list of millions of lines keeps memory flat and runs at the database's speed:

1. the lines stream into a staging table, each number already in E.164 (or rejected: invalid_msisdn);
2. set-based SQL resolves the numbers (unknown_number) and marks identical lines as duplicates;
3. chunks of numbers, in id order, each in one transaction under row locks: lines whose mark with the same
   terms is already in force are counted (already_applied), an extension of a never-used number is refused
   (no_freeze), then one mark per number and one event per number are written by INSERT … SELECT and the
   numbers' freeze and state are recomputed with one UPDATE, by the same rules as `risk_mark_place`;
4. the counts and the per-line report (line, number, code) are read back from the staging table.
The page polls `risk_list_progress` (done/total per chunk). Submitting the same list again changes nothing:
every line is then already applied.
"""

from __future__ import annotations

import io
import os
import re
import uuid
from collections.abc import Iterable, Iterator
from datetime import datetime, timedelta
from typing import IO, TYPE_CHECKING, Any

import phonenumbers
from django.conf import settings
from django.core.files.base import ContentFile, File
from django.db import connection, models, transaction
from django.utils import timezone
from django.utils.translation import gettext as _
from django.utils.translation import gettext_lazy

from numbers import queueing
from numbers.audit import audit_record
from numbers.models import AuditAction, FeedStatus, MarkCategory, MarkEffect, RiskList
from numbers.phone import InvalidMsisdn, normalize_msisdn
from numbers.services import MAX_EXTRA_DAYS, Actor, actor_label
from numbers.staging import (
    APPLIED,
    CHUNK_SIZE,
    PENDING,
    REPORT_PAGE,
    FeedFileError,
    FeedSummary,
    LineOutcome,
    Progress,
    Reject,
    Report,
    Stage,
    chunks,
    clean_raw,
    db_time,
    iso_sql,
    json_object,
    mark_duplicates,
    plus_days_sql,
    range_sql,
    report_and_summary,
    write_report,
)

if TYPE_CHECKING:
    from django.contrib.auth.models import User

__all__ = ["MAX_PASTED_LINES", "MAX_UPLOAD_BYTES", "REASONS", "FeedFileError", "FeedSummary", "LineOutcome",
           "marks_place_from_lines", "read_list", "risk_list_apply", "risk_list_progress", "risk_list_submit"]

# A pasted list is read by the browser and posted whole: past this, upload it as a file.
MAX_PASTED_LINES = 10_000
# About 5,000,000 lines of E.164 numbers; the same limit as a feed upload.
MAX_UPLOAD_BYTES = getattr(settings, "RISK_LIST_MAX_BYTES", 256 * 1024 * 1024)
# The task that applies a list (numbers/oversight/tasks.py), registered in every process by the admin's wiring.
APPLY_TASK = "numbers.oversight.risk_list_apply_task"
# A run whose worker died (no progress for this long) may be taken over: applying a list is idempotent.
LEASE_SECONDS = 600

REASONS = {
    "invalid_msisdn": gettext_lazy("The number does not parse."),
    "unknown_number": gettext_lazy("The number is not in the portal."),
    "no_freeze": gettext_lazy("This number was never used, so it has no freeze to extend: suspend it instead."),
}

_SPLIT = re.compile(r"[,;\t]")
_DIGITS = re.compile(r"\+?[1-9]\d{6,14}")
_SEPARATORS = str.maketrans("", "", " -().")


# --- reading a list --------------------------------------------------------------------------


def read_list(file: IO[bytes]) -> Iterator[tuple[int, str]]:
    """Stream (line number, first cell) of each line that holds something, from a UTF-8 text or CSV file.

    Blank lines (a spreadsheet's `,,,` too) and `#` comments are skipped, and so is a first line without a
    digit (a header). A byte that is not UTF-8 stops the list with the line it is on: nothing is applied.
    """
    seen = False
    for number, raw in enumerate(file, start=1):
        try:
            text = raw.decode("utf-8-sig" if number == 1 else "utf-8")
        except UnicodeDecodeError:
            raise FeedFileError(_("The file is not UTF-8 (line %(line)d).") % {"line": number},
                                code="not_utf8") from None
        cell = _SPLIT.split(text, maxsplit=1)[0].strip().strip('"').strip()
        if not cell or cell.startswith("#"):
            continue
        if not seen and not any(ch.isdigit() for ch in cell):
            seen = True
            continue  # a header row ("msisdn")
        seen = True
        yield number, cell


def _candidate(raw: str, calling_code: int) -> str:
    """The E.164 form a number in the portal would have, without the full parser (checked later if unknown)."""
    digits = raw.translate(_SEPARATORS)
    if not _DIGITS.fullmatch(digits):
        raise Reject("invalid_msisdn", "")
    if digits.startswith("+"):
        return digits
    return f"+{calling_code}{digits}"


def _line_values(line: int, raw: str, calling_code: int) -> tuple[Any, ...]:
    shown = clean_raw(raw)
    try:
        msisdn, reject, message = _candidate(shown, calling_code), None, ""
    except Reject:
        try:  # the full parser names what is wrong
            msisdn, reject, message = normalize_msisdn(shown), None, ""
        except InvalidMsisdn as exc:
            msisdn, reject, message = None, "invalid_msisdn", exc.messages[0]
    return line, shown, msisdn, "" if msisdn else None, reject, message


# --- the staging table -----------------------------------------------------------------------

STAGE = "risk_list_stage"
DDL = """
CREATE {temp} TABLE risk_list_stage (
    line integer NOT NULL, raw text NOT NULL, msisdn text, key text, reject text, message text NOT NULL,
    number_id {big}, cycle_id {big}, from_state text, dup_of integer, outcome text)
"""
LOAD_COLUMNS = ("line", "raw", "msisdn", "key", "reject", "message")


def marks_place_from_lines(
    *, rows: Iterable[tuple[int, str]], category: str, authority: str, reference: str = "", effect: str,
    extra_days: int | None, actor: Actor, report: Report | None = None, progress: Progress | None = None,
    now: datetime | None = None, chunk_size: int = CHUNK_SIZE,
) -> FeedSummary:
    """Place one mark with these terms on the number of each line; return the counts.

    `rows` are (line number, number as written). Bad lines are rejected with a reason code; a number whose
    mark with the same terms is in force is already applied. Raises ValueError on bad terms (nothing read).
    """
    _check_terms(category=category, authority=authority, effect=effect, extra_days=extra_days)
    if effect == MarkEffect.SUSPEND:
        extra_days = None
    now = now or timezone.now()
    code = phonenumbers.country_code_for_region(settings.PHONE_REGION)
    summary = FeedSummary(feed=str(_("risk list")), operator=authority, dry_run=False)
    terms = {"category": category, "authority": authority.strip(), "reference": reference.strip(), "effect": effect,
             "extra_days": extra_days}
    with Stage(STAGE, DDL, LOAD_COLUMNS, reasons=REASONS) as stage:
        summary.lines = stage.load(_line_values(line, raw, code) for line, raw in rows)
        _validate(stage)
        done = summary.lines - stage.one("SELECT COUNT(*) FROM {s} WHERE " + PENDING)
        if progress:
            progress(done, summary.lines)
        for low, high in chunks(stage, "number_id", chunk_size):
            with transaction.atomic():
                done += _chunk(stage, low, high, terms=terms, actor=actor, now=now)
            if progress:
                progress(done, summary.lines)
        return report_and_summary(stage, summary, report, False)


def _check_terms(*, category: str, authority: str, effect: str, extra_days: int | None) -> None:
    if category not in MarkCategory.values:
        raise ValueError(f"unknown category {category!r}")
    if not (authority or "").strip():
        raise ValueError("the issuing authority is required")
    if effect not in MarkEffect.values:
        raise ValueError(f"unknown effect {effect!r}")
    if effect == MarkEffect.EXTEND and not (isinstance(extra_days, int) and 1 <= extra_days <= MAX_EXTRA_DAYS):
        raise ValueError(f"an extension is between 1 and {MAX_EXTRA_DAYS} days")


def _validate(stage: Stage) -> None:
    """Resolve the numbers, give unknown candidates the full parser's verdict, mark identical lines."""
    stage.execute("CREATE INDEX {s}_number ON {s} (number_id)")
    resolve = ("UPDATE {s} SET number_id = (SELECT n.id FROM numbers_phonenumber AS n WHERE n.msisdn = {s}.msisdn) "
               "WHERE reject IS NULL AND number_id IS NULL")
    stage.execute(resolve)
    if _reparse_unknown(stage):
        stage.execute(resolve)
    stage.execute("UPDATE {s} SET reject = 'unknown_number' WHERE reject IS NULL AND number_id IS NULL")
    mark_duplicates(stage, "msisdn")
    stage.execute("UPDATE {s} SET outcome = 'rejected' WHERE reject IS NOT NULL")
    if connection.vendor == "postgresql":
        stage.execute("ANALYZE {s}")


def _reparse_unknown(stage: Stage) -> int:
    """Lines whose quick E.164 form is not in the portal: parse them in full (page by page); return how many
    changed form (a national number written with a trunk prefix, say) and must be looked up again."""
    last, changed = -(2**31), 0
    while True:
        with connection.cursor() as cursor:
            cursor.execute(f"SELECT line, raw, msisdn FROM {stage.table} WHERE reject IS NULL AND number_id IS NULL "
                           "AND line > %s ORDER BY line LIMIT %s", [last, REPORT_PAGE])
            rows = cursor.fetchall()
            invalid, renamed = [], []
            for line, raw, quick in rows:
                try:
                    full = normalize_msisdn(raw)
                except InvalidMsisdn as exc:
                    invalid.append((exc.messages[0], line))
                else:
                    if full != quick:
                        renamed.append((full, line))
            if invalid:
                cursor.executemany(f"UPDATE {stage.table} SET reject = 'invalid_msisdn', msisdn = NULL, "
                                   "message = %s WHERE line = %s", invalid)
            if renamed:
                cursor.executemany(f"UPDATE {stage.table} SET msisdn = %s WHERE line = %s", renamed)
        changed += len(renamed)
        if len(rows) < REPORT_PAGE:
            return changed
        last = rows[-1][0]


def _in_force(alias: str, number: str) -> str:
    return f"{alias}.number_id = {number} AND {alias}.lifted_at IS NULL AND {alias}.ended_at IS NULL"


def _chunk(stage: Stage, low: int, high: int, *, terms: dict[str, Any], actor: Actor, now: datetime) -> int:
    chunk = range_sql("{s}.number_id", low, high)
    pending = chunk + " AND {s}." + PENDING
    if connection.vendor == "postgresql":
        # Lock in id order, as every bulk path does: a concurrent list or sweep queues instead of deadlocking.
        stage.execute("SELECT id FROM numbers_phonenumber WHERE " + range_sql("id", low, high)
                      + " AND id IN (SELECT number_id FROM {s} WHERE " + chunk + ") ORDER BY id FOR UPDATE")
    # One statement decides every line of the chunk (each UPDATE of the staging table writes new row versions):
    # the cycle a mark belongs to (an active number's open holding, its next cycle; else the current one), the
    # state before, and the outcome. The marks table is read by its number index, for the chunk's numbers only.
    cycle = ("CASE WHEN n.state = 'active' THEN (SELECT hp.id FROM numbers_holderperiod AS hp "
             "WHERE hp.number_id = n.id AND hp.ended_at IS NULL) ELSE n.cycle_id END")
    extra = "m.extra_days = %s" if terms["extra_days"] is not None else "m.extra_days IS NULL"
    params = [terms["category"], terms["authority"], terms["reference"], terms["effect"]]
    if terms["extra_days"] is not None:
        params.append(terms["extra_days"])
    same_terms = ("EXISTS (SELECT 1 FROM numbers_riskmark AS m WHERE " + _in_force("m", "n.id") + " AND "
                  + range_sql("m.number_id", low, high) + " AND m.category = %s AND m.authority = %s "
                  "AND m.reference = %s AND m.effect = %s AND " + extra + ")")
    # (An extension in force on a number without a freeze cannot exist: `reject` needs no same-terms test.)
    no_freeze = "n.state <> 'active' AND n.cycle_id IS NULL" if terms["effect"] == MarkEffect.EXTEND else "1 = 0"
    stage.execute(
        f"UPDATE {{s}} SET from_state = n.state, cycle_id = {cycle}, "
        f"outcome = CASE WHEN {same_terms} THEN 'already_applied' WHEN {no_freeze} THEN 'rejected' "
        "ELSE 'applied' END, "
        f"reject = CASE WHEN {no_freeze} THEN 'no_freeze' END "
        "FROM numbers_phonenumber AS n WHERE n.id = {s}.number_id AND " + range_sql("n.id", low, high) + " AND "
        + pending, params)
    _apply(stage, low, high, terms=terms, actor=actor, now=now)
    return int(stage.one("SELECT COUNT(*) FROM {s} WHERE " + chunk))


def _apply(stage: Stage, low: int, high: int, *, terms: dict[str, Any], actor: Actor, now: datetime) -> None:
    """The set-based equal of risk_mark_place for the chunk's applied lines."""
    applied = range_sql("{s}.number_id", low, high) + " AND {s}." + APPLIED
    stamp = db_time(now)
    placed_by = getattr(actor, "pk", None)
    extra = "NULL" if terms["extra_days"] is None else str(int(terms["extra_days"]))
    insert = (
        "INSERT INTO numbers_riskmark (number_id, cycle_id, category, authority, reference, effect, extra_days, "
        f"placed_at, placed_by_id) SELECT number_id, cycle_id, %s, %s, %s, %s, {extra}, %s, %s FROM {{s}} "
        "WHERE " + applied + " ORDER BY number_id")
    params = [terms["category"], terms["authority"], terms["reference"], terms["effect"], stamp, placed_by]
    stage.execute(insert, params)
    _recompute(stage, applied, low, high, now=now)
    detail = json_object([
        ("mark", "m.id"), ("effect", "%s"), ("extra_days", extra), ("authority", "%s"), ("reference", "%s"),
        ("frozen_until", iso_sql("n.frozen_until"))])
    label = str(MarkCategory(terms["category"]).label)
    stage.execute(
        "INSERT INTO numbers_event (number_id, kind, from_state, to_state, actor, reason, detail, at, recorded_at) "
        "SELECT {s}.number_id, 'mark_placed', {s}.from_state, n.state, %s, %s, " + detail + ", %s, %s "
        "FROM {s} JOIN numbers_phonenumber AS n ON n.id = {s}.number_id "
        # the mark this list just placed on the number: the only one with its number and placing time
        "JOIN numbers_riskmark AS m ON m.number_id = {s}.number_id AND m.placed_at = %s "
        "WHERE " + range_sql("n.id", low, high) + " AND " + range_sql("m.number_id", low, high) + " AND " + applied
        + " ORDER BY {s}.number_id",
        [actor_label(actor), label, terms["effect"], terms["authority"], terms["reference"], stamp, stamp, stamp])


def _recompute(stage: Stage, applied: str, low: int, high: int, *, now: datetime) -> None:
    """Recompute the freeze and the suspension of the chunk's marked numbers that are not active, from their
    cycle's marks in force (numbers.services._apply_marks, for many numbers at once).

    The marks are read once per number in a derived table (the new `frozen_until`, whether a suspend mark is in
    force); the UPDATE then only combines them with the row's own columns.
    """
    cycle = "(m.cycle_id = c.cycle_id OR (m.cycle_id IS NULL AND c.cycle_id IS NULL))"
    in_force = _in_force("m", "c.id") + " AND " + range_sql("m.number_id", low, high) + " AND " + cycle
    extra = (f"COALESCE((SELECT MAX(m.extra_days) FROM numbers_riskmark AS m WHERE {in_force} "
             "AND m.effect = 'extend'), 0)")
    days = f"{int(settings.MIN_FREEZE_DAYS)} + {extra}"
    marks = (
        f"SELECT c.id, CASE WHEN c.cycle_id IS NOT NULL THEN {plus_days_sql('c.cancelled_at', days)} "
        f"ELSE c.frozen_until END AS fu, CASE WHEN EXISTS (SELECT 1 FROM numbers_riskmark AS m WHERE {in_force} "
        "AND m.effect = 'suspend') THEN 1 ELSE 0 END AS susp, "
        "CASE WHEN c.state = 'suspended' THEN c.suspended_from ELSE c.state END AS base "
        "FROM numbers_phonenumber AS c WHERE " + range_sql("c.id", low, high)
        + " AND c.id IN (SELECT number_id FROM {s} WHERE " + applied + " AND {s}.from_state <> 'active')")
    # An extended freeze takes a released number back to frozen.
    back = "(k.base = 'available' AND n.cycle_id IS NOT NULL AND k.fu > %(now)s)"
    resting = f"CASE WHEN {back} THEN 'frozen' ELSE k.base END"
    sql = (
        f"UPDATE numbers_phonenumber AS n SET frozen_until = k.fu, "
        f"state = CASE WHEN k.susp = 1 THEN 'suspended' ELSE {resting} END, "
        f"suspended_from = CASE WHEN k.susp = 1 THEN {resting} ELSE '' END, "
        f"released_at = CASE WHEN {back} THEN NULL ELSE n.released_at END, updated_at = %(now)s "
        f"FROM ({marks}) AS k WHERE k.id = n.id AND " + range_sql("n.id", low, high))
    with connection.cursor() as cursor:
        cursor.execute(sql.replace("{s}", stage.table), {"now": db_time(now)})


# --- submitting a list and running it in the background --------------------------------------


def risk_list_submit(
    *, actor: User, category: str, authority: str, reference: str = "", effect: str, extra_days: int | None,
    text: str = "", upload: File[Any] | None = None, name: str = "",
) -> RiskList:
    """Store a pasted or uploaded list with its terms and queue its task; return the list's record."""
    _check_terms(category=category, authority=authority, effect=effect, extra_days=extra_days)
    with transaction.atomic():
        risk_list = RiskList(
            created_by=actor, original_name=name[-200:], category=category, authority=authority.strip(),
            reference=reference.strip(), effect=effect,
            extra_days=extra_days if effect == MarkEffect.EXTEND else None,
        )
        content: File[Any] = upload if upload is not None else ContentFile(text.encode("utf-8"))
        risk_list.file.save("list.txt", content, save=False)
        risk_list.save()
        # The marks it places are events with the regulator's name; the trail records who placed which list.
        audit_record(actor=actor, action=AuditAction.RISK_LIST, obj=risk_list,
                     after={"category": category, "authority": risk_list.authority, "reference": risk_list.reference,
                            "effect": effect, "extra_days": risk_list.extra_days, "file": name[-200:]})
        pk = risk_list.pk
        transaction.on_commit(lambda: risk_list_enqueue(list_id=pk))
    return risk_list


def risk_list_enqueue(*, list_id: int) -> None:
    """Queue a stored list's task; if the broker refuses it, mark the list failed and raise QueueUnavailable.

    Nothing sweeps queued lists, so one whose message never reached the broker would say "queued" for ever and
    its marks would never be placed. Marked failed with the reason, it is a whole record (the audit trail keeps
    the submission), and the regulator is told at once to place the list again.
    """
    try:
        # By name: the task calls this module, so this module does not import the task's.
        queueing.enqueue(APPLY_TASK, list_id)
    except queueing.QueueUnavailable as exc:
        RiskList.objects.filter(pk=list_id, status=FeedStatus.QUEUED).update(
            status=FeedStatus.FAILED, finished_at=timezone.now(),
            error=_("The list could not be queued (the portal's task queue refused it). No mark was placed; "
                    "place the list again."))
        raise queueing.QueueUnavailable(_("The list was stored but could not be queued: the portal's task queue "
                                          "cannot take work just now. No mark was placed and the list is marked "
                                          "failed; place it again in a few minutes.")) from exc


def risk_list_apply(*, list_id: int, now: datetime | None = None) -> None:
    """Apply a submitted list and keep its report; a second call for the same list does nothing."""
    now = now or timezone.now()
    stale = now - timedelta(seconds=LEASE_SECONDS)
    claimed = RiskList.objects.filter(pk=list_id).filter(
        models.Q(status=FeedStatus.QUEUED) | models.Q(status=FeedStatus.RUNNING, heartbeat_at__lt=stale)
    ).update(status=FeedStatus.RUNNING, started_at=now, heartbeat_at=now, error="")
    if not claimed:
        return
    risk_list = RiskList.objects.select_related("created_by").get(pk=list_id)
    storage = risk_list.file.storage
    report_name = f"risk-lists/reports/{risk_list.pk}-{uuid.uuid4().hex}.csv"
    os.makedirs(os.path.dirname(storage.path(report_name)), exist_ok=True)

    def progress(done: int, total: int) -> None:
        RiskList.objects.filter(pk=list_id).update(processed=done, lines=total, heartbeat_at=timezone.now())

    try:
        with risk_list.file.open("rb") as source, open(storage.path(report_name), "w", encoding="utf-8",
                                                        newline="") as out:
            summary = marks_place_from_lines(
                rows=read_list(source), category=risk_list.category, authority=risk_list.authority,
                reference=risk_list.reference, effect=risk_list.effect, extra_days=risk_list.extra_days,
                actor=risk_list.created_by or "risk list", progress=progress, now=now,
                report=write_report(out, title=f"{_('risk list')} {risk_list.pk} {risk_list.original_name}"),
            )
    except FeedFileError as exc:
        RiskList.objects.filter(pk=list_id).update(
            status=FeedStatus.FAILED, error=exc.message + " " + _("No mark was placed."), finished_at=timezone.now())
        storage.delete(report_name)
        return
    except Exception:
        RiskList.objects.filter(pk=list_id).update(
            status=FeedStatus.FAILED, finished_at=timezone.now(),
            error=_("The list stopped on an internal error. The chunks done so far are kept; submit the same list "
                    "again to finish (marks already placed are counted, not placed twice)."))
        raise
    RiskList.objects.filter(pk=list_id).update(
        status=FeedStatus.DONE, lines=summary.lines, processed=summary.lines, applied=summary.applied,
        already_applied=summary.already_applied, rejected=summary.rejected_total, summary=summary.as_dict(),
        report=report_name, finished_at=timezone.now())


def risk_list_progress(risk_list: RiskList) -> dict[str, Any]:
    """What the page polls: status, done/total lines, the counts once finished."""
    return {"status": risk_list.status, "done": risk_list.processed, "total": risk_list.lines,
            "applied": risk_list.applied, "already_applied": risk_list.already_applied,
            "rejected": risk_list.rejected, "error": risk_list.error,
            "finished": risk_list.status in (FeedStatus.DONE, FeedStatus.FAILED)}


def text_lines(text: str) -> int:
    """How many lines of a pasted list hold something (what MAX_PASTED_LINES counts)."""
    return sum(1 for _line in read_list(io.BytesIO(text.encode("utf-8"))))
