"""Harassment reports: evidence checked by content and size, stored outside the web root, for regulators only."""

import pytest
from django.core.files.uploadedfile import SimpleUploadedFile
from django.test import Client

from numbers import roles
from renewal.models import Evidence, HarassmentReport
from tests.factories import staff_user
from tests.renewal.helpers_subscriber import allocated, sign_in

PNG = b"\x89PNG\r\n\x1a\n" + b"\x00" * 64
PDF = b"%PDF-1.7\n%\xe2\xe3\xcf\xd3\n1 0 obj<<>>endobj\ntrailer<<>>\n%%EOF\n"
EXE = b"MZ\x90\x00\x03\x00\x00\x00\x04\x00\x00\x00\xff\xff" + b"\x00" * 64


@pytest.fixture(autouse=True)
def private_root(settings, tmp_path):
    settings.PRIVATE_FILES_ROOT = tmp_path / "private"
    return settings.PRIVATE_FILES_ROOT


def _stored_files(root):
    return [p for p in root.rglob("*") if p.is_file()] if root.exists() else []


def _report(client, *files, **overrides):
    data = {"category": "debt_collection", "sender": "+86 400 123 4567", "occurred_at": "2026-11-01T09:30",
            "description": "They call every day asking for the old holder's loan.", **overrides}
    data["evidence"] = list(files)
    return client.post("/renew/report", data)


def test_a_report_with_evidence_gets_a_reference_and_is_stored_outside_the_web_root(client, holder, private_root,
                                                                                     settings):
    number, period = holder
    sign_in(client, number.msisdn)
    response = _report(client, SimpleUploadedFile("call.png", PNG, "image/png"),
                       SimpleUploadedFile("letter.bin", PDF, "application/octet-stream"))
    assert response.status_code == 302
    report = HarassmentReport.objects.get()
    assert report.holder_period == period and report.reference.startswith("HR-")
    page = client.get(response["Location"]).content.decode()
    assert report.reference in page
    assert sorted(Evidence.objects.values_list("content_type", flat=True)) == ["application/pdf", "image/png"]
    stored = _stored_files(private_root)
    assert len(stored) == 2 and all(settings.STATIC_ROOT not in p.parents for p in stored)
    assert {p.suffix for p in stored} == {".png", ".pdf"}  # named by the proven type, not the upload
    assert report.reference in client.get("/renew/number").content.decode()


@pytest.mark.parametrize("upload,message", [
    (("photo.png", EXE, "image/png"), "is not an image"),  # a renamed executable
    (("notes.pdf", b"just text, not a PDF", "application/pdf"), "is not an image"),
    (("empty.png", b"", "image/png"), "submitted file is empty"),
])
def test_uploads_refused_by_content_with_nothing_stored(client, holder, private_root, upload, message):
    number, _ = holder
    sign_in(client, number.msisdn)
    response = _report(client, SimpleUploadedFile("ok.png", PNG, "image/png"), SimpleUploadedFile(*upload))
    assert response.status_code == 400
    body = response.content.decode()
    assert message in body and 'href="#id_evidence"' in body
    assert not HarassmentReport.objects.exists() and not Evidence.objects.exists()
    assert _stored_files(private_root) == []


def test_uploads_refused_by_size_and_count_with_nothing_stored(client, holder, private_root, settings):
    number, _ = holder
    sign_in(client, number.msisdn)
    settings.EVIDENCE_MAX_BYTES = 1024
    response = _report(client, SimpleUploadedFile("big.png", PNG + b"\x00" * 2000, "image/png"))
    assert response.status_code == 400 and "may be at most 1.0" in response.content.decode()
    settings.EVIDENCE_MAX_BYTES = 10**6
    settings.EVIDENCE_MAX_FILES = 2
    response = _report(client, *[SimpleUploadedFile(f"{i}.png", PNG, "image/png") for i in range(3)])
    assert response.status_code == 400 and "at most 2 files" in response.content.decode()
    assert not HarassmentReport.objects.exists() and _stored_files(private_root) == []


def test_bad_fields_are_refused_and_listed_in_the_error_summary(client, holder):
    number, _ = holder
    sign_in(client, number.msisdn)
    response = _report(client, category="spam", sender="", occurred_at="2999-01-01T00:00", description="")
    body = response.content.decode()
    assert response.status_code == 400
    for field in ("category", "sender", "occurred_at", "description"):
        assert f'href="#id_{field}' in body
    assert "in the future" in body
    assert not HarassmentReport.objects.exists()


def test_a_failure_while_storing_leaves_no_file(holder, private_root, monkeypatch):
    from renewal.active import reports
    from renewal.active.forms import EvidenceField

    _, period = holder
    files = EvidenceField(required=False).clean([SimpleUploadedFile("a.png", PNG, "image/png"),
                                                 SimpleUploadedFile("b.png", PNG, "image/png")])
    created = Evidence.objects.create

    def fail_second(**kwargs):
        if Evidence.objects.exists():
            raise RuntimeError("disk full")
        return created(**kwargs)

    monkeypatch.setattr(Evidence.objects, "create", fail_second)
    with pytest.raises(RuntimeError):
        reports.harassment_report_create(period=period, category="fraud", sender="x", occurred_at=period.started_at,
                                         description="y", files=files)
    assert not HarassmentReport.objects.exists() and _stored_files(private_root) == []


def test_another_subscribers_report_is_404(client, holder, operator, outlet, clerk):
    number, _ = holder
    other_number, _ = allocated(operator, outlet, clerk)
    other = Client(headers={"accept-language": "en"})
    sign_in(other, other_number.msisdn, address="10.0.0.2")
    reference = _report(other)["Location"].rsplit("/", 1)[1]
    sign_in(client, number.msisdn)
    assert client.get(f"/renew/reports/{reference}").status_code == 404
    assert other.get(f"/renew/reports/{reference}").status_code == 200


def test_evidence_is_readable_by_regulators_only(client, holder, clerk):
    number, _ = holder
    sign_in(client, number.msisdn)
    _report(client, SimpleUploadedFile("call.png", PNG, "image/png"))
    evidence = Evidence.objects.get()
    url = f"/renew/evidence/{evidence.pk}"
    # the subscriber who sent it, anonymous people and sales staff cannot read it
    assert client.get(url)["Location"].startswith("/admin/login/")
    staff = Client()
    staff.force_login(clerk)
    assert staff.get(url).status_code == 403
    regulator = Client()
    regulator.force_login(staff_user(role=roles.REGULATOR, username="reg"))
    response = regulator.get(url)
    assert response.status_code == 200 and response["Content-Type"] == "image/png"
    assert b"".join(response.streaming_content) == PNG
    assert "attachment" in response["Content-Disposition"]
    # and in the admin
    admin_page = regulator.get(f"/admin/renewal/harassmentreport/{evidence.report_id}/change/")
    assert admin_page.status_code == 200 and url in admin_page.content.decode()


def test_evidence_is_not_under_the_static_files(settings, private_root):
    assert settings.STATIC_ROOT not in private_root.parents
    assert all(d not in private_root.parents for d in map(type(private_root), settings.STATICFILES_DIRS))
