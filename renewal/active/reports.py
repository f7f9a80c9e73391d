"""Harassment reports: stored with their evidence outside the web root, read by regulators only."""

import uuid
from pathlib import Path

from django.conf import settings
from django.core.files.storage import FileSystemStorage
from django.db import transaction
from django.utils import timezone

from numbers.audit import audit_changes, audit_record
from numbers.models import AuditAction, HolderPeriod
from renewal.models import Evidence, HarassmentReport

_EXTENSIONS = {"image/jpeg": ".jpg", "image/png": ".png", "image/gif": ".gif", "image/webp": ".webp",
               "application/pdf": ".pdf"}


def evidence_storage() -> FileSystemStorage:
    # base_url=None: these files have no public URL; a view streams them to regulators.
    return FileSystemStorage(location=settings.PRIVATE_FILES_ROOT, base_url=None)


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


def harassment_report_handle(*, report: HarassmentReport, status: str, notes: str, actor) -> HarassmentReport:
    """Set a report's status and notes (a regulator's handling), naming who and when, audited before and after."""
    with transaction.atomic():
        report = HarassmentReport.objects.select_for_update().get(pk=report.pk)
        before, after = audit_changes({"status": report.status, "notes": report.notes},
                                      {"status": status, "notes": notes})
        if not after:
            return report
        report.status, report.notes = status, notes
        report.handled_by = actor.get_username()
        report.handled_at = timezone.now()
        report.full_clean(exclude=["number", "holder_period"])
        report.save(update_fields=["status", "notes", "handled_by", "handled_at"])
        audit_record(actor=actor, action=AuditAction.REPORT_HANDLE, obj=report, before=before, after=after,
                     at=report.handled_at)
    return report
