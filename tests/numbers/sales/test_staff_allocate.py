"""Allocation through the staff pages: the disclosure of a secondary number, declines, races, the receipt."""

import pytest
from django.urls import reverse
from django.utils import timezone

from numbers import hooks
from numbers.models import DeclinedOffer, Disclosure, Event, EventKind, HolderPeriod, PhoneNumber
from numbers.services import DisclosureInput, number_allocate
from tests.factories import PhoneNumberFactory
from tests.helpers_times import english_time
from tests.numbers.sales.helpers_staff import sales_clerk, secondary_number, signed_in

BOOK = reverse("staff:book")


def _offer(number):
    return reverse("staff:offer", args=[number.pk])


def _snapshot(number):
    number.refresh_from_db()
    return (number.state, HolderPeriod.objects.count(), Disclosure.objects.count(), DeclinedOffer.objects.count(),
            Event.objects.filter(number=number).count())


DISCLOSED = {"action": "allocate", "customer_ref": "CRM-2026-0042", "method": "written", "confirmed": "on"}


def test_the_offer_page_of_a_secondary_number_states_the_facts_in_plain_words(clerk, outlet):
    number = secondary_number(outlet=outlet, staff=clerk, cancelled_days_ago=130)
    body = signed_in(clerk).get(_offer(number)).content.decode()
    date = english_time(number.cancelled_at, "date")
    assert "this number was used before" in body
    assert f'Their service ended on <strong class="nowrap">{date}</strong>' in body
    assert "debt collection" in body and "caller-ID tags" in body
    assert "Removal of old accounts not started" in body  # no batch was pushed for it in this test
    assert "The customer may choose another number instead" in body
    for method in ("told in person (spoken)", "written notice", "electronic signature"):
        assert method in body
    assert 'name="confirmed"' in body


@pytest.mark.parametrize("missing", [("method",), ("confirmed",), ("method", "confirmed")])
def test_a_secondary_number_is_refused_without_the_disclosure_and_nothing_is_saved(clerk, outlet, missing):
    number = secondary_number(outlet=outlet, staff=clerk)
    before = _snapshot(number)
    data = {k: v for k, v in DISCLOSED.items() if k not in missing}
    response = signed_in(clerk).post(_offer(number), data)
    assert response.status_code == 400
    body = response.content.decode()
    assert "Nothing was saved" in body
    if "confirmed" in missing:
        assert "Confirm that the customer was told this number is secondary and chose it" in body
    if "method" in missing:
        assert "Choose how the customer was told" in body
    assert _snapshot(number) == before
    assert 'value="CRM-2026-0042"' in body  # what was typed is kept


def test_a_secondary_number_with_the_disclosure_is_allocated_and_the_facts_recorded(clerk, outlet, monkeypatch):
    number = secondary_number(outlet=outlet, staff=clerk)
    status = {"state": "in_progress", "confirmed": 2, "total": 3, "never_confirmed": ["PayCo"]}
    monkeypatch.setattr(hooks, "renewal_status", lambda n: status)
    response = signed_in(clerk).post(_offer(number), DISCLOSED)
    period = HolderPeriod.objects.get(number=number, ended_at__isnull=True)
    assert response.status_code == 302 and response["Location"] == reverse("staff:receipt", args=[period.pk])
    number.refresh_from_db()
    assert number.state == "active"
    assert period.outlet == outlet and period.staff == clerk and period.customer_ref == "CRM-2026-0042"
    disclosure = period.disclosure
    assert disclosure.method == "written" and disclosure.customer_confirmed and disclosure.staff == clerk
    assert disclosure.facts["secondary"] is True and disclosure.facts["renewal"] == status
    assert disclosure.facts["disconnected_at"]
    event = Event.objects.filter(number=number, kind=EventKind.ALLOCATE).latest("id")
    assert event.actor == "clerk" and event.detail["disclosure"] == disclosure.pk


def test_a_new_number_is_allocated_without_a_disclosure(clerk, outlet):
    number = PhoneNumberFactory(range_holder=outlet.operator)
    body = signed_in(clerk).get(_offer(number)).content.decode()
    assert "No disclosure is needed" in body and 'name="confirmed"' not in body
    response = signed_in(clerk).post(_offer(number), {"action": "allocate", "customer_ref": "C-1",
                                                      "method": "bogus", "confirmed": "on"})
    assert response.status_code == 302
    period = HolderPeriod.objects.get(number=number)
    assert period.disclosure is None and not period.requires_disclosure


