"""Who may use the sales staff's pages: sign-in, limits on failed sign-ins, roles, outlets, CSRF."""

import pytest
from django.contrib.auth import get_user_model
from django.core.cache import cache
from django.test import Client
from django.urls import reverse

from numbers import ratelimit, roles
from numbers.models import StaffProfile
from tests.factories import OutletFactory, PhoneNumberFactory, UserFactory, staff_user
from tests.numbers.sales.helpers_staff import PASSWORD, sales_clerk, secondary_number, signed_in

LOGIN = reverse("staff:login")
BOOK = reverse("staff:book")


@pytest.fixture(autouse=True)
def _clear_cache(db):
    cache.clear()
    yield
    cache.clear()


def _login(client, username, password=PASSWORD, **extra):
    return client.post(LOGIN, {"username": username, "password": password}, **extra)


# --- sign-in --------------------------------------------------------------------------------------


def test_sales_staff_sign_in_and_see_the_book(client, clerk):
    response = _login(client, "clerk")
    assert response.status_code == 302 and response["Location"] == BOOK
    page = client.get(BOOK)
    assert page.status_code == 200
    assert "Beijing Xidan" in page.content.decode()


def test_sign_in_goes_back_to_a_safe_next_only(client, clerk):
    assert _login(client, "clerk", **{"QUERY_STRING": "next=/staff/records/"})["Location"] == "/staff/records/"
    client.logout()
    response = client.post(f"{LOGIN}?next=https://evil.example/", {"username": "clerk", "password": PASSWORD})
    assert response["Location"] == BOOK


def test_wrong_password_is_refused_with_djangos_message(client, clerk):
    response = _login(client, "clerk", "wrong")
    assert response.status_code == 200
    assert "correct username and password" in response.content.decode()
    assert "_auth_user_id" not in client.session


@pytest.mark.parametrize("role", [roles.REGULATOR, roles.OPERATOR_ADMIN, roles.PLATFORM_ADMIN])
def test_other_roles_are_refused_with_a_clear_message(client, operator, role):
    staff_user(role=role, operator=operator if role in roles.OPERATOR_ROLES else None, username="someone")
    response = _login(client, "someone")
    assert response.status_code == 200
    assert "This sign-in is for sales staff at an outlet" in response.content.decode()
    assert "_auth_user_id" not in client.session


def test_sales_staff_without_an_outlet_are_refused(client, operator):
    staff_user(role=roles.SALES_STAFF, operator=operator, username="no-outlet")
    response = _login(client, "no-outlet")
    assert "This sign-in is for sales staff at an outlet" in response.content.decode()
    assert "_auth_user_id" not in client.session


def test_a_profile_whose_outlet_belongs_to_another_operator_is_refused(client, outlet, other_operator):
    user = staff_user(role=roles.SALES_STAFF, username="mixed")
    StaffProfile.objects.create(user=user, operator=other_operator, outlet=outlet)
    assert "This sign-in is for sales staff" in _login(client, "mixed").content.decode()


def test_an_inactive_account_is_refused_and_told_so_only_with_the_right_password(client, clerk):
    clerk.is_active = False
    clerk.save()
    assert "switched off" in _login(client, "clerk").content.decode()
    wrong = _login(client, "clerk", "wrong").content.decode()
    assert "switched off" not in wrong and "correct username and password" in wrong
    assert "_auth_user_id" not in client.session


def test_logout_needs_a_post(clerk):
    client = signed_in(clerk)
    assert client.get(reverse("staff:logout")).status_code == 405
    response = client.post(reverse("staff:logout"))
    assert response.status_code == 302 and response["Location"] == LOGIN
    assert client.get(BOOK)["Location"].startswith(LOGIN)


# --- limits on failed sign-ins --------------------------------------------------------------------


def test_failed_sign_ins_are_limited_per_account(client, clerk, settings):
    settings.STAFF_LOGIN_FAILURES_PER_ACCOUNT = 3
    for _ in range(3):
        assert _login(client, "clerk", "wrong").status_code == 200
    # Even the right password is refused now, with how long to wait.
    response = _login(client, "CLERK")
    assert response.status_code == 429
    body = response.content.decode()
    assert "Too many failed sign-ins" in body and "Wait 15 minutes" in body
    assert "_auth_user_id" not in client.session
    # The limit is per account: another clerk at another address still signs in.
    other = sales_clerk(clerk.staff_profile.outlet, "clerk2")
    assert _login(Client(REMOTE_ADDR="10.0.0.9"), other.username).status_code == 302


