"""A full disk (a 64 KiB tmpfs): a clear error, nothing half-recorded.

Uploads (the tmpfs as PRIVATE_FILES_ROOT): no row, no audit entry, no part file. The embedded broker (its folders on
the tmpfs, filled to the last block, the request published for real): each path either says plainly that nothing
was started and leaves nothing waiting for ever, or — where a sweep starts the work anyway — succeeds and logs.
"""

import contextlib
import errno
import logging
import os
import subprocess

import pytest
from django.core.files.uploadedfile import SimpleUploadedFile
from django.test import Client
from django.urls import reverse
from kombu import Connection
from kombu.exceptions import ChannelError

from numbers import ratelimit, roles
from numbers.models import AuditAction, AuditEntry, FeedStatus, FeedUpload, HolderPeriod, RiskList, RiskMark
from portal.celery import app
from renewal.active import views as subscriber_views
from renewal.deliveries import services as deliveries
from renewal.models import (
    ConformanceCheck,
    ConformanceState,
    Delivery,
    DeliveryState,
    Evidence,
    HarassmentReport,
    SmsCode,
    SmsMessage,
    UnbindRequest,
)
from tests.conftest import IN_CI
from tests.factories import staff_user
from tests.numbers.feeds.helpers_feed import FEED_HEADER
from tests.numbers.sales.helpers_staff import secondary_number, signed_in
from tests.renewal.helpers_renewal import make_key, make_platform
from tests.renewal.helpers_subscriber import sign_in
from tests.renewal.onboarding.conftest import make_engineer, sign_in_engineer

pytestmark = [pytest.mark.services, pytest.mark.django_db]

PNG = b"\x89PNG\r\n\x1a\n" + b"\x00" * 64


@pytest.fixture
def tiny_tmpfs(tmp_path):
    """A tmpfs of 64 KiB (mounted as root; the test fails in CI where it cannot be)."""
    mount = tmp_path / "tiny"
    mount.mkdir()
    done = subprocess.run(["mount", "-t", "tmpfs", "-o", "size=64k", "tmpfs", str(mount)], capture_output=True,
                          text=True)
    if done.returncode != 0:
        message = f"cannot mount a tmpfs: {done.stderr.strip()}"
        if IN_CI:
            pytest.fail(message)
        pytest.skip(message)
    yield mount
    with contextlib.suppress(subprocess.CalledProcessError):
        subprocess.run(["umount", str(mount)], check=True, capture_output=True)


@pytest.fixture
def full_disk(tiny_tmpfs, settings):
    """PRIVATE_FILES_ROOT on the tiny tmpfs."""
    settings.PRIVATE_FILES_ROOT = tiny_tmpfs / "private"
    return tiny_tmpfs


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


# --- the embedded broker's folder on a full disk -------------------------------------------------------------------


def _fill(root) -> None:
    """Write to `root` until the disk refuses the next byte."""
    fd = os.open(root / "filler", os.O_WRONLY | os.O_CREAT)
    try:
        while True:
            os.write(fd, b"\0" * 1024)
    except OSError as exc:
        assert exc.errno == errno.ENOSPC, exc
    finally:
        os.close(fd)


def _reset_pools() -> None:
    # Connections and producers are pooled per broker: drop them so the next publish uses the new options.
    app._pool = None
    app.amqp._producer_pool = None


class EmbeddedBroker:
    """The embedded broker (portalfs://) with its folders on the tiny tmpfs, as portal/settings.py lays them out."""

    def __init__(self, root):
        self.root = root
        folders = {name: root / "broker" / name for name in ("queue", "processed", "control")}
        for folder in folders.values():
            folder.mkdir(parents=True)
        self.queue = folders["queue"]
        self.options = {"data_folder_in": str(self.queue), "data_folder_out": str(self.queue),
                        "processed_folder": str(folders["processed"]), "control_folder": str(folders["control"])}

    @contextlib.contextmanager
    def publishing(self):
        """Publish to this broker, for real (not eagerly), in this block."""
        conf = app.conf
        before = (conf.broker_write_url, conf.broker_read_url, conf.broker_transport_options, conf.task_always_eager)
        conf.broker_write_url = conf.broker_read_url = "portalfs://"
        conf.broker_transport_options = self.options
        conf.task_always_eager = False
        _reset_pools()
        try:
            yield self
        finally:
            (conf.broker_write_url, conf.broker_read_url, conf.broker_transport_options,
             conf.task_always_eager) = before
            _reset_pools()

    def fill(self) -> None:
        # Each queue's binding is written on its first publish: publish to each once and take those messages away,
        # so that the write that finds the disk full is a message's own (portal/fsbroker.py).
        with self.publishing():
            for queue in ("interactive", "pump", "celery"):
                app.send_task("tests.never_run", queue=queue)
        for message in self.queue.iterdir():
            message.unlink()
        _fill(self.root)

    def free(self) -> None:
        (self.root / "filler").unlink()

    def files(self) -> list[str]:
        """Every file in the queue folder: messages and any part file left behind."""
        return sorted(p.name for p in self.queue.iterdir())