@pytest.mark.parametrize(("ref", "message"), [
    ("", "This field is required"),
    ("110101199003071234", "identity-document number"),
    ("Zhang San", "no names, no spaces"),
])
def test_bad_customer_references_are_refused_and_nothing_is_saved(clerk, outlet, ref, message):
    number = secondary_number(outlet=outlet, staff=clerk)
    before = _snapshot(number)
    response = signed_in(clerk).post(_offer(number), {**DISCLOSED, "customer_ref": ref})
    assert response.status_code == 400 and message in response.content.decode()
    assert _snapshot(number) == before


def test_an_unknown_disclosure_method_is_refused(clerk, outlet):
    number = secondary_number(outlet=outlet, staff=clerk)
    before = _snapshot(number)
    response = signed_in(clerk).post(_offer(number), {**DISCLOSED, "method": "telepathy"})
    assert response.status_code == 400 and "Select a valid choice" in response.content.decode()
    assert _snapshot(number) == before


def test_a_post_without_an_action_changes_nothing(clerk, outlet):
    number = secondary_number(outlet=outlet, staff=clerk)
    before = _snapshot(number)
    response = signed_in(clerk).post(_offer(number), {"customer_ref": "C-1"})
    assert response.status_code == 400 and "Customer declines" in response.content.decode()
    assert _snapshot(number) == before


def test_customer_declines_records_a_declined_offer_and_the_number_stays_available(clerk, outlet):
    number = secondary_number(outlet=outlet, staff=clerk)
    response = signed_in(clerk).post(_offer(number), {"action": "decline", "reason": "wants a new number"},
                                     follow=True)
    assert response.redirect_chain[-1][0] == BOOK
    assert "Declined offer of" in response.content.decode() and "stays available" in response.content.decode()
    offer = DeclinedOffer.objects.get(number=number)
    assert offer.outlet == outlet and offer.staff == clerk and offer.was_secondary
    assert offer.reason == "wants a new number"
    number.refresh_from_db()
    assert number.state == "available"
    assert Event.objects.filter(number=number, kind=EventKind.DECLINE).count() == 1
    # The number is still in the book.
    assert number.national in signed_in(clerk).get(BOOK).content.decode()


def test_a_decline_reason_with_an_id_number_is_refused(clerk, outlet):
    number = secondary_number(outlet=outlet, staff=clerk)
    before = _snapshot(number)
    response = signed_in(clerk).post(_offer(number), {"action": "decline", "reason": "ID 110101199003071234"})
    assert response.status_code == 400 and "identity-document numbers" in response.content.decode()
    assert _snapshot(number) == before


def test_a_number_taken_meanwhile_sends_the_clerk_back_to_the_book(clerk, outlet):
    """Two clerks open the same number; the first allocates; the second gets 'just taken' and the book."""
    number = secondary_number(outlet=outlet, staff=clerk)
    rival = sales_clerk(outlet, "rival")
    mine, theirs = signed_in(clerk), signed_in(rival)
    assert mine.get(_offer(number)).status_code == 200 and theirs.get(_offer(number)).status_code == 200
    assert mine.post(_offer(number), DISCLOSED).status_code == 302
    response = theirs.post(_offer(number), {**DISCLOSED, "customer_ref": "OTHER-1"}, follow=True)
    assert response.redirect_chain[-1][0] == BOOK
    assert "This number was just taken" in response.content.decode()
    assert HolderPeriod.objects.filter(number=number, ended_at__isnull=True).get().customer_ref == "CRM-2026-0042"
    declined = theirs.post(_offer(number), {"action": "decline"}, follow=True)
    assert "This number was just taken" in declined.content.decode()


