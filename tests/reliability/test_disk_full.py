"""A full disk for uploads (a 64 KiB tmpfs as PRIVATE_FILES_ROOT): a clear error, nothing half-recorded — no row,
no audit entry, no part file."""

import contextlib
import subprocess

import pytest
from django.core.files.uploadedfile import SimpleUploadedFile
from django.test import Client
from django.urls import reverse

from numbers import roles
from numbers.models import AuditEntry, FeedUpload
from renewal.models import Evidence, HarassmentReport
from tests.conftest import IN_CI
from tests.factories import staff_user
from tests.numbers.feeds.helpers_feed import FEED_HEADER
from tests.renewal.helpers_subscriber import sign_in

pytestmark = [pytest.mark.services, pytest.mark.django_db]

PNG = b"\x89PNG\r\n\x1a\n" + b"\x00" * 64


@pytest.fixture
def full_disk(tmp_path, settings):
    """PRIVATE_FILES_ROOT on a tmpfs of 64 KiB (mounted as root; the test fails in CI where it cannot be)."""
    mount = tmp_path / "tiny"
    mount.mkdir()
    done = subprocess.run(["mount", "-t", "tmpfs", "-o", "size=64k", "tmpfs", str(mount)], capture_output=True,
                          text=True)
    if done.returncode != 0:
        message = f"cannot mount a tmpfs: {done.stderr.strip()}"
        if IN_CI:
            pytest.fail(message)
        pytest.skip(message)
    settings.PRIVATE_FILES_ROOT = mount / "private"
    yield mount
    with contextlib.suppress(subprocess.CalledProcessError):
        subprocess.run(["umount", str(mount)], check=True, capture_output=True)


def _files(root):
    return [p for p in root.rglob("*") if p.is_file()]


def test_a_feed_upload_onto_a_full_disk_is_refused_clearly_with_nothing_recorded(client, operator, full_disk):
    admin = staff_user(role=roles.OPERATOR_ADMIN, operator=operator, username="cmcc-admin")
    client.force_login(admin)
    lines = "".join(f"+86138{i:08d},2026-11-01T09:00:00+08:00,,\n" for i in range(4000))  # ~170 KB
    content = f"{FEED_HEADER}\n{lines}".encode()
    assert len(content) > 64 * 1024
    response = client.post(reverse("admin:numbers_feedupload_add"), {
        "kind": "cancellations", "file": SimpleUploadedFile("feed.csv", content, "text/csv")}, follow=True,
        headers={"accept-language": "en"})
    assert response.status_code == 200
    assert "The server&#x27;s disk is full: the file was not stored and nothing was recorded" in \
        response.content.decode()
    assert not FeedUpload.objects.exists()
    assert not AuditEntry.objects.filter(action="feed_upload").exists()
    assert _files(full_disk) == []


def test_a_harassment_report_onto_a_full_disk_is_refused_clearly_with_nothing_recorded(roles_back, holder,
                                                                                        full_disk):
    number, _ = holder
    client = Client(headers={"accept-language": "en"})
    sign_in(client, number.msisdn)
    small = SimpleUploadedFile("call.png", PNG, "image/png")
    big = SimpleUploadedFile("scan.png", PNG + b"\x00" * 100_000, "image/png")
    response = client.post("/renew/report", {
        "category": "debt_collection", "sender": "+86 400 123 4567", "occurred_at": "2026-11-01T09:30",
        "description": "They call every day.", "evidence": [small, big]})
    assert response.status_code == 503
    assert "your report was not saved" in response.content.decode()
    assert not HarassmentReport.objects.exists() and not Evidence.objects.exists()
    assert _files(full_disk) == []  # neither the first file, stored whole, nor the part of the second
