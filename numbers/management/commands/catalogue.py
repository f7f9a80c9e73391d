"""The zh-hans translation catalogue: merge the pending translations into it, and check it (docs/translations.md).

`manage.py catalogue merge` (what `make messages` runs):
1. `makemessages -l zh_Hans` with the project's options (MAKEMESSAGES) updates locale/zh_Hans/…/django.po;
2. every `locale/pending/*.po` is merged in: a pending translation fills an entry only when the catalogue's is
   empty or fuzzy (a reviewed translation is never overwritten); what was used or settled leaves the pending
   file, what the code does not have yet stays there, and an emptied pending file is removed;
3. `compilemessages` writes the committed django.mo.

`manage.py catalogue check` (CI, through `make lint`) changes nothing: in a temporary copy of the sources it
extracts the msgids afresh and fails when their set (with contexts and plurals, compared after
`msgcat --no-location --sort-output`, so moved code does not fail it) differs from the committed catalogue's,
when any entry is untranslated or fuzzy, or when the committed .mo differs from what compilemessages makes.
"""

from __future__ import annotations

import os
import shutil
import subprocess
import sys
import tempfile
from dataclasses import dataclass, field
from pathlib import Path

import polib
from django.conf import settings
from django.core.management.base import BaseCommand, CommandError

LOCALE = "zh_Hans"
CATALOGUE = Path("locale") / LOCALE / "LC_MESSAGES" / "django.po"
PENDING = Path("locale") / "pending"
# What makemessages reads: the product's code and templates. Tests, benchmarks and tools say nothing to people.
SOURCES = ("manage.py", "portal", "numbers", "renewal", "templates")
IGNORED = ("tests", "bench", "var", "docs", "deploy", "static", "locale")
MAKEMESSAGES = ["makemessages", "-l", LOCALE, "--no-obsolete", "--add-location=file",
                *(f"--ignore={name}" for name in IGNORED)]
COMPILEMESSAGES = ["compilemessages", "-l", LOCALE, *(f"--ignore={name}" for name in (".*", *IGNORED[:-1]))]
# Entries are told apart by context, msgid and plural msgid.
Key = tuple[str, str, str]
SHOWN = 40  # differences listed per kind; the count is always given


def key(entry: polib.POEntry) -> Key:
    return (entry.msgctxt or "", entry.msgid, entry.msgid_plural or "")


def is_translated(entry: polib.POEntry) -> bool:
    if entry.msgid_plural:
        return bool(entry.msgstr_plural) and all(entry.msgstr_plural.values())
    return bool(entry.msgstr)


def _run(args: list[str], cwd: Path) -> str:
    env = {**os.environ, "DEBUG": "true", "PORTAL_VAR_DIR": str(cwd / "var")}
    env.pop("DJANGO_SETTINGS_MODULE", None)  # the copy's own settings
    done = subprocess.run(args, cwd=cwd, env=env, capture_output=True, text=True, check=False)
    if done.returncode:
        raise CommandError(f"{' '.join(args)} failed:\n{done.stdout}{done.stderr}")
    return done.stdout


def manage(root: Path, *args: str) -> str:
    return _run([sys.executable, "manage.py", *args], cwd=root)


def entries(po_path: Path) -> dict[Key, polib.POEntry]:
    """The catalogue's live entries (no header, no obsolete ones), read after `msgcat --no-location --sort-output`."""
    text = _run(["msgcat", "--no-location", "--sort-output", str(po_path)], cwd=po_path.parent)
    po = polib.pofile(text)
    return {key(e): e for e in po if not e.obsolete}


def copy_sources(root: Path, into: Path) -> None:
    for name in SOURCES:
        source = root / name
        if source.is_dir():
            shutil.copytree(source, into / name, ignore=shutil.ignore_patterns("__pycache__", "*.pyc"))
        else:
            shutil.copy2(source, into / name)


def fresh_msgids(root: Path, into: Path) -> dict[Key, polib.POEntry]:
    """Extract the msgids of the code in `root` into an empty catalogue in the copy `into`."""
    copy_sources(root, into)
    (into / CATALOGUE.parent).mkdir(parents=True)
    manage(into, *MAKEMESSAGES, "-v0")
    return entries(into / CATALOGUE)


def _listed(title: str, items: list[str]) -> list[str]:
    if not items:
        return []
    more = [f"    … and {len(items) - SHOWN} more"] if len(items) > SHOWN else []
    return [f"{title} ({len(items)}):", *(f"    {item}" for item in items[:SHOWN]), *more]


def _show(k: Key) -> str:
    ctx, msgid, plural = k
    text = repr(msgid) + (f" / plural {plural!r}" if plural else "")
    return f"[{ctx}] {text}" if ctx else text


