"""The unbind request as the subscriber reads it: what needs them first, the progress bar, the summary SMS with a
short link back, the printable proof, and the harassment report's authorities and status."""

import re
from pathlib import Path

import pytest
from django.core.cache import cache
from django.test import override_settings
from django.utils import timezone, translation

from renewal.active import outcomes
from renewal.active import services as unbind
from renewal.models import ReportAuthority, ReportStatus, SmsMessage, UnbindRequest, UnbindResult
from tests.renewal.helpers_subscriber import sign_in

ROOT = Path(__file__).resolve().parents[3]


def _unbind_all(client) -> UnbindRequest:
    response = client.post("/renew/unbind", {"all": "1"})
    return UnbindRequest.objects.get(pk=response["Location"].rsplit("/", 1)[1])


def _answer(request, results, capture):
    """Report results {platform name: (status, detail)} as each platform would, running what follows the commit."""
    for task in request.tasks.select_related("platform"):
        if task.platform.name in results:
            status, detail = results[task.platform.name]
            with capture(execute=True):
                unbind.unbind_task_report(platform=task.platform, task_id=task.pk, status=status,
                                          accounts=1 if status == "unbound" else None, detail=detail,
                                          reason="other" if status == "rejected" else "")


def test_what_needs_the_subscriber_comes_first_with_the_next_step_and_the_rest_is_collapsed(
        client, holder, platforms, django_capture_on_commit_callbacks):
    number, _ = holder
    sign_in(client, number.msisdn)
    request = _unbind_all(client)
    _answer(request, {"Alipay": ("rejected", "enterprise account"), "WeChat": ("unbound", ""),
                      "Taobao": ("nothing_bound", "")}, django_capture_on_commit_callbacks)
    page = client.get(f"/renew/requests/{request.pk}").content.decode()
    needs = page.index('data-group="needs_you"')
    assert needs < page.index('data-group="unbound"') < page.index('data-group="nothing_bound"')
    # The reason in the page's language and the next step are the headline; the platform's words come beneath.
    assert "could not remove the old account" in page[needs:] and "Contact the platform" in page[needs:]
    assert "own words:" in page and "enterprise account" in page
    assert "rejected: enterprise account" not in page
    # Done groups are collapsed; the progress bar beside "N of M".
    assert re.search(r'<details class="group group-unbound" data-group="unbound">', page)
    assert '<progress id="request-progress" max="5" value="3">' in page
    assert "3 of 5 platforms have answered." in page
    status = client.get(f"/renew/requests/{request.pk}/status").json()
    assert (status["done"], status["total"]) == (3, 5)
    assert 'data-group="needs_you"' in status["html"] and "<progress" in status["html"]


@pytest.mark.parametrize("reason", sorted(outcomes.REASONS))
def test_every_reason_code_reads_as_a_sentence_with_a_next_step_in_both_languages(reason, platforms):
    for language in ("en", "zh-hans"):
        with translation.override(language):
            shown = outcomes.rejection(status="rejected", reason=reason, detail="raw", platform=platforms[0])
            assert str(shown["headline"]) and str(shown["next_step"]) and shown["detail"] == "raw"
            assert reason not in str(shown["headline"])


def test_a_platforms_support_contact_is_shown_beside_its_rejection(platforms):
    platform = platforms[0]
    platform.support_url = "https://help.example.cn/unbind"
    assert outcomes.support_contact(platform) == {"phone": "", "url": "https://help.example.cn/unbind"}
    platform.support_phone, platform.support_url = "95188", ""
    assert outcomes.support_contact(platform) == {"phone": "95188", "url": ""}


@override_settings(PUBLIC_BASE_URL="https://renewal.example.cn")
def test_the_finished_request_is_texted_once_with_a_short_link(client, holder, platforms,
                                                              django_capture_on_commit_callbacks):
    number, _ = holder
    sign_in(client, number.msisdn)
    request = _unbind_all(client)
    SmsMessage.objects.all().delete()
    _answer(request, {"Alipay": ("rejected", "x"), "WeChat": ("unbound", ""), "Taobao": ("unbound", ""),
                      "Gov Service": ("nothing_bound", "")}, django_capture_on_commit_callbacks)
    assert not SmsMessage.objects.exists()  # not finished: one platform still to answer
    _answer(request, {"Tag Co": ("nothing_bound", "")}, django_capture_on_commit_callbacks)
    (sms,) = SmsMessage.objects.all()
    request.refresh_from_db()
    assert sms.to == number.msisdn and request.summary_sent_at is not None
    assert f"https://renewal.example.cn/r/{request.reference}" in sms.body
    with translation.override("en"):
        assert "2 removed, 2 had none, 1 need you" in unbind.summary_message(
            request, outcomes.board(unbind.request_tasks(request)))
    # Once only: a second message, a sweep or a retry sends nothing more.
    assert unbind.unbind_summary_send(request_id=request.pk) is False
    with django_capture_on_commit_callbacks(execute=True):
        unbind.unbind_deadline_sweep()
    assert SmsMessage.objects.count() == 1


