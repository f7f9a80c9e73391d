"""The subscriber pages in Simplified Chinese (chosen for Chinese browsers) and English, all translated."""

import gettext
import re
from pathlib import Path

import pytest
from django.conf import settings
from django.core.files.uploadedfile import SimpleUploadedFile
from django.test import Client

from renewal.active import services as unbind
from tests.renewal.helpers_subscriber import sign_in

PO = Path(settings.BASE_DIR) / "locale" / "zh_Hans" / "LC_MESSAGES" / "django.po"
MO = PO.with_suffix(".mo")
# Files whose every message must be translated (the subscriber pages, base.html and home.html).
OWNED = ("templates/subscriber/", "templates/base.html", "templates/home.html", "renewal/active/")


def _unquote(line: str) -> str:
    return line[line.index('"') + 1:line.rindex('"')].encode().decode("unicode_escape").encode("latin-1").decode()


def po_entries() -> list[dict]:
    """Parse the .po file: msgid, msgid_plural, msgstrs, flags and source references of each entry."""
    entries, current, field = [], None, None
    for raw in PO.read_text(encoding="utf-8").splitlines() + [""]:
        line = raw.strip()
        if not line:
            if current and current.get("msgid"):
                entries.append(current)
            current, field = None, None
            continue
        current = current or {"refs": [], "flags": [], "msgctxt": "", "msgid": "", "msgid_plural": "", "msgstr": []}
        if line.startswith("#:"):
            current["refs"] += line[2:].split()
        elif line.startswith("#,"):
            current["flags"] += [f.strip() for f in line[2:].split(",")]
        elif line.startswith("#"):
            continue
        elif line.startswith("msgctxt"):
            field, current["msgctxt"] = "msgctxt", _unquote(line)
        elif line.startswith("msgid_plural"):
            field, current["msgid_plural"] = "msgid_plural", _unquote(line)
        elif line.startswith("msgid"):
            field, current["msgid"] = "msgid", _unquote(line)
        elif line.startswith("msgstr"):
            field = "msgstr"
            current["msgstr"].append(_unquote(line))
        elif line.startswith('"'):
            if field == "msgstr":
                current["msgstr"][-1] += _unquote(line)
            else:
                current[field] += _unquote(line)
    return entries


def _owned(entry) -> bool:
    return any(ref.startswith(OWNED) for ref in entry["refs"])


def test_no_untranslated_or_fuzzy_message_of_these_pages():
    entries = [e for e in po_entries() if _owned(e)]
    assert len(entries) > 100
    untranslated = [e["msgid"] for e in entries if not all(e["msgstr"]) or "fuzzy" in e["flags"]]
    assert untranslated == []


def test_the_compiled_catalogue_matches_the_po_file():
    with MO.open("rb") as f:
        catalogue = gettext.GNUTranslations(f)
    checked = 0
    for entry in po_entries():
        if entry["msgid_plural"] or not entry["msgstr"][0]:
            continue
        if entry["msgctxt"]:
            assert catalogue.pgettext(entry["msgctxt"], entry["msgid"]) == entry["msgstr"][0], entry["msgid"]
        else:
            assert catalogue.gettext(entry["msgid"]) == entry["msgstr"][0], entry["msgid"]
        checked += 1
    assert checked > 100


def _client(language: str) -> Client:
    return Client(headers={"accept-language": language})


def _visible_english(html: str) -> list[str]:
    """English message ids of these pages that appear in a page rendered in Chinese."""
    text = re.sub(r"<[^>]+>", " ", html)
    found = []
    for entry in po_entries():
        msgid = entry["msgid"]
        if _owned(entry) and "%" not in msgid and "<" not in msgid and len(msgid) > 8 and msgid in text:
            found.append(msgid)
    return found


def test_a_chinese_browser_gets_zh_hans_on_every_page(holder, platforms, settings, tmp_path):
    settings.PRIVATE_FILES_ROOT = tmp_path
    number, period = holder
    client = _client("zh-CN,zh;q=0.9,en;q=0.5")
    home = client.get("/").content.decode()
    assert '<html lang="zh-hans">' in home and "您的号码以前有人用过？" in home and "跳到正文" in home
    start = client.get("/renew/").content.decode()
    assert "解除原机主在您号码上的账号绑定" in start and "获取验证码" in start and 'name="language"' in start
    bad = client.post("/renew/", {"msisdn": "123"}).content.decode()
    assert "出现问题" in bad and "不是有效的手机号码" in bad
    sign_in(client, number.msisdn)
    overview = client.get("/renew/number").content.decode()
    assert "一键解绑全部" in overview and "只会解除在此时间之前建立的绑定" in overview
    assert "来电显示与号码标记" in overview
    report_form = client.get("/renew/report").content.decode()
    assert "举报骚扰" in report_form and "催收" in report_form and "对方号码或名称" in report_form
    response = client.post("/renew/report", {"category": "fraud", "sender": "x", "occurred_at": "2026-11-01T10:00",
                                             "description": "y",
                                             "evidence": [SimpleUploadedFile("a.exe", b"MZ\x90\x00", "image/png")]})
    assert "不是图片" in response.content.decode()
    response = client.post("/renew/report", {"category": "fraud", "sender": "x", "occurred_at": "2026-11-01T10:00",
                                             "description": "y"})
    report_page = client.get(response["Location"]).content.decode()
    assert "您的受理编号是" in report_page
    request = unbind.unbind_request_create(period=period)
    detail = client.get(f"/renew/requests/{request.pk}").content.decode()
    assert "解绑申请" in detail and "等待中" in detail
    assert "个平台中已有 0 个答复" in client.get(f"/renew/requests/{request.pk}/status").json()["progress"]
    for page in (home, start, bad, overview, report_form, report_page, detail):
        assert _visible_english(page) == []


@pytest.mark.parametrize("path", ["/", "/renew/"])
def test_english_is_there_too_and_the_switch_sets_it(path, db):
    client = _client("zh-CN")
    response = client.post("/i18n/setlang/", {"language": "en", "next": path})
    assert response.status_code == 302
    page = client.get(path).content.decode()
    assert '<html lang="en">' in page and ("Send me a code" in page or "Got a number" in page)