@pytest.fixture
def broker(tiny_tmpfs):
    return EmbeddedBroker(tiny_tmpfs)


def test_the_embedded_broker_on_a_full_disk_refuses_a_message_naming_its_folder_and_leaves_no_part(broker):
    broker.fill()
    conn = Connection("portalfs://", transport_options=broker.options)
    with conn:
        queue = conn.SimpleQueue("interactive")
        with pytest.raises(ChannelError, match=f"folder '{broker.queue}'.*No space left on device"):
            queue.put({"n": 1})
        queue.close()
    assert broker.files() == []


def test_a_sign_in_code_that_cannot_be_queued_is_a_503_and_counts_against_no_limit(roles_back, holder, broker,
                                                                                    settings):
    number, _ = holder
    settings.SMS_LIMIT_PER_NUMBER_MINUTE = 1
    broker.fill()
    client = Client(headers={"accept-language": "en"})
    # when the broker's disk is full
    with broker.publishing():
        response = client.post("/renew/", {"msisdn": number.msisdn}, REMOTE_ADDR="10.0.0.7")
    # then the subscriber is told no code was sent, and nothing waits for a code
    assert response.status_code == 503 and response["Retry-After"]
    assert "The portal cannot send codes just now: no code was sent" in response.content.decode()
    assert broker.files() == []
    assert not SmsCode.objects.exists() and not SmsMessage.objects.exists()
    limits = subscriber_views._limits()
    assert ratelimit.peek(limits["number_day"], number.msisdn).used == 0
    assert ratelimit.peek(limits["address_hour"], "10.0.0.7").used == 0
    # and once there is room again, the next request is not refused as "a code was requested a moment ago"
    broker.free()
    with broker.publishing():
        again = client.post("/renew/", {"msisdn": number.msisdn}, REMOTE_ADDR="10.0.0.7")
    assert again.status_code == 302 and again["Location"].endswith("/renew/code"), again.content.decode()[:500]
    assert len([f for f in broker.files() if f.endswith(".interactive.msg")]) == 1


def test_an_unbind_request_is_recorded_whole_while_the_broker_is_full(roles_back, holder, broker):
    number, _ = holder
    platforms = [make_platform("Pay"), make_platform("Chat")]
    client = Client(headers={"accept-language": "en"})
    sign_in(client, number.msisdn)
    broker.fill()
    # when the subscriber asks to unbind everything while the broker's disk is full
    with broker.publishing():
        response = client.post("/renew/unbind", {"all": "1"})
    # then the request is recorded with a task per platform: the coalescer's beat tick takes them, nothing is queued
    request = UnbindRequest.objects.get()
    assert response.status_code == 302 and response["Location"].endswith(f"/renew/requests/{request.pk}")
    assert request.tasks.count() == len(platforms)
    assert broker.files() == []


def test_a_feed_upload_that_cannot_be_queued_is_failed_at_once_and_says_so(roles_back, operator, broker, tmp_path,
                                                                           settings):
    settings.PRIVATE_FILES_ROOT = tmp_path / "private"  # room for the file: only the broker's disk is full
    admin = staff_user(role=roles.OPERATOR_ADMIN, operator=operator, username="cmcc-admin")
    client = Client(headers={"accept-language": "en"})
    client.force_login(admin)
    content = f"{FEED_HEADER}\n+8613800000001,2026-11-01T09:00:00+08:00,,\n".encode()
    broker.fill()
    with broker.publishing():
        response = client.post(reverse("admin:numbers_feedupload_add"), {
            "kind": "cancellations", "file": SimpleUploadedFile("feed.csv", content, "text/csv")}, follow=True)
    page = response.content.decode()
    assert "could not be queued for processing" in page and "upload the file again" in page
    assert "The file is queued" not in page
    # the upload is a whole record: failed, with the reason, never "queued" for ever; the audit trail keeps it
    upload = FeedUpload.objects.get()
    assert upload.status == FeedStatus.FAILED and upload.finished_at is not None
    assert "could not be queued" in upload.error
    assert AuditEntry.objects.filter(action=AuditAction.FEED_UPLOAD).count() == 1
    assert broker.files() == []


def test_a_feed_upload_through_the_api_that_cannot_be_queued_answers_503(roles_back, operator, broker, tmp_path,
                                                                         settings):
    settings.PRIVATE_FILES_ROOT = tmp_path / "private"
    key = make_key(operator=operator)
    content = f"{FEED_HEADER}\n+8613800000001,2026-11-01T09:00:00+08:00,,\n".encode()
    broker.fill()
    with broker.publishing():
        response = Client().post("/api/v1/feeds", {
            "kind": "cancellations", "file": SimpleUploadedFile("feed.csv", content, "text/csv")},
            HTTP_AUTHORIZATION=f"Bearer {key}")
    assert response.status_code == 503 and response["Retry-After"]
    assert response.json()["error"]["code"] == "queue_unavailable"
    assert FeedUpload.objects.get().status == FeedStatus.FAILED
    assert broker.files() == []


