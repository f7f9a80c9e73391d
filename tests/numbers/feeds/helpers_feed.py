"""Helpers for the feed tests: write a CSV, run a feed command, read its report, compare the database."""

import csv
import io
from dataclasses import dataclass
from pathlib import Path
from zoneinfo import ZoneInfo

from django.core.management import call_command
from django.core.management.base import CommandError
from django.utils import translation

from numbers.models import Event, HolderPeriod, PhoneNumber

FEED_HEADER = "msisdn,cancelled_at,reason,to_operator"  # the cancellation and port feed's
SHANGHAI = ZoneInfo("Asia/Shanghai")


def local(dt) -> str:
    """The time as an operator's file writes it: ISO 8601 with the +08:00 offset."""
    return dt.astimezone(SHANGHAI).isoformat()


def snapshot() -> list:
    """The numbers, holder periods and events as they are: equal snapshots mean nothing was written."""
    numbers = list(PhoneNumber.objects.order_by("id").values())
    periods = list(HolderPeriod.objects.order_by("id").values())
    events = list(Event.objects.order_by("id").values_list("id", flat=True))
    return [numbers, periods, events]


@dataclass
class Run:
    status: int
    stdout: str
    report: str

    def rejected(self) -> dict[int, str]:
        """{line number: reason} of every rejected line in the report."""
        body = [line for line in self.report.splitlines() if not line.startswith("#")]
        return {int(r["line"]): r["reason"] for r in csv.DictReader(body) if r["outcome"] == "rejected"}


def write_csv(path: Path, header: str, lines: list[str], *, bom: bool = False) -> Path:
    text = "\n".join([header, *lines]) + "\n"
    path.write_bytes((b"\xef\xbb\xbf" if bom else b"") + text.encode("utf-8"))
    return path


def run(command: str, path: Path, *, operator: str, dry_run: bool = False, report: bool = True) -> Run:
    """Run a feed command as the shell would; return its exit status, output and report."""
    out = io.StringIO()
    report_path = path.with_suffix(".report.csv")
    args = [command, str(path), "--operator", operator]
    if dry_run:
        args.append("--dry-run")
    if report:
        args += ["--report", str(report_path)]
    try:
        with translation.override("en"):
            call_command(*args, stdout=out)
        status = 0
    except SystemExit as exc:
        status = exc.code
    except CommandError as exc:
        status = exc.returncode
        out.write(str(exc))
    return Run(status=status, stdout=out.getvalue(),
               # Bytes decoded as they are: reading text would turn a CR inside a cell into a new line.
               report=report_path.read_bytes().decode("utf-8") if report and report_path.exists() else "")


# Cells a spreadsheet would run as formulas, each as a quoted CSV field, and how a report must write them back.
FORMULAS = {
    "=1+1": "'=1+1",
    "+cmd|' /C calc'!A0": "'+cmd|' /C calc'!A0",
    "-2+3": "'-2+3",
    "@SUM(1+1)*cmd|' /C calc'!A0": "'@SUM(1+1)*cmd|' /C calc'!A0",
    "\t=1+1": "'\t=1+1",
    "\r=1+1": "'\r=1+1",
}


def csv_field(text: str) -> str:
    return '"' + text.replace('"', '""') + '"'


def report_rows(report: str) -> list[dict]:
    """The report's line rows (the summary lines starting with # left out), as the csv module reads them."""
    body = [line for line in report.splitlines(keepends=True) if not line.startswith("#")]
    return list(csv.DictReader(io.StringIO("".join(body), newline="")))