def check(root: Path) -> list[str]:
    """Return every way the committed catalogue differs from the code and from its compiled form (none: in step)."""
    catalogue_po, catalogue_mo = root / CATALOGUE, (root / CATALOGUE).with_suffix(".mo")
    if not catalogue_po.exists():
        return [f"{CATALOGUE} is missing."]
    committed = entries(catalogue_po)
    with tempfile.TemporaryDirectory(prefix="catalogue-") as tmp:
        copy = Path(tmp)
        fresh = fresh_msgids(root, copy)
        problems = _listed("in the code, missing from the catalogue", sorted(map(_show, fresh.keys() - committed)))
        problems += _listed("in the catalogue, no longer in the code", sorted(map(_show, committed.keys() - fresh)))
        problems += _listed("untranslated", sorted(_show(k) for k, e in committed.items() if not is_translated(e)))
        problems += _listed("fuzzy (to review)", sorted(_show(k) for k, e in committed.items() if "fuzzy" in e.flags))
        shutil.copy2(catalogue_po, copy / CATALOGUE)
        manage(copy, *COMPILEMESSAGES, "-v0")
        made = (copy / CATALOGUE).with_suffix(".mo").read_bytes()
    if not catalogue_mo.exists() or catalogue_mo.read_bytes() != made:
        problems.append(f"{catalogue_mo.relative_to(root)} is not what compilemessages makes of {CATALOGUE}.")
    return problems


@dataclass
class MergeReport:
    used: list[str] = field(default_factory=list)  # filled an empty or fuzzy entry
    kept: list[str] = field(default_factory=list)  # the catalogue's reviewed translation differs: it stays
    waiting: list[str] = field(default_factory=list)  # not in the code (yet): stays in its pending file
    removed_files: list[str] = field(default_factory=list)


def merge_pending(catalogue: polib.POFile, pending_dir: Path) -> MergeReport:
    """Merge every pending file into `catalogue` (in memory) and rewrite the pending files with what is left."""
    report = MergeReport()
    by_key = {key(e): e for e in catalogue if not e.obsolete}
    for path in sorted(pending_dir.glob("*.po")):
        pending = polib.pofile(str(path), wrapwidth=79)
        left = []
        for entry in pending:
            if entry.obsolete or not is_translated(entry):
                left.append(entry)
                continue
            where = f"{path.name}: {_show(key(entry))}"
            target = by_key.get(key(entry))
            if target is None:
                report.waiting.append(where)
                left.append(entry)
            elif not is_translated(target) or "fuzzy" in target.flags:
                target.msgstr, target.msgstr_plural = entry.msgstr, dict(entry.msgstr_plural)
                if "fuzzy" in target.flags:
                    target.flags.remove("fuzzy")
                target.previous_msgid = target.previous_msgid_plural = target.previous_msgctxt = None
                report.used.append(where)
            elif (target.msgstr, target.msgstr_plural) != (entry.msgstr, dict(entry.msgstr_plural)):
                report.kept.append(where)
        if left:
            pending[:] = left
            pending.save()
        else:
            path.unlink()
            report.removed_files.append(path.name)
    return report


def merge(root: Path) -> MergeReport:
    """Update the catalogue from the code, merge the pending translations, compile it."""
    manage(root, *MAKEMESSAGES, "-v0")
    catalogue = polib.pofile(str(root / CATALOGUE), wrapwidth=79)
    report = merge_pending(catalogue, root / PENDING)
    catalogue.save()
    manage(root, *COMPILEMESSAGES, "-v0")
    return report


class Command(BaseCommand):
    help = "Merge locale/pending/*.po into the zh-hans catalogue and compile it (merge), or check it (check)."
    requires_system_checks: list[str] = []

    def add_arguments(self, parser):
        parser.add_argument("action", choices=["merge", "check"])

    def handle(self, *args, action: str, **options):
        root = Path(settings.BASE_DIR)
        if action == "check":
            problems = check(root)
            if problems:
                raise CommandError("The zh-hans catalogue is not in step with the code; run `make messages`, "
                                   "translate what is missing, and commit the .po and the .mo:\n  "
                                   + "\n  ".join(problems))
            self.stdout.write(self.style.SUCCESS(f"{CATALOGUE}: every msgid of the code, translated, compiled."))
            return
        report = merge(root)
        for title, items in (("pending translations used", report.used),
                             ("pending translations not used: the catalogue's reviewed one differs", report.kept),
                             ("pending translations whose msgid is not in the code (left in place)", report.waiting)):
            for line in _listed(title, items):
                self.stdout.write(line)
        for name in report.removed_files:
            self.stdout.write(f"{PENDING / name}: merged, removed")
        untranslated = [e for e in polib.pofile(str(root / CATALOGUE)) if not is_translated(e) or "fuzzy" in e.flags]
        if untranslated:
            self.stdout.write(self.style.WARNING(f"{len(untranslated)} entries of {CATALOGUE} are untranslated or "
                                                 "fuzzy: translate them (`make lint` fails until then)."))
