"""The number book: what is listed, search by pattern, filters, keyset paging, renewal status, query count."""

import re
from datetime import timedelta

import pytest
from django.urls import reverse
from django.utils import timezone

from numbers import hooks
from numbers.sales import selectors
from tests.factories import PhoneNumberFactory
from tests.helpers_times import english_time
from tests.numbers.sales.helpers_staff import frozen_number, secondary_number, signed_in, suspended_number

BOOK = reverse("staff:book")


def _listed(response) -> list[str]:
    """Return the E.164 numbers listed, in page order (from the offer links' visually hidden text)."""
    assert response.status_code == 200
    ids = [int(i) for i in re.findall(r'href="/staff/numbers/(\d+)/"', response.content.decode())]
    from numbers.models import PhoneNumber

    by_id = dict(PhoneNumber.objects.filter(pk__in=ids).values_list("pk", "msisdn"))
    return [by_id[i] for i in ids]


def test_suspended_frozen_and_active_numbers_are_never_listed(clerk, outlet, regulator):
    new = PhoneNumberFactory(range_holder=outlet.operator, msisdn="+8613900008888")
    secondary = secondary_number(outlet=outlet, staff=clerk, msisdn="+8613900018888")
    frozen = frozen_number(outlet=outlet, staff=clerk, msisdn="+8613900028888")
    suspended = suspended_number(operator=outlet.operator, regulator=regulator, msisdn="+8613900038888")
    released_then_suspended = secondary_number(outlet=outlet, staff=clerk, msisdn="+8613900048888")
    from numbers.services import risk_mark_place

    risk_mark_place(number=released_then_suspended, category="fraud", authority="Police", effect="suspend",
                    actor=regulator)
    active = PhoneNumberFactory(range_holder=outlet.operator, msisdn="+8613900058888")
    signed_in(clerk).post(reverse("staff:offer", args=[active.pk]), {"action": "allocate", "customer_ref": "C-1"})
    client = signed_in(clerk)
    for params in ({}, {"q": "8888", "match": "ends"}, {"q": "8888"}, {"kind": "secondary"}, {"kind": "new"}):
        listed = _listed(client.get(BOOK, params))
        for hidden in (frozen, suspended, released_then_suspended, active):
            assert hidden.msisdn not in listed, (params, hidden)
    assert _listed(client.get(BOOK)) == [new.msisdn, secondary.msisdn]
    # The offer page of a number that is not available does not offer it either.
    for hidden in (frozen, suspended):
        response = client.get(reverse("staff:offer", args=[hidden.pk]), follow=True)
        assert response.redirect_chain[-1][0] == BOOK
        assert "no longer available" in response.content.decode()


def test_search_ends_with_and_contains(clerk, outlet):
    numbers = {m: PhoneNumberFactory(range_holder=outlet.operator, msisdn=m) for m in (
        "+8613812348888", "+8613888881234", "+8613812345678", "+8615088880000", "+8613800001888",
    )}
    client = signed_in(clerk)
    assert _listed(client.get(BOOK, {"q": "8888", "match": "ends"})) == ["+8613812348888"]
    assert _listed(client.get(BOOK, {"q": "8888", "match": "contains"})) == [
        "+8613812348888", "+8613888881234", "+8615088880000",
    ]
    # Separators typed by people are ignored.
    assert _listed(client.get(BOOK, {"q": "1234 8888", "match": "ends"})) == ["+8613812348888"]
    # Whole numbers as a clerk types them: +86, 0086, full-width digits.
    for typed in ("+86 138 1234 8888", "0086-138-1234-8888", "１３８１２３４８８８８",
                  "＋８６　１３８１２３４８８８８"):
        assert _listed(client.get(BOOK, {"q": typed})) == ["+8613812348888"], typed
    # "contains" looks at the national number: 861 is not found in every number's country code.
    assert _listed(client.get(BOOK, {"q": "861"})) == []
    assert len(numbers) == 5


@pytest.mark.parametrize("bad", ["88a8", "'; DROP TABLE x; --", "%", "_", "123456789012"])
def test_bad_search_input_gets_a_clear_message_and_lists_nothing(clerk, outlet, bad):
    PhoneNumberFactory(range_holder=outlet.operator)
    response = signed_in(clerk).get(BOOK, {"q": bad})
    body = response.content.decode()
    assert response.status_code == 200
    assert "Search with digits" in body or "at most 11" in body
    assert "/staff/numbers/" not in body


def test_broken_page_links_get_a_clear_message(clerk, outlet):
    response = signed_in(clerk).get(BOOK, {"after": "x' OR 1=1"})
    assert "This page link is broken" in response.content.decode()


def test_filter_secondary_and_never_used(clerk, outlet):
    new = PhoneNumberFactory(range_holder=outlet.operator)
    secondary = secondary_number(outlet=outlet, staff=clerk)
    client = signed_in(clerk)
    assert _listed(client.get(BOOK, {"kind": "secondary"})) == [secondary.msisdn]
    assert _listed(client.get(BOOK, {"kind": "new"})) == [new.msisdn]


def test_each_secondary_number_is_marked_with_its_disconnection_date_and_a_new_one_as_new(clerk, outlet):
    secondary = secondary_number(outlet=outlet, staff=clerk, cancelled_days_ago=120)
    PhoneNumberFactory(range_holder=outlet.operator)
    body = signed_in(clerk).get(BOOK).content.decode()
    disconnected = english_time(secondary.cancelled_at, "date")
    assert f'Previous holder disconnected on <span class="nowrap">{disconnected}</span>' in body
    assert body.count("badge-secondary") == 1 and body.count("badge-new") == 1
    assert "Never used: no previous holder." in body
    # Until the batch-renewal app answers, the status is shown as not available, not as an error.
    assert "Removal of old accounts not started" in body  # no batch was pushed for it in this test


