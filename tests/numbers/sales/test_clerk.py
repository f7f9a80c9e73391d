"""The clerk's stumbling blocks: the drawn signature, the receipt's link and button name, the SMS copy of the
disclosure, their own password and the operator administrator's reset link."""

import base64
import re
from datetime import timedelta

import pytest
from django.test import Client, override_settings
from django.urls import reverse
from django.utils import timezone, translation

from numbers import hooks, roles
from numbers.demo import signature_png
from numbers.models import Disclosure, HolderPeriod
from numbers.services import disclosure_signatures_prune
from tests.factories import OutletFactory, staff_user
from tests.numbers.sales.helpers_staff import PASSWORD, sales_clerk, secondary_number, signature_data_url, signed_in

ALLOCATE = {"action": "allocate", "customer_ref": "CMCC-88-0001", "method": "esign", "confirmed": "on"}


@pytest.fixture(autouse=True)
def _private(settings, tmp_path):
    settings.PRIVATE_FILES_ROOT = tmp_path / "private"
    return settings.PRIVATE_FILES_ROOT


def _offer(number):
    return reverse("staff:offer", args=[number.pk])


def _blank_png() -> str:
    import struct
    import zlib

    def chunk(kind, data):
        return struct.pack(">I", len(data)) + kind + data + struct.pack(">I", zlib.crc32(kind + data) & 0xFFFFFFFF)

    raw = b"".join(b"\x00" + b"\x00" * 40 for _ in range(10))
    png = (b"\x89PNG\r\n\x1a\n" + chunk(b"IHDR", struct.pack(">IIBBBBB", 10, 10, 8, 6, 0, 0, 0))
           + chunk(b"IDAT", zlib.compress(raw)) + chunk(b"IEND", b""))
    return "data:image/png;base64," + base64.b64encode(png).decode()


@pytest.mark.parametrize("signature, says", [
    ("", "did not arrive"), ("data:image/png;base64,bm90IGEgcG5n", "not a picture"),
    ("data:image/jpeg;base64,/9j/4AAQ", "did not arrive"), ("blank", "box is empty"),
])
def test_an_electronic_signature_disclosure_needs_a_drawn_signature(clerk, outlet, signature, says, _private):
    number = secondary_number(outlet=outlet, staff=clerk)
    drawn = _blank_png() if signature == "blank" else signature
    response = signed_in(clerk).post(_offer(number), {**ALLOCATE, "signature": drawn})
    assert response.status_code == 400 and says in response.content.decode()
    assert not Disclosure.objects.filter(number=number).exists()
    assert not list(_private.rglob("*.png"))


def test_the_signature_is_kept_privately_and_shown_on_the_receipt(clerk, outlet, regulator, _private):
    number = secondary_number(outlet=outlet, staff=clerk)
    client = signed_in(clerk)
    response = client.post(_offer(number), {**ALLOCATE, "signature": signature_data_url()})
    assert response.status_code == 302
    disclosure = Disclosure.objects.get(number=number)
    (stored,) = list(_private.rglob("*.png"))
    assert stored.read_bytes() == signature_png() and str(stored).startswith(str(_private))
    receipt = client.get(response["Location"]).content.decode()
    image = reverse("staff:receipt_signature", args=[disclosure.holder_period.pk])
    assert f'src="{image}"' in receipt
    answer = client.get(image)
    assert answer.status_code == 200 and answer["Content-Type"] == "image/png"
    assert b"".join(answer.streaming_content) == signature_png()
    # Another outlet's clerk of the same operator: no such receipt, no such signature.
    other = sales_clerk(OutletFactory(operator=outlet.operator, code="SH-1", name="Shanghai"), "clerk-sh")
    assert signed_in(other).get(image).status_code == 404
    # In admin: the regulator and the operator's administrator (the matrix walks every role).
    admin_url = reverse("admin:numbers_disclosure_signature", args=[disclosure.pk])
    assert signed_in(regulator).get(admin_url).status_code == 200
    operator_admin = staff_user(role=roles.OPERATOR_ADMIN, operator=outlet.operator, username="oa")
    assert signed_in(operator_admin).get(admin_url).status_code == 200


def test_a_failed_allocation_leaves_no_signature_file_behind(clerk, outlet, monkeypatch, _private):
    number = secondary_number(outlet=outlet, staff=clerk)

    def boom(period, renewal):
        raise RuntimeError("after the signature was written")

    monkeypatch.setattr(hooks, "allocated", boom)
    with pytest.raises(RuntimeError):
        signed_in(clerk).post(_offer(number), {**ALLOCATE, "signature": signature_data_url()})
    assert not Disclosure.objects.filter(number=number).exists()
    assert not list(_private.rglob("*.png"))


def test_signatures_are_deleted_after_the_retention_period(clerk, outlet, settings, _private,
                                                           django_capture_on_commit_callbacks):
    number = secondary_number(outlet=outlet, staff=clerk)
    signed_in(clerk).post(_offer(number), {**ALLOCATE, "signature": signature_data_url()})
    settings.SIGNATURE_RETENTION_DAYS = 30
    assert disclosure_signatures_prune(now=timezone.now() + timedelta(days=29)) == 0
    with django_capture_on_commit_callbacks(execute=True):  # the files go once the rows are cleared
        assert disclosure_signatures_prune(now=timezone.now() + timedelta(days=31)) == 1
    assert not list(_private.rglob("*.png"))
    assert Disclosure.objects.get(number=number).signature == ""


