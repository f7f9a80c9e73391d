"""What import_numbers and import_cancellations share: arguments, exit statuses 0/1/2, the report."""

import sys
from collections.abc import Callable, Iterator
from typing import Any

from django.core.management.base import BaseCommand, CommandError

from numbers.feeds.services import FeedFileError, FeedSummary, open_text, write_report
from numbers.models import Operator


class FeedCommand(BaseCommand):
    feed_name = ""
    importer: Callable[..., FeedSummary]  # the feed service
    reader: Callable[[Any], Iterator[Any]]  # file -> rows

    def add_arguments(self, parser):
        parser.add_argument("file", help="The CSV file (UTF-8, a BOM is accepted); - reads standard input.")
        parser.add_argument("--operator", required=True, help="The code of the operator the file comes from.")
        parser.add_argument("--dry-run", action="store_true", help="Validate and report; change nothing.")
        parser.add_argument("--report", metavar="PATH", help="Write the counts and every rejected line here.")

    def handle(self, *args, file, operator, dry_run, report, **options):
        op = Operator.objects.filter(code=operator).first()
        if op is None:
            raise CommandError(f"Unknown operator “{operator}”.", returncode=2)
        try:
            source = sys.stdin.buffer if file == "-" else open(file, "rb")  # noqa: SIM115 - closed below
        except OSError as exc:
            raise CommandError(f"Cannot read {file}: {exc.strerror}.", returncode=2) from None
        try:
            out = open(report, "w", encoding="utf-8", newline="") if report else None  # noqa: SIM115
        except OSError as exc:
            source.close()
            raise CommandError(f"Cannot write the report {report}: {exc.strerror}.", returncode=2) from None
        try:
            summary = self.importer(
                operator=op, rows=self.reader(open_text(source)), actor=self.feed_name, dry_run=dry_run,
                report=write_report(out, title=f"{self.feed_name} {file}") if out else None,
            )
        except FeedFileError as exc:
            raise CommandError(f"{file}: {exc.message} Nothing was changed.", returncode=2) from None
        finally:
            source.close()
            if out:
                out.close()
        style = self.style.SUCCESS if summary.exit_status == 0 else self.style.WARNING
        for line in summary.text():
            self.stdout.write(style(line))
        if report:
            self.stdout.write(f"Report: {report}")
        if summary.exit_status:
            sys.exit(summary.exit_status)
