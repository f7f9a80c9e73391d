"""Retention: evidence and closed reports go after REPORT_RETENTION_DAYS unless a regulator holds them; each
batch is audited (an event per report, a log line per batch); files go after the commit."""

import io
from datetime import timedelta

import pytest
from django.core.files.uploadedfile import SimpleUploadedFile
from django.core.management import call_command
from django.utils import timezone

from numbers.models import Event, EventKind
from renewal.active import reports
from renewal.active.forms import EvidenceField
from renewal.active.services import reports_retention_sweep
from renewal.active.tasks import reports_retention_task
from renewal.models import Evidence, HarassmentReport, ReportStatus
from tests.portal.helpers_logs import events, json_lines

PNG = b"\x89PNG\r\n\x1a\n" + b"\x00" * 64
YEARS_3 = 3 * 365


@pytest.fixture(autouse=True)
def private_root(settings, tmp_path):
    settings.PRIVATE_FILES_ROOT = tmp_path / "private"
    return settings.PRIVATE_FILES_ROOT


def _files(root):
    return sorted(p.name for p in root.rglob("*") if p.is_file()) if root.exists() else []


@pytest.fixture
def make_report(holder):
    _, period = holder

    def make(*, days_old, status=ReportStatus.NEW, handled_days_ago=None, held=False, files=1):
        uploads = EvidenceField(required=False).clean(
            [SimpleUploadedFile(f"{i}.png", PNG, "image/png") for i in range(files)]) if files else []
        report = reports.harassment_report_create(period=period, category="fraud", sender="x",
                                                  occurred_at=period.started_at, description="y", files=uploads)
        now = timezone.now()
        handled = now - timedelta(days=handled_days_ago) if handled_days_ago is not None else None
        HarassmentReport.objects.filter(pk=report.pk).update(
            created_at=now - timedelta(days=days_old), status=status, handled_at=handled, retention_hold=held)
        return report

    return make


def test_a_closed_report_past_retention_goes_with_its_evidence_and_is_audited(make_report, private_root,
                                                                               django_capture_on_commit_callbacks):
    old = make_report(days_old=YEARS_3 + 40, status=ReportStatus.CLOSED, handled_days_ago=YEARS_3 + 1, files=2)
    recent = make_report(days_old=10, status=ReportStatus.CLOSED, handled_days_ago=5)
    assert len(_files(private_root)) == 3
    with json_lines() as lines, django_capture_on_commit_callbacks(execute=True):
        summary = reports_retention_sweep()
    assert (summary.reports_deleted, summary.evidence_deleted) == (1, 2)
    assert list(HarassmentReport.objects.values_list("pk", flat=True)) == [recent.pk]
    assert len(_files(private_root)) == 1 and Evidence.objects.get().report_id == recent.pk
    event = Event.objects.get(kind=EventKind.RETENTION)
    assert event.number_id == old.number_id and event.actor == "retention"
    assert event.detail == {"report": old.reference, "evidence_files": 2, "retention_days": YEARS_3}
    [batch] = events(lines, "retention_deleted")
    assert (batch["what"], batch["reports"], batch["evidence_files"], batch["references"]) == (
        "reports", 1, 2, [old.reference])


def test_an_old_open_report_loses_its_evidence_and_stays(make_report, private_root,
                                                         django_capture_on_commit_callbacks):
    report = make_report(days_old=YEARS_3 + 1, status=ReportStatus.IN_REVIEW, handled_days_ago=3)
    with django_capture_on_commit_callbacks(execute=True):
        summary = reports_retention_sweep()
    assert (summary.reports_deleted, summary.evidence_deleted) == (0, 1)
    assert HarassmentReport.objects.filter(pk=report.pk).exists() and not Evidence.objects.exists()
    assert _files(private_root) == []
    assert Event.objects.get(kind=EventKind.RETENTION).reason == "harassment report's evidence deleted"


def test_a_report_the_regulator_holds_is_kept_whole(make_report, private_root, django_capture_on_commit_callbacks):
    make_report(days_old=YEARS_3 * 2, status=ReportStatus.CLOSED, handled_days_ago=YEARS_3 * 2, held=True)
    with django_capture_on_commit_callbacks(execute=True):
        summary = reports_retention_sweep()
    assert (summary.reports_deleted, summary.evidence_deleted) == (0, 0)
    assert HarassmentReport.objects.count() == 1 and len(_files(private_root)) == 1
    assert not Event.objects.filter(kind=EventKind.RETENTION).exists()


def test_the_period_is_a_setting(make_report, settings, django_capture_on_commit_callbacks):
    make_report(days_old=40, status=ReportStatus.CLOSED, handled_days_ago=31)
    assert reports_retention_sweep().reports_deleted == 0
    settings.REPORT_RETENTION_DAYS = 30
    with django_capture_on_commit_callbacks(execute=True):
        assert reports_retention_sweep().reports_deleted == 1


def test_a_dry_run_counts_and_changes_nothing(make_report, private_root):
    make_report(days_old=YEARS_3 + 1, status=ReportStatus.CLOSED, handled_days_ago=YEARS_3 + 1, files=2)
    make_report(days_old=YEARS_3 + 1, files=1)
    summary = reports_retention_sweep(dry_run=True)
    assert (summary.reports_deleted, summary.evidence_deleted) == (1, 3)
    assert HarassmentReport.objects.count() == 2 and len(_files(private_root)) == 3
    assert not Event.objects.filter(kind=EventKind.RETENTION).exists()


def test_batches_each_audited_and_a_second_run_does_nothing(make_report, django_capture_on_commit_callbacks):
    for _ in range(5):
        make_report(days_old=YEARS_3 + 1, status=ReportStatus.CLOSED, handled_days_ago=YEARS_3 + 1, files=0)
    with json_lines() as lines, django_capture_on_commit_callbacks(execute=True):
        summary = reports_retention_sweep(batch_size=2)
    assert (summary.reports_deleted, summary.batches) == (5, 3)
    assert [b["reports"] for b in events(lines, "retention_deleted")] == [2, 2, 1]
    assert Event.objects.filter(kind=EventKind.RETENTION).count() == 5
    assert reports_retention_sweep().batches == 0


def test_the_daily_task_and_the_command(make_report, django_capture_on_commit_callbacks):
    make_report(days_old=YEARS_3 + 1, status=ReportStatus.CLOSED, handled_days_ago=YEARS_3 + 1)
    out = io.StringIO()
    call_command("retention_sweep", "--dry-run", stdout=out)
    assert "Would delete 1 closed report(s) and 1 evidence file(s) past 1095 days." in out.getvalue()
    with django_capture_on_commit_callbacks(execute=True):
        assert reports_retention_task.delay().get() == 2
    out = io.StringIO()
    call_command("retention_sweep", stdout=out)
    assert "Deleted 0 closed report(s) and 0 evidence file(s)" in out.getvalue()


def test_a_file_that_cannot_be_deleted_is_logged_and_the_rows_are_gone(make_report, monkeypatch,
                                                                        django_capture_on_commit_callbacks):
    make_report(days_old=YEARS_3 + 1, status=ReportStatus.CLOSED, handled_days_ago=YEARS_3 + 1)

    class Stuck:
        def delete(self, path):
            raise PermissionError("read-only file system")

    monkeypatch.setattr(reports, "evidence_storage", lambda: Stuck())
    with json_lines() as lines, django_capture_on_commit_callbacks(execute=True):
        reports_retention_sweep()
    assert not HarassmentReport.objects.exists()
    [left] = events(lines, "retention_file_left")
    assert left["level"] == "ERROR" and "read-only" in left["error"]
