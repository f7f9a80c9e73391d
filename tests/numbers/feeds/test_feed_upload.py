"""The feed upload page in admin: operator administrators upload, a task imports, the page shows the report."""

import time
from datetime import timedelta
from pathlib import Path

import pytest
from django.core.files.uploadedfile import SimpleUploadedFile
from django.urls import reverse
from django.utils import timezone

from numbers import roles
from numbers.feeds.services import feed_upload_process
from numbers.models import EventKind, FeedStatus, FeedUpload, PhoneNumber, State
from numbers.services import number_allocate
from tests.factories import PhoneNumberFactory, staff_user
from tests.numbers.feeds.helpers_feed import FEED_HEADER as HEADER
from tests.numbers.feeds.helpers_feed import FORMULAS, csv_field, local, report_rows

ADD = "admin:numbers_feedupload_add"


@pytest.fixture
def private(settings, tmp_path):
    settings.PRIVATE_FILES_ROOT = tmp_path / "private"
    return settings.PRIVATE_FILES_ROOT


@pytest.fixture
def op_admin(operator):
    return staff_user(role=roles.OPERATOR_ADMIN, operator=operator, username="cmcc-admin")


@pytest.fixture
def feed_file(operator, outlet, clerk):
    """A feed with one good cancellation and one unknown number."""
    now = timezone.now()
    number = PhoneNumberFactory(range_holder=operator)
    number_allocate(number=number, outlet=outlet, staff=clerk, customer_ref="C-1", disclosure=None,
                    now=now - timedelta(days=30))
    text = f"{HEADER}\n{number.msisdn},{local(now - timedelta(days=1))},,\n+8613999999999,{local(now)},,\n"
    return number, text.encode()


def upload(client, content: bytes, **fields):
    data = {"kind": "cancellations", "file": SimpleUploadedFile("feed.csv", content, "text/csv"), **fields}
    return client.post(reverse(ADD), data)


def test_an_operator_admin_uploads_and_sees_progress_and_the_report(
        client, op_admin, private, feed_file, django_capture_on_commit_callbacks):
    number, content = feed_file
    client.force_login(op_admin)

    with django_capture_on_commit_callbacks(execute=True) as callbacks:
        response = upload(client, content)

    assert response.status_code == 302, response.content.decode()[:2000]
    assert len(callbacks) == 1  # the task is enqueued after the commit
    feed = FeedUpload.objects.get()
    assert (feed.operator.code, feed.uploaded_by, feed.original_name) == ("CMCC", op_admin, "feed.csv")
    assert (feed.status, feed.lines, feed.applied, feed.rejected) == (FeedStatus.DONE, 2, 1, 1)
    assert feed.summary["rejected_by_reason"] == {"unknown_number": 1}
    number.refresh_from_db()
    assert number.state == State.FROZEN
    assert number.events.get(kind=EventKind.CANCEL).actor == "cmcc-admin"
    # The file and its report are stored under PRIVATE_FILES_ROOT, under names the uploader did not choose.
    assert Path(feed.file.path).is_relative_to(private) and "feed.csv" not in feed.file.name
    assert Path(feed.report.path).is_relative_to(private)

    page = client.get(response["Location"])
    assert page.status_code == 200
    html = page.content.decode()
    assert "+8613999999999" in html and "unknown_number" in html
    report = client.get(reverse("admin:numbers_feedupload_report", args=[feed.pk]))
    assert report.status_code == 200
    assert b"+8613999999999,rejected,unknown_number" in b"".join(report.streaming_content)


def test_the_downloaded_report_defuses_cells_a_spreadsheet_would_run(
        client, op_admin, private, django_capture_on_commit_callbacks):
    lines = "".join(f"{csv_field(formula)},{local(timezone.now())},,\r\n" for formula in FORMULAS)
    client.force_login(op_admin)
    with django_capture_on_commit_callbacks(execute=True):
        upload(client, f"{HEADER}\r\n{lines}".encode())
    feed = FeedUpload.objects.get()

    report = client.get(reverse("admin:numbers_feedupload_report", args=[feed.pk]))
    rows = report_rows(b"".join(report.streaming_content).decode())
    assert [r["msisdn"] for r in rows] == list(FORMULAS.values())


