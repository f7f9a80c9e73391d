"""Harassment reports: stored with their evidence outside the web root, read by regulators only, deleted after
the retention period unless a regulator holds them."""

import logging
import uuid
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from pathlib import Path

from django.conf import settings
from django.core.files.storage import FileSystemStorage
from django.db import transaction
from django.db.models import Count, Exists, OuterRef, Q, QuerySet
from django.utils import timezone

from numbers.audit import audit_changes, audit_record
from numbers.models import AuditAction, Event, EventKind, HolderPeriod, PrivateStorage
from renewal.models import Evidence, HarassmentReport, ReportStatus

_EXTENSIONS = {"image/jpeg": ".jpg", "image/png": ".png", "image/gif": ".gif", "image/webp": ".webp",
               "application/pdf": ".pdf"}


def evidence_storage() -> FileSystemStorage:
    # Under PRIVATE_FILES_ROOT with no public URL (a view streams them to regulators); a write cut short by a full
    # disk leaves no part file.
    return PrivateStorage()


def harassment_report_create(
    *, period: HolderPeriod, category: str, sender: str, occurred_at, description: str, files: list,
) -> HarassmentReport:
    """Store a report and its (already checked) evidence files; nothing stays written if any part fails."""
    storage = evidence_storage()
    written: list[str] = []
    try:
        with transaction.atomic():
            report = HarassmentReport.objects.create(
                number_id=period.number_id, holder_period=period, category=category, sender=sender.strip(),
                occurred_at=occurred_at, description=description.strip(),
            )
            for f in files:
                # The stored name is ours (a UUID and the proven type), never the uploaded name.
                name = f"evidence/{report.created_at:%Y/%m}/{uuid.uuid4().hex}{_EXTENSIONS[f.sniffed_type]}"
                path = storage.save(name, f)
                written.append(path)
                Evidence.objects.create(
                    report=report, path=path, original_name=Path(f.name).name[:200],
                    content_type=f.sniffed_type, size=f.size, sha256=f.sha256,
                )
    except BaseException:
        for path in written:
            storage.delete(path)
        raise
    return report


def harassment_report_handle(*, report: HarassmentReport, status: str, notes: str, actor,
                             retention_hold: bool | None = None) -> HarassmentReport:
    """Set a report's status, notes and retention hold (a regulator's handling), naming who and when, audited
    before and after. `retention_hold` None leaves the hold as it is."""
    with transaction.atomic():
        report = HarassmentReport.objects.select_for_update().get(pk=report.pk)
        hold = report.retention_hold if retention_hold is None else retention_hold
        before, after = audit_changes(
            {"status": report.status, "notes": report.notes, "retention_hold": report.retention_hold},
            {"status": status, "notes": notes, "retention_hold": hold})
        if not after:
            return report
        report.status, report.notes, report.retention_hold = status, notes, hold
        report.handled_by = actor.get_username()
        report.handled_at = timezone.now()
        report.full_clean(exclude=["number", "holder_period"])
        report.save(update_fields=["status", "notes", "retention_hold", "handled_by", "handled_at"])
        audit_record(actor=actor, action=AuditAction.REPORT_HANDLE, obj=report, before=before, after=after,
                     at=report.handled_at)
    return report


# --- retention ---------------------------------------------------------------------------------

retention_log = logging.getLogger("renewal.retention")
RETENTION_ACTOR = "retention"


@dataclass
class RetentionSummary:
    reports_deleted: int = 0
    evidence_deleted: int = 0
    batches: int = 0
    references: list[str] = field(default_factory=list)  # the first ones, for the log and the command

    def add(self, *, reports: int, evidence: int, references: list[str]) -> None:
        self.reports_deleted += reports
        self.evidence_deleted += evidence
        self.batches += 1
        self.references += references[: max(0, 20 - len(self.references))]


