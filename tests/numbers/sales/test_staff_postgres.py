"""The sales pages on PostgreSQL: two clerks racing for one number, and the number book's indexes."""

import threading
from functools import partial

import pytest
from django.db import connection
from django.test import Client
from django.urls import reverse

from numbers.models import HolderPeriod, PhoneNumber
from numbers.sales import selectors, views
from tests.helpers_threads import run_together
from tests.numbers.sales.helpers_staff import sales_clerk, secondary_number

# Transactional tests flush the tables, the roles (groups) included; tests.factories.role_group remakes them.
pytestmark = pytest.mark.services
transactional = pytest.mark.django_db(transaction=True)

DISCLOSED = {"action": "allocate", "method": "spoken", "confirmed": "on"}


@transactional
def test_two_clerks_race_for_one_number_one_wins_the_other_is_told(require_postgres, clerk, outlet, monkeypatch):
    number = secondary_number(outlet=outlet, staff=clerk)
    rival = sales_clerk(outlet, "rival")
    clients = {}
    for user in (clerk, rival):
        clients[user.username] = Client()
        clients[user.username].force_login(user)
    # Both requests pass the page's own availability check before either reaches the service's row lock.
    both_checked = threading.Barrier(2, timeout=10)
    real = views.number_allocate

    def after_both_checked(**kwargs):
        both_checked.wait()
        return real(**kwargs)

    monkeypatch.setattr(views, "number_allocate", after_both_checked)

    def attempt(name):
        response = clients[name].post(reverse("staff:offer", args=[number.pk]),
                                      {**DISCLOSED, "customer_ref": f"REF-{name}"}, follow=True)
        return name, (response.redirect_chain[-1][0], response.content.decode())

    results = dict(run_together(*(partial(attempt, name) for name in clients)))
    won = [n for n, (url, _) in results.items() if url.startswith("/staff/receipts/")]
    lost = [n for n, (url, body) in results.items() if url == reverse("staff:book")
            and "This number was just taken" in body]
    assert len(won) == 1 and len(lost) == 1, results.keys()
    period = HolderPeriod.objects.get(number=number, ended_at__isnull=True)
    assert period.customer_ref == f"REF-{won[0]}"
    assert HolderPeriod.objects.filter(number=number, ended_at__isnull=True).count() == 1
    assert PhoneNumber.objects.get(pk=number.pk).state == "active"


@transactional
def test_the_book_indexes_exist_and_answer_its_queries(require_postgres, outlet):
    from numbers.management.commands.bench_number_book import LOAD_SQL

    with connection.cursor() as cursor:
        cursor.execute("SELECT indexname FROM pg_indexes WHERE tablename = 'numbers_phonenumber'")
        assert {"number_avail_msisdn", "number_avail_suffix", "number_avail_trgm"} <= {r[0] for r in cursor.fetchall()}
        # A book big enough for the planner to prefer the indexes to a scan, as it does on a million rows.
        cursor.execute(LOAD_SQL, {"digit": "3", "op": outlet.operator.pk, "n": 40_000})
        cursor.execute("VACUUM ANALYZE numbers_phonenumber")
    book = selectors.available_numbers(outlet.operator)

    def plan(query):
        queryset = selectors.number_book_search(book, query)
        if query.after:
            queryset = queryset.filter(msisdn__gt=query.after)
        return queryset.order_by("msisdn")[:51].explain()

    ends = plan(selectors.BookQuery(digits="8888", match=selectors.MATCH_ENDS))
    contains = plan(selectors.BookQuery(digits="52013"))
    paged = plan(selectors.BookQuery(after="+8613500000000"))
    assert "number_avail_suffix" in ends and "Seq Scan" not in ends, ends
    assert "number_avail_trgm" in contains and "Seq Scan" not in contains, contains
    assert "number_avail_msisdn" in paged and "Seq Scan" not in paged, paged
    # And the page the clerk sees is the right one.
    page = selectors.number_book_page(outlet.operator, selectors.BookQuery(digits="888", match=selectors.MATCH_ENDS))
    assert page.numbers and all(n.msisdn.endswith("888") and n.state == "available" for n in page.numbers)
    assert [n.msisdn for n in page.numbers] == sorted(n.msisdn for n in page.numbers)


@transactional
def test_sign_in_limits_count_in_redis_when_it_is_the_cache(require_postgres, clerk, settings):
    """With Redis as the shared cache, the counters are atomic and expire with the window."""
    import os

    import redis
    from django.core.cache import caches

    from numbers import ratelimit as ratelimit_login

    url = os.environ.get("CELERY_BROKER_URL", "redis://127.0.0.1:6379/6")
    if not url.startswith("redis://"):
        url = "redis://127.0.0.1:6379/6"
    settings.CACHES = {"default": {"BACKEND": "django.core.cache.backends.redis.RedisCache", "LOCATION": url,
                                   "KEY_PREFIX": "test-staff-login"}}
    settings.STAFF_LOGIN_FAILURES_PER_ACCOUNT = 3
    caches["default"].clear()
    try:
        client = Client()
        for _ in range(3):
            client.post(reverse("staff:login"), {"username": "clerk", "password": "wrong"})
        response = client.post(reverse("staff:login"), {"username": "clerk", "password": "pw-for-tests-only"})
        assert response.status_code == 429
        key = caches["default"].make_and_validate_key(
            f"{ratelimit_login.LOGIN_PREFIX}:acct:{ratelimit_login._digest('clerk')}")
        ttl = redis.Redis.from_url(url).ttl(key)
        assert caches["default"].get(f"{ratelimit_login.LOGIN_PREFIX}:acct:{ratelimit_login._digest('clerk')}") == 3
        assert 0 < ttl <= settings.STAFF_LOGIN_WINDOW_SECONDS
    finally:
        caches["default"].clear()


@pytest.mark.bench
@transactional
def test_the_number_book_benchmark_runs(require_postgres, settings):
    """A smoke run of `manage.py bench_number_book` on a small table (the real run is in docs/sales.md)."""
    import io

    from django.core.management import call_command

    settings.DEBUG = True
    out = io.StringIO()
    call_command("bench_number_book", rows=6000, repeat=2, explain=True, stdout=out)
    report = out.getvalue()
    assert "ends with 8888" in report and "baseline ms" in report and "number_avail_suffix" in report
    with connection.cursor() as cursor:  # the baseline's DROP INDEX was rolled back
        cursor.execute("SELECT count(*) FROM pg_indexes WHERE indexname LIKE 'number_avail_%%'")
        assert cursor.fetchone()[0] == 3