def test_a_running_upload_shows_a_progress_bar_that_follows_the_import(client, op_admin, private, operator):
    feed = FeedUpload.objects.create(operator=operator, file="feeds/x.csv", status=FeedStatus.RUNNING, lines=10,
                                     processed=4)
    client.force_login(op_admin)
    html = client.get(reverse("admin:numbers_feedupload_change", args=[feed.pk])).content.decode()
    progress = reverse("admin:numbers_feedupload_progress", args=[feed.pk])
    assert f'data-progress-url="{progress}"' in html and 'max="10" value="4"' in html and "4 / 10 (40 %)" in html
    assert "portal/progress.js" in html  # the page polls the endpoint (no inline script)
    assert client.get(progress).json()["done"] == 4


def test_a_file_with_a_wrong_header_is_refused_on_the_form(client, op_admin, private):
    client.force_login(op_admin)
    response = upload(client, b"number;date\n1;2\n")
    assert response.status_code == 200
    assert "header row" in response.content.decode()
    assert not FeedUpload.objects.exists()
    assert not (private / "feeds").exists() or not any((private / "feeds").rglob("*.csv"))


@pytest.mark.parametrize(("content", "code"), [(b"", "empty"), (b"x" * 2048, "too_large")])
def test_an_empty_or_too_large_file_is_refused_on_the_form(client, op_admin, private, monkeypatch, content, code):
    from numbers.feeds import admin as admin_feed

    monkeypatch.setattr(admin_feed, "MAX_BYTES", 1024 * 1024 + 1024)
    client.force_login(op_admin)
    response = upload(client, content * 1024 if content else content)
    assert response.status_code == 200
    assert [e.code for e in response.context["adminform"].form.errors.as_data()["file"]] == [code]
    assert not FeedUpload.objects.exists()


def test_operator_admins_see_only_their_operators_uploads(client, op_admin, other_operator, private, operator):
    mine = FeedUpload.objects.create(operator=operator, file="feeds/a.csv", original_name="mine.csv")
    theirs = FeedUpload.objects.create(operator=other_operator, file="feeds/b.csv", original_name="theirs.csv",
                                       report="feeds/reports/b.csv")
    client.force_login(op_admin)
    listing = client.get(reverse("admin:numbers_feedupload_changelist")).content.decode()
    assert "mine.csv" in listing and "theirs.csv" not in listing
    assert client.get(reverse("admin:numbers_feedupload_change", args=[mine.pk])).status_code == 200
    assert client.get(reverse("admin:numbers_feedupload_change", args=[theirs.pk])).status_code == 302  # not found
    assert client.get(reverse("admin:numbers_feedupload_report", args=[theirs.pk])).status_code == 404


def test_an_operator_admin_uploads_for_their_own_operator_only(
        client, op_admin, other_operator, private, feed_file, django_capture_on_commit_callbacks):
    client.force_login(op_admin)
    with django_capture_on_commit_callbacks(execute=True):
        upload(client, feed_file[1], operator=other_operator.pk)
    assert FeedUpload.objects.get().operator.code == "CMCC"


def test_sales_staff_and_regulators_cannot_upload(client, clerk, regulator, private, operator):
    client.force_login(clerk)
    assert client.get(reverse(ADD)).status_code in (302, 403)
    client.force_login(regulator)
    assert client.get(reverse(ADD)).status_code == 403
    FeedUpload.objects.create(operator=operator, file="feeds/a.csv", original_name="seen.csv")
    assert "seen.csv" in client.get(reverse("admin:numbers_feedupload_changelist")).content.decode()