def test_failed_sign_ins_are_limited_per_address(clerk, settings):
    settings.STAFF_LOGIN_FAILURES_PER_ADDRESS = 4
    attacker = Client(REMOTE_ADDR="203.0.113.7")
    for i in range(4):
        _login(attacker, f"guess{i}", "wrong")
    response = _login(attacker, "clerk")
    assert response.status_code == 429 and "Too many failed sign-ins" in response.content.decode()
    assert _login(Client(REMOTE_ADDR="198.51.100.1"), "clerk").status_code == 302


def test_forwarded_for_is_ignored_unless_behind_trusted_proxies(clerk, settings):
    settings.STAFF_LOGIN_FAILURES_PER_ADDRESS = 2
    for i in range(2):
        _login(Client(REMOTE_ADDR="10.1.1.1", HTTP_X_FORWARDED_FOR=f"198.51.100.{i}"), f"g{i}", "wrong")
    # Spoofed X-Forwarded-For does not give a fresh address: the connection's address is counted.
    assert _login(Client(REMOTE_ADDR="10.1.1.1", HTTP_X_FORWARDED_FOR="192.0.2.50"), "clerk").status_code == 429
    settings.TRUSTED_PROXY_COUNT = 1
    assert _login(Client(REMOTE_ADDR="10.1.1.1", HTTP_X_FORWARDED_FOR="192.0.2.50"), "clerk").status_code == 302


def test_the_wait_ends_with_the_window(client, clerk, settings, monkeypatch):
    settings.STAFF_LOGIN_FAILURES_PER_ACCOUNT = 2
    settings.STAFF_LOGIN_WINDOW_SECONDS = 120
    clock = [1_800_000_000.0]
    monkeypatch.setattr(ratelimit.time, "time", lambda: clock[0])
    _login(client, "clerk", "wrong")
    clock[0] += 30
    _login(client, "clerk", "wrong")
    response = _login(client, "clerk")
    assert response.status_code == 429 and "Wait 2 minutes" in response.content.decode()
    clock[0] += 60
    assert "Wait 1 minute " in _login(client, "clerk").content.decode()
    clock[0] += 31  # the window opened at the first failure, 121 s ago
    _login(client, "clerk", "wrong")  # a failure after the window opens a new one: 1 of 2
    assert _login(client, "clerk").status_code == 302


def test_a_successful_sign_in_clears_the_accounts_failures(client, clerk, settings):
    settings.STAFF_LOGIN_FAILURES_PER_ACCOUNT = 3
    _login(client, "clerk", "wrong")
    _login(client, "clerk", "wrong")
    assert _login(client, "clerk").status_code == 302
    client.logout()
    _login(client, "clerk", "wrong")
    _login(client, "clerk", "wrong")
    assert _login(client, "clerk").status_code == 302


def test_the_counters_live_in_the_shared_cache_not_in_process_memory(client, clerk, settings):
    from django.core.cache import caches

    assert "locmem" not in settings.CACHES["default"]["BACKEND"].lower()
    _login(client, "clerk", "wrong")
    keys = [f"{ratelimit.LOGIN_PREFIX}:acct:{ratelimit._digest('clerk')}"]
    assert caches["default"].get(keys[0]) == 1


# --- every page is for sales staff of an outlet ----------------------------------------------------


def _page_urls(clerk, outlet):
    number = PhoneNumberFactory(range_holder=outlet.operator)
    period_number = PhoneNumberFactory(range_holder=outlet.operator)
    client = signed_in(clerk)
    response = client.post(reverse("staff:offer", args=[period_number.pk]),
                           {"action": "allocate", "customer_ref": "C-1"})
    receipt = response["Location"]
    return [BOOK, reverse("staff:records"), reverse("staff:offer", args=[number.pk]), receipt]


def test_anonymous_visitors_are_sent_to_the_staff_sign_in(client, clerk, outlet):
    for url in _page_urls(clerk, outlet):
        response = client.get(url)
        assert response.status_code == 302 and response["Location"].startswith(f"{LOGIN}?next=")


@pytest.mark.parametrize("role", [roles.REGULATOR, roles.OPERATOR_ADMIN, roles.PLATFORM_ADMIN, None])
def test_other_signed_in_users_get_403_with_a_message(clerk, outlet, role):
    urls = _page_urls(clerk, outlet)
    if role is None:
        user = UserFactory(username="superuser", is_superuser=True, is_staff=True)
    else:
        operator = outlet.operator if role in roles.OPERATOR_ROLES else None
        user = staff_user(role=role, operator=operator, username="other")
    client = signed_in(user)
    for url in urls:
        response = client.get(url)
        assert response.status_code == 403, url
        assert "These pages are for sales staff" in response.content.decode()


