"""Property-based bad input (Hypothesis, the fixed `ci` profile under CI=true) on every form and the import
service: never a 5xx, and each input fully applied or fully refused, with the database checked after each example.

Each example posts through the real views (CSRF, sessions, limits on) and then compares the rows it may touch
with what they were before, and checks the invariants (tests/reliability/invariants.py).
"""

import string
from datetime import timedelta
from itertools import count

import pytest
from django.core.files.uploadedfile import SimpleUploadedFile
from django.test import Client
from django.urls import reverse
from django.utils import timezone
from hypothesis import event, example, given
from hypothesis import strategies as st

from numbers import roles
from numbers.feeds.cancellations import CancellationRow, cancellations_import
from numbers.models import (
    AuditEntry,
    DeclinedOffer,
    Disclosure,
    DisclosureMethod,
    Event,
    EventKind,
    FeedKind,
    FeedUpload,
    HolderPeriod,
    MarkCategory,
    MarkEffect,
    PhoneNumber,
    RiskList,
    RiskMark,
    State,
)
from renewal.models import Evidence, HarassmentCategory, HarassmentReport, PlatformRegistration, SmsCode
from tests.factories import PhoneNumberFactory, staff_user
from tests.numbers.feeds.helpers_feed import FEED_HEADER
from tests.reliability.invariants import assert_invariants, snapshot
from tests.renewal.helpers_subscriber import sign_in

pytestmark = [pytest.mark.services, pytest.mark.django_db]

# Text a person or a script might type: any character (controls, NUL, surrogates aside), and the shapes that
# reach deeper (digits, phone numbers, dates, formulas, very long runs).
_junk = st.text(st.characters(blacklist_categories=["Cs"]), max_size=120)
_digits = st.text("0123456789 +-()（）０１２３４５６７８９", max_size=24)
_shaped = st.sampled_from(["", " ", "0", "+86 138 0013 8000", "13800138000", "=cmd|' /C calc'!A0", "A" * 5000,
                           "2026-11-01T09:30", "9999-99-99", "\x00", "<script>alert(1)</script>", "NaN",
                           "110101199003074518", "'; DROP TABLE numbers_phonenumber; --"])
text = st.one_of(_junk, _digits, _shaped)
_rows = count()
PNG = b"\x89PNG\r\n\x1a\n" + b"\x00" * 64


def choice(values) -> st.SearchStrategy:
    """A valid choice three times in four, else anything (so that whole valid posts come up too)."""
    valid = st.sampled_from(list(values))
    return st.one_of(valid, valid, valid, text)


def _no_server_error(response) -> None:
    event(f"HTTP {response.status_code}")  # --hypothesis-show-statistics: how many were applied, how many refused
    assert response.status_code < 500, response.content.decode(errors="replace")[:2000]


def _counts(*models) -> dict:
    return {m.__name__: m.objects.count() for m in models}


@pytest.fixture
def clerk_client(clerk):
    client = Client(headers={"accept-language": "en"})
    client.force_login(clerk)
    return client


@given(customer_ref=choice(["C-0001", "CR 12345", "c-9"]), method=choice(DisclosureMethod.values),
       confirmed=st.sampled_from(["", "on", "true", "0"]), signature=st.one_of(st.just(""), text),
       secondary=st.booleans())
def test_sales_allocation(clerk_client, operator, customer_ref, method, confirmed, signature, secondary):
    number = PhoneNumberFactory(range_holder=operator, is_secondary=secondary)
    before, rows = snapshot(), _counts(HolderPeriod, Disclosure, Event)
    response = clerk_client.post(reverse("staff:offer", args=[number.pk]), {
        "action": "allocate", "customer_ref": customer_ref, "method": method, "confirmed": confirmed,
        "signature": signature})
    _no_server_error(response)
    number.refresh_from_db()
    if response.status_code == 302:  # applied whole: the holding, its event, the disclosure of a secondary number
        assert number.state == State.ACTIVE
        assert number.holder_periods.get(ended_at__isnull=True).customer_ref
        assert number.events.filter(kind=EventKind.ALLOCATE).count() == 1
        assert Disclosure.objects.filter(number=number).count() == (1 if secondary else 0)
    else:  # refused whole
        assert number.state == State.AVAILABLE
        assert _counts(HolderPeriod, Disclosure, Event) == rows
    assert_invariants(since=before)


