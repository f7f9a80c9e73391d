"""Print the admin permission matrix as Markdown, or write it into docs/security.md."""

import re
from pathlib import Path

from django.conf import settings
from django.core.management.base import BaseCommand, CommandError

from numbers.permission_matrix import render_markdown

BEGIN, END = "<!-- permission matrix: begin -->", "<!-- permission matrix: end -->"


class Command(BaseCommand):
    help = "Print the admin permission matrix (numbers/permission_matrix.py) as Markdown; --write updates the docs."

    def add_arguments(self, parser):
        parser.add_argument("--write", action="store_true", help="Replace the table in docs/security.md.")

    def handle(self, *args, write: bool, **options):
        table = render_markdown()
        if not write:
            self.stdout.write(table, ending="")
            return
        path = Path(settings.BASE_DIR) / "docs" / "security.md"
        text = path.read_text(encoding="utf-8")
        block = re.compile(re.escape(BEGIN) + r".*?" + re.escape(END), re.S)
        if not block.search(text):
            raise CommandError(f"{path} has no {BEGIN} … {END} block to replace.")
        path.write_text(block.sub(lambda _m: f"{BEGIN}\n{table}{END}", text), encoding="utf-8")
        self.stdout.write(f"Wrote the matrix into {path}.")
