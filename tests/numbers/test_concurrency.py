"""Row locks under real concurrency: PostgreSQL only (SQLite has no row locks)."""

import pytest

from numbers.errors import NumberTaken
from numbers.models import HolderPeriod, State
from numbers.services import number_allocate
from tests.factories import staff_user
from tests.helpers_threads import run_together

pytestmark = [pytest.mark.services, pytest.mark.django_db(transaction=True)]


def test_two_clerks_allocating_one_number_exactly_one_wins(require_postgres, new_number, outlet, clerk):
    from numbers import roles

    other_clerk = staff_user(role=roles.SALES_STAFF, outlet=outlet, username="clerk2")

    def attempt(staff, ref):
        try:
            number_allocate(number=new_number, outlet=outlet, staff=staff, customer_ref=ref, disclosure=None)
            return "won"
        except NumberTaken:
            return "taken"

    outcomes = run_together(lambda: attempt(clerk, "A-1"), lambda: attempt(other_clerk, "B-2"))

    assert sorted(outcomes) == ["taken", "won"]
    new_number.refresh_from_db()
    assert new_number.state == State.ACTIVE
    assert HolderPeriod.objects.filter(number=new_number).count() == 1
    assert new_number.events.filter(kind="allocate").count() == 1
