"""Helpers for the feed tests: write a CSV, run a feed command, read its report."""

import csv
import io
from dataclasses import dataclass
from pathlib import Path

from django.core.management import call_command
from django.core.management.base import CommandError
from django.utils import translation


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
               report=report_path.read_text(encoding="utf-8") if report and report_path.exists() else "")
