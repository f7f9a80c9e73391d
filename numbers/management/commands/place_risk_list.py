"""Place a list of risk marks from a file, in this process (the admin's place form queues the same work as a task)."""

import sys

from django.contrib.auth import get_user_model
from django.core.management.base import BaseCommand, CommandError

from numbers import roles
from numbers.access import SUPERUSER, account_role
from numbers.models import MarkCategory, MarkEffect
from numbers.oversight.services import FeedFileError, marks_place_from_lines, read_list
from numbers.staging import write_report


class Command(BaseCommand):
    help = ("Place one risk mark with the given terms on every number of FILE (one number per line, national or "
            "E.164; a header and blank lines are skipped). Exit status 0: nothing rejected; 1: some lines rejected "
            "(see the report); 2: usage error.")

    def add_arguments(self, parser):
        parser.add_argument("file", help="The list (UTF-8 text or CSV, the number in the first column).")
        parser.add_argument("--regulator", required=True, help="The user name of the regulator placing the marks.")
        parser.add_argument("--category", required=True, choices=MarkCategory.values)
        parser.add_argument("--authority", required=True, help="The authority that issued the list.")
        parser.add_argument("--reference", default="")
        parser.add_argument("--effect", required=True, choices=MarkEffect.values)
        parser.add_argument("--extra-days", type=int, help="For --effect extend: the days added to the freeze.")
        parser.add_argument("--report", metavar="PATH", help="Write the counts and every rejected line here.")

    def handle(self, *args, file, regulator, category, authority, reference, effect, extra_days, report, **options):
        user = get_user_model().objects.filter(username=regulator).first()
        if user is None or account_role(user) not in (roles.REGULATOR, SUPERUSER):
            raise CommandError(f"“{regulator}” is not a regulator's account.", returncode=2)
        try:
            source = open(file, "rb")  # noqa: SIM115 - closed below
            out = open(report, "w", encoding="utf-8", newline="") if report else None  # noqa: SIM115
        except OSError as exc:
            raise CommandError(f"Cannot open {exc.filename}: {exc.strerror}.", returncode=2) from None
        try:
            summary = marks_place_from_lines(
                rows=read_list(source), category=category, authority=authority, reference=reference, effect=effect,
                extra_days=extra_days, actor=user, report=write_report(out, title=f"risk list {file}") if out else None,
                progress=self._progress if sys.stderr.isatty() else None)
        except (FeedFileError, ValueError) as exc:
            raise CommandError(f"{file}: {getattr(exc, 'message', exc)} No mark was placed.", returncode=2) from None
        finally:
            source.close()
            if out:
                out.close()
        for line in summary.text():
            self.stdout.write(line)
        if summary.exit_status:
            sys.exit(summary.exit_status)

    def _progress(self, done: int, total: int) -> None:
        self.stderr.write(f"\r{done:,} / {total:,} lines", ending="")