def test_risk_marks_that_cannot_be_queued_come_back_to_the_form_and_place_nothing(roles_back, regulator, frozen_number,
                                                                                   broker, tmp_path, settings):
    settings.PRIVATE_FILES_ROOT = tmp_path / "private"
    client = Client(headers={"accept-language": "en"})
    client.force_login(regulator)
    broker.fill()
    with broker.publishing():
        response = client.post(reverse("admin:numbers_riskmark_add"), {
            "numbers": frozen_number.msisdn, "category": "fraud", "authority": "MPS", "reference": "R-1",
            "effect": "extend", "extra_days": "30"})
    assert response.status_code == 503
    page = response.content.decode()
    assert "could not be queued" in page and frozen_number.msisdn in page  # the list, ready to send again
    risk_list = RiskList.objects.get()
    assert risk_list.status == FeedStatus.FAILED and "No mark was placed" in risk_list.error
    assert not RiskMark.objects.exists()
    assert broker.files() == []


def test_a_conformance_check_that_cannot_be_queued_is_refused_and_can_run_again(roles_back, broker):
    platform = make_platform("Alpha Pay", status="sandbox", webhook_url="https://hooks.alpha.example/x")
    client = Client(headers={"accept-language": "en"})
    sign_in_engineer(client, make_engineer(platform, email="owner@alpha.example"))
    broker.fill()
    with broker.publishing():
        response = client.post(reverse("platform:check_run"), follow=True)
    assert "The conformance check could not be started" in response.content.decode()
    check = ConformanceCheck.objects.get()
    assert check.state == ConformanceState.FAILED and check.finished_at is not None and check.steps == []
    assert broker.files() == []
    # not "already running": once there is room, the engineer runs it again
    broker.free()
    with broker.publishing():
        response = client.post(reverse("platform:check_run"), follow=True)
    assert "The conformance check is running" in response.content.decode()
    assert ConformanceCheck.objects.filter(state=ConformanceState.RUNNING).count() == 1
    assert len([f for f in broker.files() if f.endswith(".celery.msg")]) == 1


def test_a_disclosure_copy_that_cannot_be_queued_says_it_was_not_sent_and_can_be_sent_again(
        roles_back, clerk, outlet, broker, tmp_path, settings):
    settings.PRIVATE_FILES_ROOT = tmp_path / "private"
    number = secondary_number(outlet=outlet, staff=clerk)
    client = signed_in(clerk, headers={"accept-language": "en"})
    client.post(reverse("staff:offer", args=[number.pk]), {
        "action": "allocate", "customer_ref": "CMCC-88-0001", "method": "written", "confirmed": "on"})
    period = HolderPeriod.objects.get(number=number, ended_at__isnull=True)
    SmsMessage.objects.all().delete()
    broker.fill()
    with broker.publishing():
        page = client.post(reverse("staff:receipt_sms", args=[period.pk]), follow=True).content.decode()
    assert "The copy was not sent" in page and "A copy was sent" not in page
    assert broker.files() == []
    # once there is room, the clerk sends it at once (the minute's limit was not spent on nothing)
    broker.free()
    with broker.publishing():
        page = client.post(reverse("staff:receipt_sms", args=[period.pk]), follow=True).content.decode()
    assert "A copy was sent by SMS" in page
    assert len([f for f in broker.files() if f.endswith(".interactive.msg")]) == 1


def test_a_lost_pump_kick_is_logged_and_the_due_sweep_sends_it_later(roles_back, broker, caplog):
    platform = make_platform("Alpha Pay", status="sandbox", webhook_url="https://hooks.alpha.example/x")
    client = Client(headers={"accept-language": "en"})
    sign_in_engineer(client, make_engineer(platform, email="owner@alpha.example"))
    broker.fill()
    # when the engineer sends a ping while the broker's disk is full
    with broker.publishing(), caplog.at_level(logging.WARNING, logger="numbers.queueing"):
        response = client.post(reverse("platform:test_event"), follow=True)
    # then the ping is recorded and the page says so; the kick that was lost is logged
    assert "A signed ping is on its way" in response.content.decode()
    ping = Delivery.objects.get()
    assert ping.state == DeliveryState.PENDING
    assert [r.task for r in caplog.records if getattr(r, "event", "") == "enqueue_failed"] == [
        "renewal.tasks.deliveries_pump_task"]
    assert broker.files() == []
    # and the due sweep (beat) kicks the pump for it once the broker takes messages again
    broker.free()
    with broker.publishing():
        assert deliveries.deliveries_due_kick() is True
    assert any(f.endswith(".pump.msg") for f in broker.files())