@given(reason=text, action=st.sampled_from(["decline", "", "other"]))
def test_sales_decline(clerk_client, operator, reason, action):
    number = PhoneNumberFactory(range_holder=operator, is_secondary=True)
    rows = _counts(DeclinedOffer, Event)
    response = clerk_client.post(reverse("staff:offer", args=[number.pk]), {"action": action, "reason": reason})
    _no_server_error(response)
    number.refresh_from_db()
    assert number.state == State.AVAILABLE
    if response.status_code == 302:
        assert DeclinedOffer.objects.filter(number=number).count() == 1
        assert number.events.filter(kind=EventKind.DECLINE).count() == 1
    else:
        assert _counts(DeclinedOffer, Event) == rows
    assert_invariants()


@given(username=text, password=text)
def test_staff_sign_in(clerk, username, password):
    client = Client(headers={"accept-language": "en"})
    response = client.post(reverse("staff:login"), {"username": username, "password": password})
    _no_server_error(response)
    assert response.status_code in (200, 429)  # never signed in with a wrong password
    assert "_auth_user_id" not in client.session


@given(msisdn=st.one_of(text, st.sampled_from(["HOLDER", " HOLDER ", "HOLDER\x00", "HOLDERHOLDER"])))
def test_subscriber_sign_in(holder, msisdn):
    msisdn = msisdn.replace("HOLDER", holder[0].msisdn)
    client = Client(headers={"accept-language": "en"})
    codes = SmsCode.objects.count()
    response = client.post("/renew/", {"msisdn": msisdn}, REMOTE_ADDR=f"10.1.{next(_rows) % 250}.1")
    _no_server_error(response)
    if response.status_code != 302:
        assert SmsCode.objects.count() == codes  # a refused number sends nothing
    assert "renew_subscriber" not in client.session


@given(code=st.one_of(text, st.text(string.digits, min_size=6, max_size=6)))
def test_subscriber_code(holder, code):
    number, _ = holder
    client = Client(headers={"accept-language": "en"})
    client.post("/renew/", {"msisdn": number.msisdn}, REMOTE_ADDR=f"10.2.{next(_rows) % 250}.1")
    real = SmsCode.objects.get(msisdn=number.msisdn)
    response = client.post("/renew/code", {"code": code})
    _no_server_error(response)
    from renewal.active.sms import code_hmac  # the stored digest of the code typed, to tell a lucky guess

    if code_hmac(number.msisdn, code.strip()) != real.code_hmac:
        assert not (response.status_code == 302 and response["Location"].endswith("/renew/number"))


@pytest.fixture
def subscriber(holder, settings, tmp_path):
    settings.PRIVATE_FILES_ROOT = tmp_path / "private"
    client = Client(headers={"accept-language": "en"})
    sign_in(client, holder[0].msisdn)
    return client


@given(category=choice(HarassmentCategory.values), sender=choice(["+86 400 123 4567", "95xxx"]),
       occurred_at=choice(["2026-11-01T09:30", "2026-10-31T23:59"]), description=choice(["They call every day."]),
       files=st.lists(st.tuples(text, st.one_of(st.just(PNG), st.just(PNG), st.binary(max_size=2000)),
                                st.sampled_from(["image/png", "application/pdf", "text/plain", ""])), max_size=3))
