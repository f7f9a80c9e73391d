"""What import_numbers and import_cancellations share: arguments, exit statuses 0/1/2, the report."""

import argparse
import sys
from collections.abc import Callable, Iterator
from typing import Any

from django.conf import settings
from django.core.management.base import BaseCommand, CommandError
from django.utils import translation
from django.utils.translation import gettext as _

from numbers.feeds.services import FeedFileError, FeedSummary, decode_lines, write_report
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
        parser.add_argument("--language", default=settings.LANGUAGE_CODE,
                            choices=[code for code, _name in settings.LANGUAGES],
                            help="The language of the summary and of the report's message column (its column "
                                 "names and codes never change). Default: LANGUAGE_CODE.")
        parser.add_argument("--progress", action=argparse.BooleanOptionalAction, default=None,
                            help="Show the lines done on standard error (default: when it is a terminal).")

    def handle(self, *args, language, **options):
        with translation.override(language):
            self.import_file(**options)

    def import_file(self, *, file, operator, dry_run, report, progress=None, **options):
        op = Operator.objects.filter(code=operator).first()
        if op is None:
            raise CommandError(_("Unknown operator “%(code)s”.") % {"code": operator}, returncode=2)
        try:
            source = sys.stdin.buffer if file == "-" else open(file, "rb")  # noqa: SIM115 - closed below
        except OSError as exc:
            raise CommandError(_("Cannot read %(file)s: %(error)s.") % {"file": file, "error": exc.strerror},
                               returncode=2) from None
        try:
            out = open(report, "w", encoding="utf-8", newline="") if report else None  # noqa: SIM115
        except OSError as exc:
            source.close()
            raise CommandError(_("Cannot write the report %(file)s: %(error)s.") % {"file": report,
                                                                                  "error": exc.strerror},
                               returncode=2) from None
        try:
            summary = self.importer(
                operator=op, rows=self.reader(decode_lines(source)), actor=self.feed_name, dry_run=dry_run,
                report=write_report(out, title=f"{self.feed_name} {file}") if out else None,
                progress=self._progress() if (progress if progress is not None else sys.stderr.isatty()) else None,
            )
        except FeedFileError as exc:
            raise CommandError(f"{file}: {exc.message} " + _("Nothing was changed."), returncode=2) from None
        finally:
            source.close()
            if out:
                out.close()
        if progress or (progress is None and sys.stderr.isatty()):
            self.stderr.write("")  # end the progress line
        style = self.style.SUCCESS if summary.exit_status == 0 else self.style.WARNING
        for line in summary.text():
            self.stdout.write(style(line))
        if report:
            self.stdout.write(_("Report: %(file)s") % {"file": report})
        if summary.exit_status:
            sys.exit(summary.exit_status)

    def _progress(self) -> Callable[[int, int], None]:
        def show(done: int, total: int) -> None:
            percent = 100 * done // total if total else 100
            self.stderr.write(f"\r{done:,} / {total:,} lines ({percent} %)", ending="")
            self.stderr.flush()

        return show
