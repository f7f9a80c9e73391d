"""The feeds' public surface: import a cancellation/port feed or an inventory, process an uploaded file.

One service per feed, used by the management commands, the admin upload and the API:
`cancellations_import(*, operator, rows, …)` and `inventory_import(*, operator, rows, …)`. `rows` is any
iterable of parsed rows (`CancellationRow`, `InventoryRow`): `read_cancellations(file)` and
`read_inventory(file)` stream them from a CSV file; an API view builds them from JSON items.
"""

import csv
import io
import os
import uuid
from collections.abc import Callable, Iterator
from datetime import datetime, timedelta
from typing import IO, Any

from django.conf import settings
from django.core.files import File
from django.core.mail import send_mail
from django.db import models, transaction
from django.utils import timezone
from django.utils.translation import gettext as _

from numbers import queueing
from numbers.audit import audit_record
from numbers.feeds.cancellations import CancellationRow, cancellations_import, read_cancellations
from numbers.feeds.inventory import InventoryRow, inventory_import, read_inventory
from numbers.feeds.reasons import REASONS
from numbers.models import AuditAction, FeedStatus, FeedUpload, Operator
from numbers.staging import FeedFileError, FeedSummary, LineOutcome, decode_lines, open_text, write_report

__all__ = ["REASONS", "CancellationRow", "FeedFileError", "FeedSummary", "InventoryRow", "LineOutcome",
           "cancellations_import", "check_header", "decode_lines", "feed_report_rejected_lines",
           "feed_upload_create", "feed_upload_enqueue", "feed_upload_process", "inventory_import",
           "open_text",
           "read_cancellations", "read_inventory", "write_report"]


UPLOAD_LEASE = timedelta(minutes=10)
# The upload task by name: its module imports this one.
PROCESS_TASK = "numbers.tasks.feed_upload_process_task"


# kind -> (the import service, the reader of the file's rows)
FEEDS: dict[str, tuple[Callable[..., FeedSummary], Callable[[Any], Iterator[Any]]]] = {
    "cancellations": (cancellations_import, read_cancellations),
    "inventory": (inventory_import, read_inventory),
}


def check_header(kind: str, file: IO[bytes]) -> None:
    """Raise FeedFileError unless the binary `file` starts with the header row of the `kind` feed."""
    reader = FEEDS[kind][1]
    first = file.readline(4096)
    file.seek(0)
    for _row in reader(decode_lines(io.BytesIO(first))):
        break


def feed_upload_process(*, upload_id: int, now: datetime | None = None) -> None:
    """Import an uploaded feed file and keep its report; a second call for the same upload does nothing."""
    now = now or timezone.now()
    # Claim it; a run whose worker died (no progress for a lease) may be taken over: the import is idempotent.
    claimed = FeedUpload.objects.filter(pk=upload_id).filter(
        models.Q(status=FeedStatus.QUEUED) | models.Q(status=FeedStatus.RUNNING, heartbeat_at__lt=now - UPLOAD_LEASE)
    ).update(status=FeedStatus.RUNNING, started_at=now, heartbeat_at=now, error="")
    if not claimed:
        return
    upload = FeedUpload.objects.select_related("operator", "uploaded_by").get(pk=upload_id)
    importer, reader = FEEDS[upload.kind]
    storage = upload.file.storage
    report_name = f"feeds/reports/{upload.pk}-{uuid.uuid4().hex}.csv"
    os.makedirs(os.path.dirname(storage.path(report_name)), exist_ok=True)

    def progress(done: int, total: int) -> None:
        FeedUpload.objects.filter(pk=upload_id).update(processed=done, lines=total, heartbeat_at=timezone.now())

    try:
        with upload.file.open("rb") as source, open(storage.path(report_name), "w", encoding="utf-8",
                                                     newline="") as out:
            summary = importer(
                operator=upload.operator, rows=reader(decode_lines(source)), actor=upload.uploaded_by or "upload",
                dry_run=upload.dry_run, progress=progress,
                report=write_report(out, title=f"{upload.get_kind_display()} {upload.original_name}"),
            )
    except FeedFileError as exc:
        FeedUpload.objects.filter(pk=upload_id).update(
            status=FeedStatus.FAILED, error=exc.message + " " + _("Nothing was changed."),
            finished_at=timezone.now())
        storage.delete(report_name)
        feed_upload_notify(upload_id=upload_id)
        return
    except Exception:
        FeedUpload.objects.filter(pk=upload_id).update(
            status=FeedStatus.FAILED, finished_at=timezone.now(),
            error=_("The import stopped on an internal error. The chunks done so far are kept; upload the same "
                    "file again to finish (lines already applied are counted, not applied twice)."))
        feed_upload_notify(upload_id=upload_id)
        raise
    FeedUpload.objects.filter(pk=upload_id).update(
        status=FeedStatus.DONE, lines=summary.lines, processed=summary.lines, applied=summary.applied,
        already_applied=summary.already_applied, rejected=summary.rejected_total, summary=summary.as_dict(),
        report=report_name, finished_at=timezone.now())
    feed_upload_notify(upload_id=upload_id)