def test_harassment_report(subscriber, settings, category, sender, occurred_at, description, files):
    rows = _counts(HarassmentReport, Evidence)
    stored = set(settings.PRIVATE_FILES_ROOT.rglob("*")) if settings.PRIVATE_FILES_ROOT.exists() else set()
    uploads = [SimpleUploadedFile(name[:100] or "f", content, kind) for name, content, kind in files]
    response = subscriber.post("/renew/report", {"category": category, "sender": sender, "occurred_at": occurred_at,
                                                 "description": description, "evidence": uploads})
    _no_server_error(response)
    now = set(settings.PRIVATE_FILES_ROOT.rglob("*")) if settings.PRIVATE_FILES_ROOT.exists() else set()
    new_files = {p for p in now - stored if p.is_file()}
    if response.status_code == 302:
        report = HarassmentReport.objects.latest("created_at")
        assert report.evidence.count() == len(uploads) == len(new_files)
    else:
        assert _counts(HarassmentReport, Evidence) == rows and not new_files


@pytest.fixture
def regulator_client(regulator):
    client = Client(headers={"accept-language": "en"})
    client.force_login(regulator)
    return client


@given(numbers=choice(["FROZEN", "FROZEN\nFROZEN\n+8613800000000", "FROZEN\n\x00", "FROZEN\nnot a number"]),
       category=choice(MarkCategory.values), authority=choice(["MIIT", "Beijing PSB"]),
       reference=choice(["", "MIIT-2026-1"]), effect=choice(MarkEffect.values),
       extra_days=st.one_of(choice(["30", "", "400"]), st.integers(-5, 5000).map(str)))
@example(numbers="FROZEN", category="fraud", authority="MIIT", reference="", effect="suspend", extra_days="")
@example(numbers="FROZEN\n+8613800000000", category="fraud", authority="MIIT", reference="", effect="extend",
         extra_days="30")
def test_risk_marks(regulator_client, frozen_number, numbers, category, authority, reference, effect, extra_days,
                    django_capture_on_commit_callbacks):
    numbers = numbers.replace("FROZEN", frozen_number.msisdn)
    lists, marks = RiskList.objects.count(), RiskMark.objects.count()
    before = snapshot()
    with django_capture_on_commit_callbacks(execute=True):
        response = regulator_client.post(reverse("admin:numbers_riskmark_add"), {
            "numbers": numbers, "category": category, "authority": authority, "reference": reference,
            "effect": effect, "extra_days": extra_days})
    _no_server_error(response)
    if response.status_code == 302:  # queued and applied by its task: each mark placed with its event
        assert RiskList.objects.count() == lists + 1
        for mark in RiskMark.objects.all()[marks:]:
            assert mark.number.events.filter(kind=EventKind.MARK_PLACED).exists()
    else:
        assert RiskList.objects.count() == lists and RiskMark.objects.count() == marks
    assert_invariants(since=before)


@given(content=st.one_of(st.binary(max_size=3000), text.map(lambda t: (FEED_HEADER + "\n" + t).encode())),
       kind=choice(FeedKind.values), dry_run=st.sampled_from(["", "on"]))
def test_feed_upload(operator, settings, tmp_path, content, kind, dry_run):
    settings.PRIVATE_FILES_ROOT = tmp_path / "private"
    client = Client(headers={"accept-language": "en"})
    client.force_login(staff_user(role=roles.OPERATOR_ADMIN, operator=operator, username=f"op-{next(_rows)}"))
    rows = _counts(FeedUpload, AuditEntry)
    response = client.post(reverse("admin:numbers_feedupload_add"), {
        "kind": kind, "dry_run": dry_run, "file": SimpleUploadedFile("feed.csv", content, "text/csv")})
    _no_server_error(response)
    if response.status_code == 302:  # queued whole: the row, its stored file and its audit entry
        upload = FeedUpload.objects.latest("id")
        assert upload.file.storage.exists(upload.file.name)
        assert AuditEntry.objects.count() == rows["AuditEntry"] + 1
    else:
        assert _counts(FeedUpload, AuditEntry) == rows


_when = st.one_of(st.none(), st.datetimes(timezones=st.just(timezone.get_current_timezone())).map(
    lambda d: d.replace(microsecond=0)))


@given(lines=st.lists(st.tuples(st.one_of(st.integers(0, 4), text), _when, st.sampled_from(
    ["cancel", "port_out", "", "nonsense", "CANCEL"]), st.sampled_from(["", "CUCC", "CMCC", "XXXX"])), max_size=12))