def test_taken_between_the_page_check_and_the_service_lock(clerk, outlet, monkeypatch):
    """The view saw it available; another transaction allocated it before the service's lock: NumberTaken."""
    number = secondary_number(outlet=outlet, staff=clerk)
    rival = sales_clerk(outlet, "rival")
    from numbers.sales import views

    real = views.number_allocate

    def racing(**kwargs):
        number_allocate(number=PhoneNumber.objects.get(pk=number.pk), outlet=outlet, staff=rival,
                        customer_ref="RIVAL-1", disclosure=DisclosureInput(method="spoken", customer_confirmed=True))
        return real(**kwargs)

    monkeypatch.setattr(views, "number_allocate", racing)
    response = signed_in(clerk).post(_offer(number), DISCLOSED, follow=True)
    assert "This number was just taken" in response.content.decode()
    assert HolderPeriod.objects.get(number=number, ended_at__isnull=True).staff == rival


# --- the receipt ---------------------------------------------------------------------------------


def test_the_receipt_of_a_secondary_number(clerk, outlet, monkeypatch):
    number = secondary_number(outlet=outlet, staff=clerk, cancelled_days_ago=140)
    disconnected = english_time(number.cancelled_at, "date")
    released = english_time(number.released_at, "date")
    monkeypatch.setattr(hooks, "renewal_status",
                        lambda n: {"state": "complete", "confirmed": 4, "total": 4, "never_confirmed": []})
    client = signed_in(clerk)
    response = client.post(_offer(number), DISCLOSED, follow=True)
    body = response.content.decode()
    assert response.redirect_chain[-1][0].startswith("/staff/receipts/")
    assert number.national in body and number.msisdn in body
    assert "This is a secondary number" in body
    assert f'their service ended on <span class="nowrap">{disconnected}</span>' in body
    assert f'back on sale since <span class="nowrap">{released}</span>' in body
    assert "Old accounts removed: confirmed by 4 of 4 platforms" in body
    assert "How you were told: written notice." in body
    assert "CRM-2026-0042" in body and "Beijing Xidan" in body
    assert "http://testserver/" in body and "Unbind all" in body
    assert "portal/staff.css" in body
    # The receipt shows what was disclosed then, whatever the hook says later.
    monkeypatch.setattr(hooks, "renewal_status", lambda n: {"state": "not_started"})
    again = client.get(response.redirect_chain[-1][0]).content.decode()
    assert "confirmed by 4 of 4 platforms" in again


def test_the_receipt_of_a_new_number(clerk, outlet):
    number = PhoneNumberFactory(range_holder=outlet.operator)
    body = signed_in(clerk).post(_offer(number), {"action": "allocate", "customer_ref": "C-5"},
                                 follow=True).content.decode()
    assert "This is a new number" in body and "never used before" in body
    assert "This is a secondary number" not in body


def test_the_receipt_survives_the_holders_cancellation_without_the_customer_ref(clerk, outlet):
    from numbers.services import number_cancel

    number = PhoneNumberFactory(range_holder=outlet.operator)
    client = signed_in(clerk)
    receipt = client.post(_offer(number), {"action": "allocate", "customer_ref": "C-6"})["Location"]
    number_cancel(number=number, operator=outlet.operator, at=timezone.now(), actor="test")
    body = client.get(receipt).content.decode()
    assert number.national in body and "C-6" not in body


def test_the_print_stylesheet_keeps_the_receipt_on_one_page():
    from pathlib import Path

    css = (Path(__file__).resolve().parents[3] / "static/portal/staff.css").read_text()
    printed = css[css.index("@media print"):]
    assert "@page" in printed and "break-inside: avoid" in printed and ".staff-nav" in printed


def test_a_refusal_by_the_service_itself_is_shown_and_nothing_is_saved(clerk, outlet, monkeypatch):
    """Belt and braces: if the form let a disclosure through that the service refuses, the page says why."""
    from numbers.errors import DisclosureRequired
    from numbers.sales import views

    def refuse(**kwargs):
        raise DisclosureRequired("This is a secondary number: tell the customer, record how, and confirm.")

    monkeypatch.setattr(views, "number_allocate", refuse)
    number = secondary_number(outlet=outlet, staff=clerk)
    before = _snapshot(number)
    response = signed_in(clerk).post(_offer(number), DISCLOSED)
    assert response.status_code == 400 and "tell the customer, record how" in response.content.decode()
    assert _snapshot(number) == before