def test_a_request_finished_by_the_deadline_is_texted_too(client, holder, platforms,
                                                         django_capture_on_commit_callbacks):
    number, _ = holder
    sign_in(client, number.msisdn)
    request = _unbind_all(client)
    SmsMessage.objects.all().delete()
    with django_capture_on_commit_callbacks(execute=True):
        unbind.unbind_deadline_sweep(now=timezone.now() + timezone.timedelta(days=2))
    request.refresh_from_db()
    assert request.finished_at and request.tasks.filter(result=UnbindResult.NO_ANSWER).count() == 5
    assert SmsMessage.objects.filter(to=number.msisdn).count() == 1


def _pending_catalogue() -> dict[str, str]:
    """msgid -> msgstr of this branch's pending translations (merged into the catalogue later)."""
    text = (ROOT / "locale" / "pending" / "issue-17.po").read_text(encoding="utf-8")
    pairs = {}
    for block in text.split("\n\n"):
        ids = re.findall(r'^msgid "(.*)"$((?:\n".*")*)', block, re.M)
        strs = re.findall(r'^msgstr "(.*)"$((?:\n".*")*)', block, re.M)
        if ids and strs:
            def join(first, rest):
                return (first + "".join(re.findall(r'"(.*)"', rest))).encode().decode("unicode_escape") \
                    .encode("latin-1").decode("utf-8")
            pairs[join(*ids[0])] = join(*strs[0])
    return pairs


def _zh(msgid: str) -> str:
    with translation.override("zh-hans"):
        translated = translation.gettext(msgid)
    return translated if translated != msgid else _pending_catalogue()[msgid]


@override_settings(PUBLIC_BASE_URL="https://renewal.example.cn")
def test_every_sms_fits_one_segment_in_chinese():
    """A zh-hans SMS segment holds 70 characters (UCS-2); the portal's texts, at their longest, fit in one."""
    from numbers.sales.services import DISCLOSURE_SMS
    from renewal.active.sms import CODE_SMS

    longest = {
        CODE_SMS: {"code": "123456", "minutes": 5},
        unbind.SUMMARY_SMS: {"unbound": 245, "nothing": 245, "needs": 245},
        DISCLOSURE_SMS: {"number": "138 0013 8000", "date": "2026-12-31", "url": "https://renewal.example.cn/renew/"},
    }
    for msgid, values in longest.items():
        text = _zh(msgid) % values
        if msgid == unbind.SUMMARY_SMS:
            text += " https://renewal.example.cn/r/ABCDEFGH"
        assert len(text) <= 70, (len(text), text)


def test_the_short_link_signs_in_then_opens_the_request(client, holder, platforms):
    number, _ = holder
    sign_in(client, number.msisdn)
    request = _unbind_all(client)
    assert client.get(f"/r/{request.reference}")["Location"] == f"/renew/requests/{request.pk}"
    client.post("/renew/logout")
    # Signed out, any reference answers alike: to the sign-in page.
    for reference in (request.reference, "ZZZZZZZZ"):
        response = client.get(f"/r/{reference}")
        assert response.status_code == 302 and response["Location"] == "/renew/"
    client.get(f"/r/{request.reference}")
    cache.clear()  # the first sign-in's code a minute ago
    response = sign_in_to(client, number.msisdn)
    assert response["Location"] == f"/renew/requests/{request.pk}"


def sign_in_to(client, msisdn):
    from tests.renewal.helpers_subscriber import last_code

    client.post("/renew/", {"msisdn": msisdn}, REMOTE_ADDR="10.1.1.1")
    return client.post("/renew/code", {"code": last_code(msisdn)}, REMOTE_ADDR="10.1.1.1")