def test_the_import_service_applies_or_refuses_each_line_whole(operator, other_operator, outlet, clerk,
                                                               lines):
    from tests.renewal.helpers_subscriber import allocated

    held = [allocated(operator, outlet, clerk)[0] for _ in range(5)]
    rows = [CancellationRow(line=i + 2, msisdn=held[who].msisdn if isinstance(who, int) else who,
                            cancelled_at=when, reason=reason, to_operator=to)
            for i, (who, when, reason, to) in enumerate(lines)]
    before = snapshot()
    outcomes: list = []
    summary = cancellations_import(operator=operator, rows=rows, actor="prop", all_lines=True,
                                   report=lambda _summary, lines: outcomes.extend(lines),
                                   now=timezone.now() + timedelta(seconds=1))
    assert summary.lines == len(rows) == len(outcomes)
    assert summary.applied + summary.already_applied + summary.rejected_total == len(rows)
    # each held number moved only with its own event, or not at all
    for number in PhoneNumber.objects.filter(pk__in=[n.pk for n in held]):
        moved = number.events.filter(kind__in=[EventKind.CANCEL, EventKind.PORT_OUT]).count()
        assert moved <= 1
        if number.state == State.ACTIVE and not moved:
            assert number.holder_periods.filter(ended_at__isnull=True).count() == 1
        if moved:
            assert number.state in (State.FROZEN, State.ACTIVE, State.SUSPENDED)
    applied_numbers = Event.objects.filter(kind__in=[EventKind.CANCEL, EventKind.PORT_OUT], actor="prop").count()
    assert applied_numbers == summary.applied
    assert_invariants(since=before)


_names = count()


@given(organisation=choice(["Gamma Ltd", "伽马科技"]), contact_email=choice(["ops@gamma.example"]),
       contact_phone=choice(["+86 10 5555 0100"]), categories=st.lists(choice(["travel", "payment"]), max_size=3),
       kind=choice(["application", "tag_provider", "query_only"]), pull_only=st.sampled_from(["", "on"]),
       webhook_url=choice(["https://hooks.gamma.example/renewal", "", "http://127.1/x", "https://0x7f000001/",
                           "https://[::ffff:127.0.0.1]/", "https://10.0.0.1/hook"]),
       support_phone=choice(["+86 400 555 0100", ""]), support_url=choice(["", "https://help.gamma.example/"]))
@example(organisation="Gamma Ltd", contact_email="ops@gamma.example", contact_phone="+86 10 5555 0100",
         categories=["travel"], kind="application", pull_only="", webhook_url="https://hooks.gamma.example/renewal",
         support_phone="+86 400 555 0100", support_url="")
def test_platform_registration(db, settings, organisation, contact_email, contact_phone, categories, kind, pull_only,
                               webhook_url, support_phone, support_url):
    settings.PLATFORM_REGISTRATIONS_PER_ADDRESS_HOUR = 1_000_000  # the limit has its own test
    settings.RENEWAL_WEBHOOK_ALLOW_LOOPBACK = False
    client = Client(headers={"accept-language": "en"})
    rows = _counts(PlatformRegistration, AuditEntry)
    response = client.post("/platform/register/", {
        "organisation": organisation, "platform_name": f"App {next(_names)}", "contact_name": "Zhang Wei",
        "contact_email": contact_email, "contact_phone": contact_phone, "categories": categories, "kind": kind,
        "pull_only": pull_only, "webhook_url": webhook_url, "support_phone": support_phone,
        "support_url": support_url})
    _no_server_error(response)
    if response.status_code == 302:  # saved whole: one registration waiting, audited, with a safe webhook URL
        registration = PlatformRegistration.objects.latest("pk")
        assert registration.state == "pending" and registration.categories
        assert registration.webhook_url in ("", "https://hooks.gamma.example/renewal")
        assert _counts(PlatformRegistration, AuditEntry) == {k: v + 1 for k, v in rows.items()}
    else:  # refused whole
        assert _counts(PlatformRegistration, AuditEntry) == rows
    assert_invariants()
