"""CSV export of admin lists: the filtered list, streamed, with flat memory and no query per row."""

import csv
import io
from datetime import timedelta

import pytest
from django.contrib.auth.models import Group, Permission
from django.http import StreamingHttpResponse
from django.urls import reverse
from django.utils import timezone

from numbers import roles
from numbers.exports import csv_cell
from numbers.models import Operator, PhoneNumber, State
from numbers.services import number_offer_decline
from tests.factories import PhoneNumberFactory, staff_user

EXPORT = reverse("admin:numbers_phonenumber_export_csv")


def _rows(response) -> list[list[str]]:
    assert isinstance(response, StreamingHttpResponse)
    body = b"".join(response.streaming_content).decode("utf-8")
    assert body.startswith("\ufeff")
    return list(csv.reader(io.StringIO(body[1:])))


def test_export_is_the_filtered_list(client, regulator, world):
    client.force_login(regulator)
    response = client.get(EXPORT, {"state__exact": "frozen"})
    assert response.status_code == 200
    assert response["Content-Type"] == "text/csv; charset=utf-8"
    assert response["Content-Disposition"].startswith('attachment; filename="phonenumber-')
    rows = _rows(response)
    assert rows[0] == ["msisdn", "state", "suspended_from", "secondary", "range_holder", "serving_operator",
                       "cancelled_at", "frozen_until", "released_at", "updated_at"]
    frozen = sorted([world["CMCC"].frozen, world["CUCC"].frozen], key=lambda n: n.msisdn)
    assert [r[0] for r in rows[1:]] == [n.msisdn for n in frozen]
    first = rows[1]
    assert first[1:6] == ["frozen", "", "false", frozen[0].range_holder.code, frozen[0].range_holder.code]
    assert first[6] == timezone.localtime(frozen[0].cancelled_at).isoformat()  # local time, with its offset
    assert first[6].endswith("+08:00")


def test_export_follows_the_search_national_or_e164(client, regulator, world):
    number = world["CUCC"].suspended
    client.force_login(regulator)
    for term in (number.msisdn, number.msisdn.removeprefix("+86"), "0086" + number.msisdn.removeprefix("+86")):
        rows = _rows(client.get(EXPORT, {"q": term}))
        assert [r[0] for r in rows[1:]] == [number.msisdn], term


def test_export_follows_date_filters(client, regulator, world):
    client.force_login(regulator)
    since = timezone.localtime() - timedelta(days=15)
    rows = _rows(client.get(EXPORT, {"cancelled_at__gte": since.isoformat()}))
    assert {r[0] for r in rows[1:]} == {world["CMCC"].frozen.msisdn, world["CUCC"].frozen.msisdn}


def test_bad_filters_go_back_to_the_list_with_a_message(client, regulator, world):
    client.force_login(regulator)
    response = client.get(EXPORT, {"cancelled_at__gte": "not-a-date"})
    assert response.status_code == 302
    assert response["Location"] == reverse("admin:numbers_phonenumber_changelist")


def test_export_streams_thousands_of_rows_in_a_few_queries(client, regulator, django_assert_max_num_queries):
    operator = Operator.objects.create(code="BULK", name="Bulk", coverage_start="2020-01-01")
    PhoneNumber.objects.bulk_create(
        PhoneNumber(msisdn=f"+86139{i:08d}", range_holder=operator, serving_operator=operator,
                    state=State.AVAILABLE if i % 3 else State.ACTIVE) for i in range(5000)
    )
    client.force_login(regulator)
    response = client.get(EXPORT, {"state__exact": "available"})
    # consuming the stream runs the query in chunks: no query per row (foreign keys are joined)
    with django_assert_max_num_queries(6):
        pieces = list(response.streaming_content)
    assert len(pieces) >= 5000 * 2 // 3 // 500  # it comes in pieces, not as one body
    response.streaming_content = iter(pieces)
    rows = _rows(response)
    assert len(rows) == 1 + sum(1 for i in range(5000) if i % 3)
    assert {r[4] for r in rows[1:]} == {"BULK"}
    assert rows[1][0] == "+8613900000001" and rows[-1][0] == "+8613900004999"


def test_formulas_are_defused_but_numbers_kept(client, regulator, world):
    offered = PhoneNumberFactory(range_holder=world["CMCC"].operator, is_secondary=True)
    number_offer_decline(number=offered, outlet=world["CMCC"].outlet, staff=world["CMCC"].clerk,
                         reason='=HYPERLINK("http://evil.example","x")')
    client.force_login(regulator)
    rows = _rows(client.get(reverse("admin:numbers_declinedoffer_export_csv"), {"q": offered.msisdn}))
    assert rows[1][0] == offered.msisdn  # +86… stays a number
    assert rows[1][5] == '\'=HYPERLINK("http://evil.example","x")'


@pytest.mark.parametrize("value,text", [
    (None, ""), (True, "true"), (False, "false"), ("+8613800138000", "+8613800138000"), ("-12", "-12"),
    ("-cmd", "'-cmd"), ("@SUM(A1)", "'@SUM(A1)"), ("+1+2", "'+1+2"), ({"b": 1, "a": "号"}, '{"a": "号", "b": 1}'),
])
def test_csv_cell(value, text):
    assert csv_cell(value) == text


def test_export_needs_the_export_permission(client, world, platform_admin):
    # a regulator whose role may view numbers but, here, not export them
    viewer = staff_user(role=roles.REGULATOR, username="viewer")
    Group.objects.get(name=roles.REGULATOR).permissions.remove(Permission.objects.get(codename="export_csv"))
    client.force_login(viewer)
    assert client.get(reverse("admin:numbers_phonenumber_changelist")).status_code == 200
    assert client.get(EXPORT).status_code == 403
    client.force_login(platform_admin)
    assert client.get(EXPORT).status_code == 403
    client.logout()
    assert client.get(EXPORT).status_code == 302


def test_the_list_links_to_its_export_with_its_filters(client, regulator, world):
    client.force_login(regulator)
    page = client.get(reverse("admin:numbers_phonenumber_changelist"), {"state__exact": "frozen"})
    assert f'href="{EXPORT}?state__exact=frozen"'.encode() in page.content
