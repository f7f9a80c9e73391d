"""Delete harassment-report evidence and closed reports past REPORT_RETENTION_DAYS (what beat runs daily)."""

from django.conf import settings
from django.core.management.base import BaseCommand

from renewal.active.services import reports_retention_sweep


class Command(BaseCommand):
    help = ("Delete evidence files of reports older than REPORT_RETENTION_DAYS and closed reports last handled "
            "longer ago than that, unless a regulator holds them; each batch is audited. Beat runs it daily.")

    def add_arguments(self, parser):
        parser.add_argument("--dry-run", action="store_true", help="Count what would be deleted; delete nothing.")

    def handle(self, *args, dry_run: bool = False, **options):
        summary = reports_retention_sweep(dry_run=dry_run)
        verb = "Would delete" if dry_run else "Deleted"
        self.stdout.write(f"{verb} {summary.reports_deleted} closed report(s) and {summary.evidence_deleted} "
                          f"evidence file(s) past {settings.REPORT_RETENTION_DAYS} days.")
        if summary.references:
            self.stdout.write("Reports: " + ", ".join(summary.references)
                              + (" …" if summary.reports_deleted + summary.evidence_deleted > 20 else ""))