def test_the_proof_lists_every_platforms_outcome(client, holder, platforms, django_capture_on_commit_callbacks):
    number, _ = holder
    sign_in(client, number.msisdn)
    request = _unbind_all(client)
    _answer(request, {"Alipay": ("rejected", "x")}, django_capture_on_commit_callbacks)
    page = client.get(f"/renew/requests/{request.pk}/proof").content.decode()
    assert request.reference in page and number.national in page
    for platform in platforms:
        assert platform.name in page
    assert "could not remove the old account" in page and "data-print" in page and "onclick" not in page


def test_choosing_some_starts_with_none_ticked_and_offers_all_and_none(client, holder, platforms):
    number, _ = holder
    sign_in(client, number.msisdn)
    page = client.get("/renew/number").content.decode()
    assert 'name="platforms"' in page and " checked" not in page.split("data-choose", 1)[1].split("</form>")[0]
    assert 'data-select="all"' in page and 'data-select="none"' in page
    response = client.post("/renew/unbind", {})
    assert response.status_code == 302 and response["Location"] == "/renew/number"
    assert not UnbindRequest.objects.exists()


def test_after_a_report_the_subscriber_sees_who_handles_it_and_the_status_the_regulator_sets(
        client, holder, regulator):
    from django.test import Client

    from renewal.models import HarassmentReport

    number, _ = holder
    # The rows the migration seeds (made here too: a transactional test before this one flushes them).
    for phone, category in (("12378", "debt_collection"), ("110", "fraud")):
        ReportAuthority.objects.get_or_create(category=category, phone=phone, defaults={"name": f"{phone} hotline"})
    sign_in(client, number.msisdn)
    response = client.post("/renew/report", {"category": "debt_collection", "sender": "95000",
                                             "occurred_at": "2026-01-02 10:00", "description": "calls"})
    report = HarassmentReport.objects.get()
    page = client.get(response["Location"]).content.decode()
    assert "12378" in page and "Who handles this kind of harassment" in page
    assert "110 hotline" not in page  # another kind's authority
    assert ">new" in page
    # The regulator sets the status in admin; the subscriber's page shows it.
    admin = Client()
    admin.force_login(regulator)
    admin.post(f"/admin/renewal/harassmentreport/{report.pk}/change/", {
        "status": ReportStatus.IN_REVIEW, "notes": "called the lender", "evidence-TOTAL_FORMS": "0",
        "evidence-INITIAL_FORMS": "0", "evidence-MIN_NUM_FORMS": "0", "evidence-MAX_NUM_FORMS": "1000"})
    report.refresh_from_db()
    assert report.status == ReportStatus.IN_REVIEW
    assert "in review" in client.get(response["Location"]).content.decode()


def test_the_authorities_are_seeded_with_the_national_hotlines():
    """The migration that makes the table seeds it (found by what it holds: migrations get renumbered)."""
    from django.db.migrations.loader import MigrationLoader

    loader = MigrationLoader(None, ignore_no_migrations=True)
    seeded = [m for (app, _name), m in loader.disk_migrations.items()
              if app == "renewal" and hasattr(__import__(m.__module__, fromlist=["x"]), "AUTHORITIES")]
    (migration,) = seeded
    rows = __import__(migration.__module__, fromlist=["x"]).AUTHORITIES
    phones = {phone for _c, _p, _n, phone, _h, _u in rows}
    assert {"12321", "12378", "110", "96110", "12377", "12300"} <= phones
    assert {c for c, *_ in rows} == {"debt_collection", "marketing", "fraud", "other"}


def test_the_system_check_warns_when_the_public_address_makes_the_summary_two_segments(settings):
    from renewal.active.checks import check_summary_sms_fits, summary_sms_length

    settings.PUBLIC_BASE_URL = "https://renewal.example.cn"
    assert summary_sms_length(settings.PUBLIC_BASE_URL) <= 70 and check_summary_sms_fits(None) == []
    settings.PUBLIC_BASE_URL = "https://number-renewal.operator-portal.example.com.cn"
    [warning] = check_summary_sms_fits(None)
    assert warning.id == "renewal.W001" and "more than one SMS segment" in warning.msg
    room = int(warning.hint.split("at most ")[1].split()[0])
    settings.PUBLIC_BASE_URL = "https://" + "x" * (room - len("https://"))
    assert check_summary_sms_fits(None) == []
    settings.PUBLIC_BASE_URL += "x"
    assert len(check_summary_sms_fits(None)) == 1
