"""Admin lists: search by number (national or E.164), filters, date hierarchy, a number's events inline."""

import pytest
from django.contrib import admin
from django.db import connection
from django.test.utils import CaptureQueriesContext
from django.urls import reverse
from django.utils import timezone

from numbers.models import EventKind, PhoneNumber
from tests.factories import OperatorFactory
from tests.numbers.helpers_oversight import operator_world

NUMBER_LISTS = sorted(
    [(m, a) for m, a in admin.site._registry.items()
     if m._meta.app_label == "numbers" and hasattr(a, "number_field")],
    key=lambda item: item[0]._meta.label_lower,
)


def _changelist(model) -> str:
    return reverse(f"admin:{model._meta.app_label}_{model._meta.model_name}_changelist")


def _shown(response) -> list:
    assert response.status_code == 200
    return list(response.context["cl"].queryset)


def _msisdn_of(obj) -> str:
    return obj.msisdn if isinstance(obj, PhoneNumber) else obj.number.msisdn


@pytest.mark.parametrize("model,model_admin", NUMBER_LISTS, ids=[m._meta.label_lower for m, _a in NUMBER_LISTS])
def test_every_number_list_searches_national_and_e164_input(client, regulator, world, model, model_admin):
    msisdn = _msisdn_of(model._default_manager.order_by("pk").first())
    national = msisdn.removeprefix("+86")
    spaced = f"{national[:3]} {national[3:7]} {national[7:]}"
    client.force_login(regulator)
    expected = {o.pk for o in model._default_manager.all() if _msisdn_of(o) == msisdn}
    for term in (msisdn, national, spaced, "0086" + national, "+86 " + spaced):
        shown = _shown(client.get(_changelist(model), {"q": term}))
        assert {o.pk for o in shown} == expected, (model._meta.label_lower, term)


def test_some_digits_find_the_numbers_that_contain_them(client, regulator, world):
    client.force_login(regulator)
    digits = world["CUCC"].fresh.msisdn[-6:]
    shown = _shown(client.get(_changelist(PhoneNumber), {"q": digits}))
    assert world["CUCC"].fresh in shown and all(digits in n.msisdn for n in shown)


def test_text_that_is_no_number_finds_nothing_without_an_error(client, regulator, world):
    client.force_login(regulator)
    assert _shown(client.get(_changelist(PhoneNumber), {"q": "not a number"})) == []


def test_filters_by_operator_state_secondary_and_dates(client, regulator, world):
    client.force_login(regulator)
    cucc = world["CUCC"].operator
    shown = _shown(client.get(_changelist(PhoneNumber), {"range_holder__id__exact": cucc.pk,
                                                         "state__exact": "frozen"}))
    assert shown == [world["CUCC"].frozen]
    shown = _shown(client.get(_changelist(PhoneNumber), {"is_secondary__exact": "1",
                                                         "serving_operator__id__exact": cucc.pk}))
    assert set(shown) == {world["CUCC"].secondary_active, world["CUCC"].declined.number}
    # DateFieldListFilter: "has a date" / "no date"
    shown = _shown(client.get(_changelist(PhoneNumber), {"cancelled_at__isnull": "False"}))
    assert set(shown) == {w.frozen for w in world.values()} | {w.suspended for w in world.values()}


def test_date_hierarchy_on_cancellations(client, regulator, world):
    client.force_login(regulator)
    at = world["CMCC"].frozen.cancelled_at
    local = timezone.localtime(at)
    response = client.get(_changelist(PhoneNumber), {"cancelled_at__year": local.year,
                                                     "cancelled_at__month": local.month,
                                                     "cancelled_at__day": local.day})
    assert world["CMCC"].frozen in _shown(response)
    assert world["CMCC"].suspended not in _shown(response)


def test_a_numbers_page_shows_its_events_and_marks(client, regulator, world):
    number = world["CMCC"].suspended
    client.force_login(regulator)
    page = client.get(reverse("admin:numbers_phonenumber_change", args=[number.pk]))
    html = page.content.decode()
    for kind in (EventKind.ALLOCATE, EventKind.CANCEL, EventKind.MARK_PLACED):
        assert str(kind.label) in html
    assert "cm-R1" in html  # the mark's reference, in the marks inline
    assert 'name="events-0-kind"' not in html  # inline fields are read-only text, not inputs


def _queries(client, url: str) -> int:
    with CaptureQueriesContext(connection) as ctx:
        assert client.get(url).status_code == 200
    return len(ctx.captured_queries)


def test_lists_do_not_run_a_query_per_row(client, regulator, world):
    """Each numbers list costs as many queries with twice the rows: nothing is fetched per row."""
    client.force_login(regulator)
    lists = [m for m in admin.site._registry if m._meta.app_label == "numbers"]
    before = {m: _queries(client, _changelist(m)) for m in lists}
    operator_world(OperatorFactory(code="CTCC"), tag="ct")
    operator_world(OperatorFactory(code="XXXX"), tag="xx")
    after = {m: _queries(client, _changelist(m)) for m in lists}
    assert {m._meta.label_lower: after[m] for m in lists} == {m._meta.label_lower: before[m] for m in lists}