def test_anonymous_users_are_sent_to_sign_in(client, private, operator):
    feed = FeedUpload.objects.create(operator=operator, file="feeds/a.csv", report="feeds/r.csv")
    response = client.get(reverse("admin:numbers_feedupload_report", args=[feed.pk]))
    assert response.status_code == 302 and "login" in response["Location"]


def test_the_task_run_twice_imports_once(private, operator, feed_file):
    number, content = feed_file
    path = private / "feeds" / "f.csv"
    path.parent.mkdir(parents=True)
    path.write_bytes(content)
    feed = FeedUpload.objects.create(operator=operator, file="feeds/f.csv")
    feed_upload_process(upload_id=feed.pk)
    done = FeedUpload.objects.get(pk=feed.pk)
    feed_upload_process(upload_id=feed.pk)
    assert FeedUpload.objects.get(pk=feed.pk).finished_at == done.finished_at
    assert number.events.filter(kind=EventKind.CANCEL).count() == 1
    feed_upload_process(upload_id=123456)  # a missing upload returns quietly


def test_an_unreadable_upload_fails_with_its_reason(private, operator):
    path = private / "feeds" / "f.csv"
    path.parent.mkdir(parents=True)
    path.write_bytes(b"msisdn,cancelled_at\n\xff\xfe\n")
    feed = FeedUpload.objects.create(operator=operator, file="feeds/f.csv")
    feed_upload_process(upload_id=feed.pk)
    feed.refresh_from_db()
    assert feed.status == FeedStatus.FAILED and "UTF-8" in feed.error and not feed.report


# --- with a real worker and a real broker ----------------------------------------------------


@pytest.fixture
def real_worker(start_worker, private):
    """A Celery worker process on the Redis broker, using the test database and this test's private files."""
    return start_worker(pool="solo", concurrency=1, PRIVATE_FILES_ROOT=str(private))


@pytest.mark.services
@pytest.mark.django_db(transaction=True)
def test_an_upload_is_imported_by_a_real_worker(client, real_worker, operator, outlet, clerk, op_admin, tmp_path):
    now = timezone.now()
    numbers = []
    for i in range(50):
        n = PhoneNumberFactory(range_holder=operator)
        number_allocate(number=n, outlet=outlet, staff=clerk, customer_ref=f"C-{i}", disclosure=None,
                        now=now - timedelta(days=30))
        numbers.append(n)
    content = "\n".join([HEADER, *[f"{n.msisdn},{local(now - timedelta(days=1))},," for n in numbers]]) + "\n"
    client.force_login(op_admin)

    response = upload(client, content.encode())

    assert response.status_code == 302
    feed = FeedUpload.objects.get()
    deadline = time.monotonic() + 60
    while feed.status not in (FeedStatus.DONE, FeedStatus.FAILED) and time.monotonic() < deadline:
        time.sleep(0.3)
        feed.refresh_from_db()
    assert feed.status == FeedStatus.DONE, (tmp_path / "worker-0.log").read_text()[-3000:]
    assert feed.applied == 50
    assert "numbers.tasks.feed_upload_process_task" in (tmp_path / "worker-0.log").read_text()  # not run inline
    assert PhoneNumber.objects.filter(state=State.FROZEN).count() == 50


def test_an_inventory_upload_loads_numbers_in_a_dry_run_first(private, operator):
    path = private / "feeds" / "inv.csv"
    path.parent.mkdir(parents=True)
    path.write_bytes(b"msisdn,state\n13800000001,available\n13800000002,sold\n")
    dry = FeedUpload.objects.create(operator=operator, kind="inventory", file="feeds/inv.csv", dry_run=True)
    feed_upload_process(upload_id=dry.pk)
    dry.refresh_from_db()
    assert (dry.status, dry.applied, dry.rejected) == (FeedStatus.DONE, 1, 1)
    assert not PhoneNumber.objects.exists()
    real = FeedUpload.objects.create(operator=operator, kind="inventory", file="feeds/inv.csv")
    feed_upload_process(upload_id=real.pk)
    assert PhoneNumber.objects.get().msisdn == "+8613800000001"