def test_a_clerk_switched_off_mid_session_is_out(clerk, outlet):
    client = signed_in(clerk)
    assert client.get(BOOK).status_code == 200
    get_user_model().objects.filter(pk=clerk.pk).update(is_active=False)
    assert client.get(BOOK)["Location"].startswith(LOGIN)


def test_a_clerk_removed_from_the_group_mid_session_is_refused(clerk):
    client = signed_in(clerk)
    clerk.groups.clear()
    assert client.get(BOOK).status_code == 403


# --- outlet scoping of object URLs ----------------------------------------------------------------


def test_another_operators_number_is_404_to_get_and_post(clerk, other_operator):
    theirs = PhoneNumberFactory(range_holder=other_operator)
    client = signed_in(clerk)
    url = reverse("staff:offer", args=[theirs.pk])
    assert client.get(url).status_code == 404
    assert client.post(url, {"action": "allocate", "customer_ref": "C-9"}).status_code == 404
    assert client.post(url, {"action": "decline"}).status_code == 404
    theirs.refresh_from_db()
    assert theirs.state == "available" and not theirs.declined_offers.exists()


def test_another_outlets_receipt_is_404_even_at_the_same_operator(clerk, outlet):
    neighbour = OutletFactory(operator=outlet.operator, code="BJ-002", name="Beijing Wangfujing")
    their_clerk = sales_clerk(neighbour, "neighbour")
    number = PhoneNumberFactory(range_holder=outlet.operator)
    response = signed_in(their_clerk).post(reverse("staff:offer", args=[number.pk]),
                                           {"action": "allocate", "customer_ref": "C-2"})
    receipt = response["Location"]
    assert signed_in(their_clerk).get(receipt).status_code == 200
    assert signed_in(clerk).get(receipt).status_code == 404
    assert "receipts" in receipt


def test_records_show_only_this_outlets_allocations_and_declines(clerk, outlet):
    neighbour = OutletFactory(operator=outlet.operator, code="BJ-002")
    their_clerk = sales_clerk(neighbour, "neighbour")
    mine, theirs, declined_there = (PhoneNumberFactory(range_holder=outlet.operator) for _ in range(3))
    signed_in(clerk).post(reverse("staff:offer", args=[mine.pk]), {"action": "allocate", "customer_ref": "C-1"})
    other = signed_in(their_clerk)
    other.post(reverse("staff:offer", args=[theirs.pk]), {"action": "allocate", "customer_ref": "C-2"})
    other.post(reverse("staff:offer", args=[declined_there.pk]), {"action": "decline"})
    body = signed_in(clerk).get(reverse("staff:records")).content.decode()
    assert mine.national in body
    assert theirs.national not in body and declined_there.national not in body


def test_the_book_lists_only_the_outlets_operators_numbers(clerk, outlet, other_operator):
    mine = PhoneNumberFactory(range_holder=outlet.operator)
    theirs = PhoneNumberFactory(range_holder=other_operator)
    body = signed_in(clerk).get(BOOK).content.decode()
    assert mine.national in body and theirs.national not in body


# --- CSRF ---------------------------------------------------------------------------------------


def _csrf(client, url):
    client.get(url)
    return client.cookies["csrftoken"].value


def test_sign_in_needs_the_csrf_token(clerk):
    client = Client(enforce_csrf_checks=True)
    assert _login(client, "clerk").status_code == 403
    token = _csrf(client, LOGIN)
    response = client.post(LOGIN, {"username": "clerk", "password": PASSWORD, "csrfmiddlewaretoken": token})
    assert response.status_code == 302


def test_allocate_decline_and_logout_need_the_csrf_token(clerk, outlet):
    client = Client(enforce_csrf_checks=True)
    client.force_login(clerk)
    number = secondary_number(outlet=outlet, staff=clerk)
    url = reverse("staff:offer", args=[number.pk])
    data = {"action": "allocate", "customer_ref": "C-7", "method": "spoken", "confirmed": "on"}
    assert client.post(url, data).status_code == 403
    assert client.post(url, {"action": "decline"}).status_code == 403
    assert client.post(reverse("staff:logout")).status_code == 403
    number.refresh_from_db()
    assert number.state == "available" and not number.declined_offers.exists()
    token = _csrf(client, url)
    assert client.post(url, {**data, "csrfmiddlewaretoken": token}).status_code == 302
    number.refresh_from_db()
    assert number.state == "active"


def test_the_pages_carry_the_csrf_token_in_every_form(clerk, outlet):
    number = PhoneNumberFactory(range_holder=outlet.operator)
    client = signed_in(clerk)
    body = client.get(reverse("staff:offer", args=[number.pk])).content.decode()
    assert body.count('method="post"') == 4  # language, sign out, allocate, decline
    assert body.count('name="csrfmiddlewaretoken"') == 4
