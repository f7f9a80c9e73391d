"""Row locks under real concurrency: PostgreSQL only (SQLite has no row locks)."""

import threading

import pytest
from django.db import connection

from numbers.errors import NumberTaken
from numbers.models import HolderPeriod, State
from numbers.services import number_allocate
from tests.factories import staff_user

pytestmark = [pytest.mark.services, pytest.mark.django_db(transaction=True)]


def test_two_clerks_allocating_one_number_exactly_one_wins(require_postgres, new_number, outlet, clerk):
    from numbers import roles

    other_clerk = staff_user(role=roles.SALES_STAFF, outlet=outlet, username="clerk2")
    barrier = threading.Barrier(2)
    outcomes = []

    def attempt(staff, ref):
        try:
            barrier.wait(timeout=10)
            number_allocate(number=new_number, outlet=outlet, staff=staff, customer_ref=ref, disclosure=None)
            outcomes.append("won")
        except NumberTaken:
            outcomes.append("taken")
        finally:
            connection.close()  # each thread has its own real connection

    threads = [threading.Thread(target=attempt, args=(s, r)) for s, r in ((clerk, "A-1"), (other_clerk, "B-2"))]
    for t in threads:
        t.start()
    for t in threads:
        t.join(timeout=30)

    assert sorted(outcomes) == ["taken", "won"]
    new_number.refresh_from_db()
    assert new_number.state == State.ACTIVE
    assert HolderPeriod.objects.filter(number=new_number).count() == 1
    assert new_number.events.filter(kind="allocate").count() == 1