def test_renewal_status_from_the_hook_is_shown_per_number(clerk, outlet, monkeypatch):
    a = secondary_number(outlet=outlet, staff=clerk, msisdn="+8613900000001")
    b = secondary_number(outlet=outlet, staff=clerk, msisdn="+8613900000002")
    c = secondary_number(outlet=outlet, staff=clerk, msisdn="+8613900000003")
    answers = {
        a.pk: {"state": "complete", "confirmed": 5, "total": 5, "never_confirmed": []},
        b.pk: {"state": "in_progress", "confirmed": 3, "total": 5, "never_confirmed": ["PayCo", "ChatApp"]},
        c.pk: {"state": "not_started"},
    }
    calls = []

    def statuses(numbers):
        calls.append([n.pk for n in numbers])
        return {n.pk: answers[n.pk] for n in numbers}

    monkeypatch.setattr(hooks, "renewal_statuses", statuses)
    body = signed_in(clerk).get(BOOK).content.decode()
    assert "Old accounts removed: confirmed by 5 of 5 platforms" in body
    assert "Removal of old accounts in progress: confirmed by 3 of 5 platforms; never confirmed: PayCo, ChatApp" in body
    assert "Removal of old accounts not started" in body
    assert calls == [[a.pk, b.pk, c.pk]]  # one batched call per page


@pytest.mark.parametrize("status", [None, {}, {"state": "weird"}, {"state": "complete", "total": "x"}, "oops"])
def test_odd_hook_answers_render_as_unknown(status):
    shown = selectors.renewal_display(status)
    assert shown["state"] in ("unknown", "complete") and shown["has_counts"] is False


def test_the_default_batched_hook_asks_the_one_number_hook(clerk, outlet, monkeypatch):
    number = secondary_number(outlet=outlet, staff=clerk)
    monkeypatch.setattr(hooks, "renewal_status", lambda n: {"state": "complete", "confirmed": 1, "total": 1})
    assert hooks._renewal_statuses_default([number]) == {
        number.pk: {"state": "complete", "confirmed": 1, "total": 1}
    }


def test_keyset_paging_forward_and_back(clerk, outlet):
    msisdns = [f"+86138000{i:05d}" for i in range(7)]
    for m in msisdns:
        PhoneNumberFactory(range_holder=outlet.operator, msisdn=m)
    op = outlet.operator
    page1 = selectors.number_book_page(op, selectors.BookQuery(), page_size=3)
    assert [n.msisdn for n in page1.numbers] == msisdns[:3] and page1.prev_before is None
    page2 = selectors.number_book_page(op, selectors.BookQuery(after=page1.next_after), page_size=3)
    assert [n.msisdn for n in page2.numbers] == msisdns[3:6]
    page3 = selectors.number_book_page(op, selectors.BookQuery(after=page2.next_after), page_size=3)
    assert [n.msisdn for n in page3.numbers] == msisdns[6:] and page3.next_after is None
    back = selectors.number_book_page(op, selectors.BookQuery(before=page3.prev_before), page_size=3)
    assert [n.msisdn for n in back.numbers] == msisdns[3:6] and back.next_after == msisdns[5]
    back1 = selectors.number_book_page(op, selectors.BookQuery(before=back.prev_before), page_size=3)
    assert [n.msisdn for n in back1.numbers] == msisdns[:3] and back1.prev_before is None


def test_the_pages_links_keep_the_search(clerk, outlet, monkeypatch):
    monkeypatch.setattr(selectors, "PAGE_SIZE", 2)
    monkeypatch.setattr(selectors.number_book_page, "__defaults__", None)
    monkeypatch.setattr(selectors.number_book_page, "__kwdefaults__", {"page_size": 2})
    for i in range(5):
        PhoneNumberFactory(range_holder=outlet.operator, msisdn=f"+861380000{i}888")
    client = signed_in(clerk)
    first = client.get(BOOK, {"q": "888", "match": "ends"})
    next_url = re.search(r'href="([^"]+)" rel="next"', first.content.decode()).group(1).replace("&amp;", "&")
    assert "q=888" in next_url and "match=ends" in next_url and "after=" in next_url
    assert _listed(client.get(next_url)) == ["+8613800002888", "+8613800003888"]


def test_a_page_costs_the_same_number_of_queries_for_3_or_30_numbers(clerk, outlet, django_assert_num_queries,
                                                                     monkeypatch):
    calls = []
    monkeypatch.setattr(hooks, "renewal_statuses", lambda numbers: calls.append(1) or {})
    client = signed_in(clerk)
    for _ in range(3):
        secondary_number(outlet=outlet, staff=clerk)
    client.get(BOOK)  # warm the session

    def count_queries():
        from django.db import connection
        from django.test.utils import CaptureQueriesContext

        with CaptureQueriesContext(connection) as ctx:
            assert client.get(BOOK).status_code == 200
        return len(ctx.captured_queries)

    small = count_queries()
    for _ in range(27):
        secondary_number(outlet=outlet, staff=clerk)
    PhoneNumberFactory.create_batch(10, range_holder=outlet.operator)
    assert count_queries() == small
    assert len(calls) == 3  # warm-up and two measured pages: one batched call each


def test_an_old_cancelled_at_on_a_never_used_number_is_not_shown(clerk, outlet):
    # Available numbers keep cancelled_at until re-allocation; the book shows it only for secondary numbers.
    number = PhoneNumberFactory(range_holder=outlet.operator, cancelled_at=timezone.now() - timedelta(days=500))
    body = signed_in(clerk).get(BOOK).content.decode()
    assert number.national in body and "Previous holder disconnected" not in body
