"""The catalogue tooling (manage.py catalogue): pending translations merged by its rules, and the check's failures."""

import os
import shutil
import subprocess
from pathlib import Path

import polib
import pytest
from django.conf import settings

from numbers.management.commands import catalogue as tool

ROOT = Path(settings.BASE_DIR)
# In CI (.ci/run installs gettext) a missing msgfmt fails these tests instead of skipping them.
needs_gettext = pytest.mark.skipif(shutil.which("msgfmt") is None and os.environ.get("CI") != "true",
                                   reason="GNU gettext is not installed (.ci/run installs it)")


def _po(entries: list[polib.POEntry]) -> polib.POFile:
    po = polib.POFile(wrapwidth=79)
    po.metadata = {"Content-Type": "text/plain; charset=UTF-8", "Plural-Forms": "nplurals=1; plural=0;"}
    po.extend(entries)
    return po


def test_a_pending_translation_fills_only_an_empty_or_fuzzy_entry(tmp_path):
    catalogue = _po([
        polib.POEntry(msgid="empty", msgstr=""),
        polib.POEntry(msgid="fuzzy", msgstr="旧的建议", flags=["fuzzy"], previous_msgid="fuzz"),
        polib.POEntry(msgid="reviewed", msgstr="已审定"),
        polib.POEntry(msgid="same", msgstr="一样"),
        polib.POEntry(msgid="%(n)d file", msgid_plural="%(n)d files", msgstr_plural={0: ""}),
        polib.POEntry(msgctxt="platform status", msgid="suspended", msgstr=""),
    ])
    pending = tmp_path / "pending"
    pending.mkdir()
    _po([polib.POEntry(msgid="empty", msgstr="填上"), polib.POEntry(msgid="fuzzy", msgstr="新的"),
         polib.POEntry(msgid="reviewed", msgstr="另一种说法"), polib.POEntry(msgid="same", msgstr="一样"),
         polib.POEntry(msgid="%(n)d file", msgid_plural="%(n)d files", msgstr_plural={0: "%(n)d 个文件"}),
         polib.POEntry(msgctxt="platform status", msgid="suspended", msgstr="已停用")]).save(str(pending / "a.po"))
    _po([polib.POEntry(msgid="not in the code yet", msgstr="还没有"),
         polib.POEntry(msgid="untranslated", msgstr="")]).save(str(pending / "b.po"))

    report = tool.merge_pending(catalogue, pending)

    got = {(e.msgctxt, e.msgid): (e.msgstr or e.msgstr_plural.get(0), e.flags) for e in catalogue}
    assert got == {(None, "empty"): ("填上", []), (None, "fuzzy"): ("新的", []), (None, "reviewed"): ("已审定", []),
                   (None, "same"): ("一样", []), (None, "%(n)d file"): ("%(n)d 个文件", []),
                   ("platform status", "suspended"): ("已停用", [])}
    assert catalogue.find("fuzzy").previous_msgid is None
    assert len(report.used) == 4 and [k.split(":")[0] for k in report.kept] == ["a.po"]
    assert report.waiting == ["b.po: 'not in the code yet'"] and report.removed_files == ["a.po"]
    assert not (pending / "a.po").exists()
    left = polib.pofile(str(pending / "b.po"))
    assert [e.msgid for e in left] == ["not in the code yet", "untranslated"]


@needs_gettext
def test_the_committed_catalogue_is_in_step_with_the_code():
    assert tool.check(ROOT) == []


@needs_gettext
def test_the_check_names_what_is_missing_untranslated_fuzzy_or_stale(tmp_path):
    # A copy of the sources with a catalogue that lost one entry, left one untranslated, marked one fuzzy,
    # holds one the code no longer has, and a .mo that is not its compiled form.
    tool.copy_sources(ROOT, tmp_path)
    (tmp_path / tool.CATALOGUE.parent).mkdir(parents=True)
    po = polib.pofile(str(ROOT / tool.CATALOGUE))
    live = [e for e in po if not e.obsolete and not e.msgid_plural and not e.msgctxt]
    dropped, untranslated, fuzzy = live[0].msgid, live[1].msgid, live[2].msgid
    po.remove(live[0])
    live[1].msgstr = ""
    live[2].flags.append("fuzzy")
    po.append(polib.POEntry(msgid="A message the code no longer has", msgstr="代码里已经没有的消息"))
    po.save(str(tmp_path / tool.CATALOGUE))
    shutil.copy2(ROOT / tool.CATALOGUE.with_suffix(".mo"), tmp_path / tool.CATALOGUE.with_suffix(".mo"))

    problems = "\n".join(tool.check(tmp_path))

    assert "missing from the catalogue (1)" in problems and repr(dropped) in problems
    assert "no longer in the code (1)" in problems and "A message the code no longer has" in problems
    assert "untranslated (1)" in problems and repr(untranslated) in problems
    assert "fuzzy (to review) (1)" in problems and repr(fuzzy) in problems
    assert "django.mo is not what compilemessages makes" in problems


@needs_gettext
def test_moved_code_does_not_fail_the_check(tmp_path):
    """Locations differ, msgids do not: the comparison is made after msgcat --no-location --sort-output."""
    tool.copy_sources(ROOT, tmp_path)
    (tmp_path / tool.CATALOGUE.parent).mkdir(parents=True)
    text = (ROOT / tool.CATALOGUE).read_text(encoding="utf-8").replace("#: templates/", "#: moved/templates/")
    (tmp_path / tool.CATALOGUE).write_text(text, encoding="utf-8")
    subprocess.run(["msgfmt", "--check-format", "-o", str(tmp_path / tool.CATALOGUE.with_suffix(".mo")),
                    str(tmp_path / tool.CATALOGUE)], check=True)
    assert tool.check(tmp_path) == []
