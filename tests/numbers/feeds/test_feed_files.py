"""What operators' files hold in practice: Excel's empty rows, a bad byte deep in a file, numbers of another
country; and what the upload page and the command tell the operator administrator while a file runs."""

from datetime import timedelta

import pytest
from django.core.files.uploadedfile import SimpleUploadedFile
from django.core.management import call_command
from django.urls import reverse
from django.utils import timezone

from numbers import roles
from numbers.models import FeedStatus, FeedUpload, Operator, PhoneNumber
from numbers.services import number_allocate
from tests.factories import PhoneNumberFactory, staff_user
from tests.numbers.feeds.helpers_feed import FEED_HEADER, local, run, snapshot, write_csv

INVENTORY_HEADER = "msisdn,state,holder_since,cancelled_at"


@pytest.fixture
def held(operator, outlet, clerk):
    number = PhoneNumberFactory(range_holder=operator)
    number_allocate(number=number, outlet=outlet, staff=clerk, customer_ref="C-1", disclosure=None,
                    now=timezone.now() - timedelta(days=30))
    return number


def test_excels_empty_rows_are_skipped_not_rejected(tmp_path, held):
    at = local(timezone.now() - timedelta(days=1))
    path = write_csv(tmp_path / "feed.csv", FEED_HEADER, [",,,", f"{held.msisdn},{at},,", ",,,", " , , , "])
    result = run("import_cancellations", path, operator="CMCC")
    assert result.status == 0, result.stdout
    assert "4 lines" not in result.stdout and "1 lines" in result.stdout
    held.refresh_from_db()
    assert held.state == "frozen"


def test_a_bad_byte_deep_in_the_file_is_named_by_its_line(tmp_path, held):
    at = local(timezone.now() - timedelta(days=1))
    lines = [f"+86139{i:08d},{at},," for i in range(12_000)]  # unknown numbers: rejected, never applied
    path = tmp_path / "feed.csv"
    body = "\n".join([FEED_HEADER, *lines[:12_000]]).encode() + b"\n+8613\xff00000000," + at.encode() + b",,\n"
    path.write_bytes(body)
    before = snapshot()
    result = run("import_cancellations", path, operator="CMCC")
    assert result.status == 2 and "line 12002" in result.stdout, result.stdout
    assert snapshot() == before


def test_a_bad_byte_in_the_header_names_line_1(tmp_path, operator):
    path = tmp_path / "feed.csv"
    path.write_bytes(b"msisdn,cancelled_\xffat\n")
    result = run("import_cancellations", path, operator="CMCC")
    assert result.status == 2 and "line 1 " in result.stdout


def test_numbers_of_another_country_are_refused(tmp_path, operator, held):
    assert operator.country == "CN"  # the default: PHONE_REGION
    path = write_csv(tmp_path / "inventory.csv", INVENTORY_HEADER,
                     ["+1 202 555 0143,available,,", "+86 139 0000 0001,available,,", "+447911123456,available,,"])
    result = run("import_numbers", path, operator="CMCC")
    assert result.rejected() == {2: "wrong_country", 4: "wrong_country"}
    assert not PhoneNumber.objects.filter(msisdn__in=["+12025550143", "+447911123456"]).exists()
    assert PhoneNumber.objects.filter(msisdn="+8613900000001").exists()
    at = local(timezone.now() - timedelta(days=1))
    feed = write_csv(tmp_path / "feed.csv", FEED_HEADER, [f"+12025550143,{at},,", f"{held.msisdn},{at},,"])
    assert run("import_cancellations", feed, operator="CMCC").rejected() == {2: "wrong_country"}


def test_an_operator_of_a_shared_calling_code_takes_only_its_own_countrys_numbers(tmp_path, db):
    Operator.objects.create(code="CANADA", name="A Canadian operator", coverage_start="2020-01-01", country="CA",)
    path = write_csv(tmp_path / "inventory.csv", INVENTORY_HEADER,
                     ["+1 202 555 0143,available,,", "+1 604 555 0143,available,,", "+8613900000001,available,,"])
    # a US number shares +1 with Canada: refused too; a Chinese number by its code
    assert run("import_numbers", path, operator="CANADA").rejected() == {2: "wrong_country", 4: "wrong_country"}


def test_the_command_shows_progress_on_a_terminal(tmp_path, held, capsys):
    at = local(timezone.now() - timedelta(days=1))
    path = write_csv(tmp_path / "feed.csv", FEED_HEADER, [f"{held.msisdn},{at},,"])
    import io

    err = io.StringIO()
    call_command("import_cancellations", str(path), "--operator", "CMCC", "--progress", stdout=io.StringIO(),
                 stderr=err)
    assert "1 / 1 lines (100 %)" in err.getvalue()


# --- the upload page ---------------------------------------------------------------------------


@pytest.fixture
def op_admin(operator, settings, tmp_path):
    settings.PRIVATE_FILES_ROOT = tmp_path / "private"
    return staff_user(role=roles.OPERATOR_ADMIN, operator=operator, username="cmcc-admin", email="ops@cmcc.example")


