"""Harassment reports in admin: the regulator's filters (category, status, week), the CSV export, and evidence
previews that show only raster images whose bytes match, and never run anything."""

from datetime import timedelta

import pytest
from django.core.files.base import ContentFile
from django.urls import reverse
from django.utils import timezone

from renewal.active.reports import evidence_storage
from renewal.models import Evidence, HarassmentReport
from tests.renewal.helpers_subscriber import allocated

PNG = b"\x89PNG\r\n\x1a\n" + b"\x00" * 64
JPEG = b"\xff\xd8\xff\xe0\x00\x10JFIF\x00" + b"\x00" * 64
WEBP = b"RIFF\x24\x00\x00\x00WEBPVP8 " + b"\x00" * 64
SVG = b'<svg xmlns="http://www.w3.org/2000/svg"><script>alert(1)</script></svg>'
LIST = reverse("admin:renewal_harassmentreport_changelist")


@pytest.fixture(autouse=True)
def private_root(settings, tmp_path):
    settings.PRIVATE_FILES_ROOT = tmp_path / "private"


@pytest.fixture
def reports(operator, outlet, clerk):
    number, period = allocated(operator, outlet, clerk)
    now = timezone.now()

    def report(category, status, days_ago, description="They call every day."):
        return HarassmentReport.objects.create(number=number, holder_period=period, category=category,
                                               sender="95xxx", occurred_at=now, description=description,
                                               status=status, created_at=now - timedelta(days=days_ago))

    return [report("marketing", "new", 0), report("fraud", "closed", 0, "=HYPERLINK(\"http://x\")"),
            report("marketing", "in_review", 21)]


def _evidence(report, content: bytes, content_type: str, name: str) -> Evidence:
    path = evidence_storage().save(f"evidence/{name}", ContentFile(content))
    return Evidence.objects.create(report=report, path=path, original_name=name, content_type=content_type,
                                   size=len(content), sha256="0" * 64)


def test_filters_by_category_status_and_week(client, regulator, reports):
    client.force_login(regulator)

    def shown(**params):
        return {r.pk for r in client.get(LIST, params).context["cl"].queryset}

    assert shown(category="marketing") == {reports[0].pk, reports[2].pk}
    assert shown(status="closed") == {reports[1].pk}
    today = timezone.localdate()
    this_week = (today - timedelta(days=today.weekday())).isoformat()
    assert shown(week=this_week) == {reports[0].pk, reports[1].pk}
    assert shown(week=this_week, category="marketing") == {reports[0].pk}
    assert shown(week="not-a-date") == set()


def test_the_export_is_csv_with_defused_cells_and_follows_the_filters(client, regulator, reports):
    client.force_login(regulator)
    response = client.get(reverse("admin:renewal_harassmentreport_export_csv"), {"category": "fraud"})
    text = b"".join(response.streaming_content).decode("utf-8-sig")
    lines = text.splitlines()
    assert lines[0].startswith("reference,msisdn,category,sender,occurred_at,description")
    assert len(lines) == 2 and reports[1].reference in lines[1]
    assert "'=HYPERLINK" in lines[1]  # a formula is written as text


def test_the_export_is_the_regulators(client, operator, reports):
    from numbers import roles
    from tests.factories import staff_user

    client.force_login(staff_user(role=roles.OPERATOR_ADMIN, operator=operator, username="oa"))
    assert client.get(reverse("admin:renewal_harassmentreport_export_csv")).status_code in (302, 403)


@pytest.mark.parametrize("content,content_type,inline", [
    (PNG, "image/png", True), (JPEG, "image/jpeg", True), (WEBP, "image/webp", True),
    (PNG, "image/jpeg", False),  # the stored type and the bytes disagree
    (SVG, "image/svg+xml", False), (b"GIF89a" + b"\x00" * 32, "image/gif", False),
    (b"%PDF-1.7\n", "application/pdf", False),
])
def test_only_matching_raster_images_are_shown_inline(client, regulator, reports, content, content_type, inline):
    evidence = _evidence(reports[0], content, content_type, "file.bin")
    client.force_login(regulator)
    response = client.get(reverse("subscriber:evidence_preview", args=[evidence.pk]))
    assert response.status_code == 200
    assert response["X-Content-Type-Options"] == "nosniff"
    assert response["Content-Security-Policy"] == "sandbox"
    disposition = response["Content-Disposition"]
    if inline:
        assert disposition.startswith("inline") and response["Content-Type"] == content_type
    else:
        assert disposition.startswith("attachment") and response["Content-Type"] in (
            "application/octet-stream", content_type) and not response["Content-Type"].startswith("image/svg")
    assert b"".join(response.streaming_content) == content


def test_the_report_page_previews_images_and_not_svg(client, regulator, reports):
    png = _evidence(reports[0], PNG, "image/png", "call.png")
    svg = _evidence(reports[0], SVG, "image/svg+xml", "trap.svg")
    client.force_login(regulator)
    page = client.get(reverse("admin:renewal_harassmentreport_change", args=[reports[0].pk])).content.decode()
    assert f'<img src="{reverse("subscriber:evidence_preview", args=[png.pk])}"' in page
    assert reverse("subscriber:evidence_preview", args=[svg.pk]) not in page
    assert reverse("subscriber:evidence", args=[svg.pk]) in page  # a download link only


def test_previews_are_for_regulators_only(client, clerk, reports):
    evidence = _evidence(reports[0], PNG, "image/png", "call.png")
    client.force_login(clerk)
    assert client.get(reverse("subscriber:evidence_preview", args=[evidence.pk])).status_code == 403