def feed_upload_notify(*, upload_id: int) -> bool:
    """E-mail the uploader that the import finished or failed, when e-mail is configured; return whether sent.

    Only counts and the page's address: never a number or a line of the file.
    """
    upload = FeedUpload.objects.select_related("operator", "uploaded_by").get(pk=upload_id)
    address = getattr(upload.uploaded_by, "email", "")
    if not (settings.FEED_EMAIL_NOTIFY and address):
        return False
    done = upload.status == FeedStatus.DONE
    subject = (_("Feed import finished: %(name)s") if done else _("Feed import failed: %(name)s")) % {
        "name": upload.original_name or upload.pk}
    if done:
        body = _("%(lines)d lines: %(applied)d applied, %(already)d already applied, %(rejected)d rejected.") % {
            "lines": upload.lines, "applied": upload.applied, "already": upload.already_applied,
            "rejected": upload.rejected}
    else:
        body = upload.error
    link = f"{settings.PORTAL_BASE_URL}/admin/numbers/feedupload/{upload.pk}/change/" if settings.PORTAL_BASE_URL \
        else ""
    send_mail(subject, f"{body}\n\n{link}".strip() + "\n", None, [address], fail_silently=True)
    return True


def feed_upload_create(*, operator: Operator, kind: str, file: "File[bytes]", dry_run: bool, actor_name: str,
                       address: str = "", language: str | None = None) -> FeedUpload:
    """Keep an uploaded feed file of `operator` and queue its import; audited. Check the header first (check_header).

    For callers that are no account (an operator's API key): `actor_name` names them in the audit trail.
    """
    with transaction.atomic():
        upload = FeedUpload(operator=operator, kind=kind, dry_run=dry_run, status=FeedStatus.QUEUED,
                            original_name=(file.name or "")[-200:])
        upload.file.save("upload.csv", file, save=False)  # the storage names it (never the uploader's name)
        upload.save()
        audit_record(actor=None, actor_name=actor_name, action=AuditAction.FEED_UPLOAD, obj=upload, address=address,
                     detail={"operator": operator.code, "kind": kind, "dry_run": dry_run,
                             "file": upload.original_name, "bytes": file.size})
        pk = upload.pk
        transaction.on_commit(lambda: feed_upload_enqueue(upload_id=pk, language=language))
    return upload


def feed_upload_enqueue(*, upload_id: int, language: str | None = None) -> None:
    """Queue a stored upload's import; if the broker refuses it, mark the upload failed and raise QueueUnavailable.

    Nothing sweeps queued uploads, so one whose message never reached the broker would say "queued" for ever.
    Marked failed with the reason, it is a whole record (the audit trail keeps the upload, and cannot be undone),
    and the uploader is told at once to send the file again. Only a still-queued upload is marked: a worker that
    already took it (the broker kept the message after all) goes on.
    """
    try:
        queueing.enqueue(PROCESS_TASK, upload_id, language)
    except queueing.QueueUnavailable as exc:
        FeedUpload.objects.filter(pk=upload_id, status=FeedStatus.QUEUED).update(
            status=FeedStatus.FAILED, finished_at=timezone.now(),
            error=_("The file could not be queued for processing (the portal's task queue refused it). Nothing "
                    "was changed; upload the file again."))
        raise queueing.QueueUnavailable(_("The file was stored but could not be queued for processing: the "
                                          "portal's task queue cannot take work just now. Nothing was changed and "
                                          "the upload is marked failed; upload the file again in a few minutes.")
                                        ) from exc


def feed_report_rejected_lines(upload: FeedUpload, *, limit: int) -> list[LineOutcome]:
    """Return the first `limit` rejected lines of a finished upload's report (none before it is done)."""
    if not upload.report:
        return []
    found: list[LineOutcome] = []
    with upload.report.open("rb") as raw:
        body = (b.decode("utf-8") for b in raw if not b.startswith(b"#"))
        for i, row in enumerate(csv.reader(body)):
            if len(found) >= limit:
                break
            line, msisdn, outcome, reason, message = (row + [""] * 5)[:5]
            if i == 0 or outcome != "rejected":
                continue
            found.append(LineOutcome(line=int(line), msisdn=msisdn, outcome=outcome, reason=reason,
                                     message=message))
    return found