def reports_retention_sweep(*, now: datetime | None = None, batch_size: int = 500,
                            dry_run: bool = False) -> RetentionSummary:
    """Delete what the retention period (REPORT_RETENTION_DAYS) has passed, unless a regulator holds the report.

    Closed reports last handled before the cut-off go with their evidence; reports made before the cut-off lose
    their evidence files (the report stays while it is open). Batch by batch, each in its own transaction under
    row locks, each audited: one retention event per report on its number, and one log line per batch. Files go
    after the commit. `dry_run` counts what would go and changes nothing.
    """
    now = now or timezone.now()
    cutoff = now - timedelta(days=settings.REPORT_RETENTION_DAYS)
    summary = RetentionSummary()
    kept = HarassmentReport.objects.filter(retention_hold=False)
    closed = kept.filter(status=ReportStatus.CLOSED, handled_at__lt=cutoff)
    old_evidence = kept.filter(created_at__lt=cutoff).filter(Exists(Evidence.objects.filter(report=OuterRef("pk"))))
    if dry_run:
        summary.reports_deleted = closed.count()
        summary.evidence_deleted = Evidence.objects.filter(
            Q(report__in=closed) | Q(report__in=old_evidence)).count()
        return summary
    for queryset, whole in ((closed, True), (old_evidence, False)):
        while _retention_batch(queryset, whole=whole, batch_size=batch_size, now=now, summary=summary):
            pass
    return summary


def _retention_batch(queryset: QuerySet[HarassmentReport], *, whole: bool, batch_size: int, now: datetime,
                     summary: RetentionSummary) -> bool:
    """Delete one batch (whole reports, or only their evidence); return False when nothing was left."""
    with transaction.atomic():
        reports = list(queryset.order_by("pk").select_for_update(skip_locked=True)
                       .values_list("pk", "reference", "number_id")[:batch_size])
        if not reports:
            return False
        ids = [pk for pk, _, _ in reports]
        files = dict(Evidence.objects.filter(report_id__in=ids).values_list("pk", "path"))
        per_report = dict(Evidence.objects.filter(report_id__in=ids).order_by().values("report_id")
                          .annotate(n=Count("pk")).values_list("report_id", "n"))
        # Stored as written (an event's reason does not change with the reader's language).
        what = "closed harassment report deleted" if whole else "harassment report's evidence deleted"
        Event.objects.bulk_create([
            Event(number_id=number_id, kind=EventKind.RETENTION, actor=RETENTION_ACTOR, at=now, recorded_at=now,
                  reason=what, detail={"report": reference, "evidence_files": per_report.get(pk, 0),
                                       "retention_days": settings.REPORT_RETENTION_DAYS})
            for pk, reference, number_id in reports])
        if whole:
            HarassmentReport.objects.filter(pk__in=ids).delete()  # its evidence rows go with it (CASCADE)
        else:
            Evidence.objects.filter(pk__in=files).delete()
        paths = list(files.values())
        transaction.on_commit(lambda: _delete_files(paths))
        references = [reference for _, reference, _ in reports]
        audit_record(actor=RETENTION_ACTOR, action=AuditAction.RETENTION_DELETE, object_type="renewal.harassmentreport",
                     object_repr=what, at=now,
                     detail={"reports": len(reports) if whole else 0, "evidence_files": len(files),
                             "references": references, "retention_days": settings.REPORT_RETENTION_DAYS})
    summary.add(reports=len(reports) if whole else 0, evidence=len(files), references=references)
    retention_log.info("retention batch deleted", extra={
        "event": "retention_deleted", "what": "reports" if whole else "evidence", "reports": len(reports),
        "evidence_files": len(files), "references": references[:50],
        "retention_days": settings.REPORT_RETENTION_DAYS})
    return True


def _delete_files(paths: list[str]) -> None:
    storage = evidence_storage()
    for path in paths:
        try:
            storage.delete(path)
        except OSError as exc:  # the row is gone: an orphan file is logged for the operator to remove
            retention_log.error("evidence file not deleted", extra={
                "event": "retention_file_left", "path": path, "error": str(exc)})