@override_settings(PUBLIC_BASE_URL="https://renewal.example.cn")
def test_the_receipt_links_to_the_renewal_page_and_names_the_real_button(clerk, outlet):
    number = secondary_number(outlet=outlet, staff=clerk)
    client = signed_in(clerk)
    location = client.post(_offer(number), {**ALLOCATE, "method": "spoken"})["Location"]
    receipt = client.get(location).content.decode()
    assert "https://renewal.example.cn/renew/" in receipt
    for language in ("en", "zh-hans"):
        with translation.override(language):
            button = translation.gettext("Unbind all")
        page = signed_in(clerk).get(location, HTTP_ACCEPT_LANGUAGE=language)
        subscriber_button = re.search(r'id="unbind-all">([^<]+)<', _subscriber_page(language)).group(1)
        assert button == subscriber_button and f"“{button}”" in page.content.decode(), language


def _subscriber_page(language: str) -> str:
    from django.template.loader import render_to_string

    with translation.override(language):
        return render_to_string("subscriber/_unbind.html", {"period": type("P", (), {"started_at": 1})(),
                                                             "platform_count": 1, "platform_groups": []})


def test_the_receipt_falls_back_to_the_requests_host(clerk, outlet, settings):
    settings.PUBLIC_BASE_URL = ""
    number = secondary_number(outlet=outlet, staff=clerk)
    client = signed_in(clerk)
    location = client.post(_offer(number), {**ALLOCATE, "method": "spoken"})["Location"]
    assert "http://testserver/renew/" in client.get(location).content.decode()


@override_settings(PUBLIC_BASE_URL="https://renewal.example.cn")
def test_the_disclosure_can_be_texted_to_the_new_number_once_a_minute(clerk, outlet,
                                                                       django_capture_on_commit_callbacks):
    from renewal.models import SmsMessage

    number = secondary_number(outlet=outlet, staff=clerk)
    client = signed_in(clerk)
    period_url = client.post(_offer(number), {**ALLOCATE, "method": "written"})["Location"]
    period = HolderPeriod.objects.get(number=number, ended_at__isnull=True)
    sms = reverse("staff:receipt_sms", args=[period.pk])
    SmsMessage.objects.all().delete()
    with django_capture_on_commit_callbacks(execute=True):
        first = client.post(sms, follow=True)
        client.post(sms)
    assert "A copy was sent by SMS" in first.content.decode()
    (message,) = SmsMessage.objects.all()
    assert message.to == number.msisdn and "https://renewal.example.cn/renew/" in message.body
    assert timezone.localtime(number.cancelled_at).strftime("%Y-%m-%d") in message.body
    assert period_url.endswith(f"/{period.pk}/")


def test_a_new_numbers_receipt_has_no_disclosure_to_text(clerk, outlet):
    from tests.factories import PhoneNumberFactory

    number = PhoneNumberFactory(range_holder=outlet.operator)
    client = signed_in(clerk)
    client.post(_offer(number), {"action": "allocate", "customer_ref": "C-9"})
    period = HolderPeriod.objects.get(number=number)
    page = client.post(reverse("staff:receipt_sms", args=[period.pk]), follow=True).content.decode()
    assert "no disclosure to send" in page


def test_a_clerk_changes_their_own_password(clerk):
    client = signed_in(clerk)
    url = reverse("staff:password_change")
    assert "Change my password" in client.get(reverse("staff:book")).content.decode()
    wrong = client.post(url, {"old_password": "nope", "new_password1": "Lantern-Harbour-93",
                              "new_password2": "Lantern-Harbour-93"})
    assert wrong.status_code == 400 and "Old password" in wrong.content.decode()
    done = client.post(url, {"old_password": PASSWORD, "new_password1": "Lantern-Harbour-93",
                             "new_password2": "Lantern-Harbour-93"})
    assert done.status_code == 302
    assert client.get(reverse("staff:book")).status_code == 200  # still signed in
    clerk.refresh_from_db()
    assert clerk.check_password("Lantern-Harbour-93")


def test_the_operator_administrator_makes_a_one_time_reset_link_for_its_clerk(clerk, outlet, other_operator):
    operator_admin = staff_user(role=roles.OPERATOR_ADMIN, operator=outlet.operator, username="oa")
    admin = signed_in(operator_admin)
    page = admin.get(reverse("admin:auth_user_change", args=[clerk.pk])).content.decode()
    reset = reverse("admin:auth_user_reset_link", args=[clerk.pk])
    assert reset in page
    link = re.search(r'value="(http[^"]+/staff/reset/[^"]+)"', admin.post(reset).content.decode()).group(1)
    path = link.replace("http://testserver", "")
    # The clerk opens it (Django moves the token into the session), sets a password, then signs in with it.
    anonymous = Client()
    form_url = anonymous.get(path)["Location"]
    response = anonymous.post(form_url, {"new_password1": "Copper-Kettle-2026", "new_password2": "Copper-Kettle-2026"})
    assert response.status_code == 302 and response["Location"] == reverse("staff:login")
    assert Client().login(username=clerk.username, password="Copper-Kettle-2026")
    # Used once: the same link no longer works.
    again = Client().get(path, follow=True).content.decode()
    assert "does not work any more" in again
    # Another operator's administrator cannot make one for this clerk.
    stranger = staff_user(role=roles.OPERATOR_ADMIN, operator=other_operator, username="oa-b")
    assert signed_in(stranger).post(reset).status_code == 404


def test_a_whole_number_not_for_sale_says_so(clerk, outlet):
    from tests.numbers.sales.helpers_staff import frozen_number

    frozen = frozen_number(outlet=outlet, staff=clerk)
    page = signed_in(clerk).get(reverse("staff:book"), {"q": frozen.msisdn}).content.decode()
    assert "is not for sale at this outlet" in page