def test_the_upload_page_shows_the_columns_an_example_and_sample_files(client, op_admin):
    client.force_login(op_admin)
    page = client.get(reverse("admin:numbers_feedupload_add")).content.decode()
    assert 'id="feed-formats"' in page and "<code>cancelled_at</code>" in page and "<code>holder_since</code>" in page
    sample = client.get(reverse("admin:numbers_feedupload_sample", args=["cancellations"]))
    assert sample["Content-Type"].startswith("text/csv")
    assert sample.content.decode().splitlines()[0] == FEED_HEADER
    assert client.get(reverse("admin:numbers_feedupload_sample", args=["other"])).status_code == 404


def test_the_sample_file_loads_as_it_says(client, op_admin, held, django_capture_on_commit_callbacks):
    client.force_login(op_admin)
    content = client.get(reverse("admin:numbers_feedupload_sample", args=["inventory"])).content
    with django_capture_on_commit_callbacks(execute=True):
        client.post(reverse("admin:numbers_feedupload_add"), {
            "kind": "inventory", "file": SimpleUploadedFile("sample.csv", content, "text/csv")})
    upload = FeedUpload.objects.get()
    assert (upload.status, upload.applied, upload.rejected) == (FeedStatus.DONE, 3, 0)


def test_progress_and_an_email_when_the_import_finishes(client, op_admin, held, settings, mailoutbox,
                                                        django_capture_on_commit_callbacks):
    settings.FEED_EMAIL_NOTIFY = True
    client.force_login(op_admin)
    at = local(timezone.now() - timedelta(days=1))
    content = f"{FEED_HEADER}\n{held.msisdn},{at},,\n+8613999999999,{at},,\n".encode()
    with django_capture_on_commit_callbacks(execute=True):
        client.post(reverse("admin:numbers_feedupload_add"), {
            "kind": "cancellations", "file": SimpleUploadedFile("feed.csv", content, "text/csv")})
    upload = FeedUpload.objects.get()
    progress = client.get(reverse("admin:numbers_feedupload_progress", args=[upload.pk])).json()
    assert (progress["done"], progress["total"], progress["finished"]) == (2, 2, True)
    page = client.get(reverse("admin:numbers_feedupload_change", args=[upload.pk])).content.decode()
    assert '<progress id="job-progress-bar"' in page
    (mail,) = mailoutbox
    assert mail.to == ["ops@cmcc.example"] and "feed.csv" in mail.subject
    assert "1" in mail.body and held.msisdn not in mail.body  # counts, never the numbers


def test_an_email_when_the_import_fails(client, op_admin, settings, mailoutbox, django_capture_on_commit_callbacks):
    settings.FEED_EMAIL_NOTIFY = True
    client.force_login(op_admin)
    content = f"{FEED_HEADER}\n".encode() + b"+8613\xff,2026-01-01T00:00:00+08:00,,\n"
    with django_capture_on_commit_callbacks(execute=True):
        client.post(reverse("admin:numbers_feedupload_add"), {
            "kind": "cancellations", "file": SimpleUploadedFile("feed.csv", content, "text/csv")})
    upload = FeedUpload.objects.get()
    assert upload.status == FeedStatus.FAILED and "line 2" in upload.error
    (mail,) = mailoutbox
    assert "line 2" in mail.body


def test_no_email_unless_configured(client, op_admin, held, mailoutbox, django_capture_on_commit_callbacks):
    client.force_login(op_admin)
    content = f"{FEED_HEADER}\n{held.msisdn},{local(timezone.now())},,\n".encode()
    with django_capture_on_commit_callbacks(execute=True):
        client.post(reverse("admin:numbers_feedupload_add"), {
            "kind": "cancellations", "file": SimpleUploadedFile("feed.csv", content, "text/csv")})
    assert FeedUpload.objects.get().status == FeedStatus.DONE and mailoutbox == []


@pytest.mark.parametrize(("where", "reason"), [("msisdn", None), ("reason", "invalid_line"),
                                                ("to_operator", "invalid_line"), ("time", "invalid_time")])
def test_a_nul_byte_in_a_field_rejects_that_line_only_or_is_ignored_in_a_number(tmp_path, held, operator, outlet, clerk,
                                                                            where, reason):
    other = PhoneNumberFactory(range_holder=operator)
    number_allocate(number=other, outlet=outlet, staff=clerk, customer_ref="C-2", disclosure=None,
                    now=timezone.now() - timedelta(days=30))
    at = local(timezone.now() - timedelta(days=1))
    fields = {"msisdn": other.msisdn, "time": at, "reason": "", "to_operator": ""}
    fields[where] += "\x00"
    bad = ",".join([fields["msisdn"], fields["time"], fields["reason"], fields["to_operator"]])
    path = write_csv(tmp_path / "feed.csv", FEED_HEADER, [f"{held.msisdn},{at},,", bad])
    result = run("import_cancellations", path, operator="CMCC")
    # PostgreSQL cannot store a NUL: the whole file used to fail in its COPY
    assert result.status == (1 if reason else 0) and result.rejected() == ({3: reason} if reason else {}), \
        result.report
    held.refresh_from_db()
    other.refresh_from_db()
    assert (held.state, other.state) == ("frozen", "active" if reason else "frozen")  # a number's NUL is noise
