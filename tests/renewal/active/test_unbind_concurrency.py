"""Unbind requests and the platforms' answers under real concurrency (PostgreSQL, a connection per thread)."""

import pytest

from renewal.active import services as unbind
from renewal.deliveries import unbind as coalescer
from renewal.models import UnbindRequest
from tests.helpers_threads import returning, run_together
from tests.renewal.helpers_renewal import make_platform

pytestmark = pytest.mark.services


def test_concurrent_last_answers_finish_the_request_exactly(require_postgres, roles_back, holder):
    _, period = holder
    platforms = [make_platform(f"P{i}") for i in range(6)]
    for _ in range(3):
        request = unbind.unbind_request_create(period=period)
        coalescer.unbind_coalesce()
        tasks = list(request.tasks.select_related("platform"))
        run_together(*(
            (lambda t=t: unbind.unbind_task_report(platform=t.platform, task_id=t.pk, status="nothing_bound"))
            for t in tasks))
        request.refresh_from_db()
        assert request.finished_at is not None
    assert len(platforms) == 6


def test_two_clicks_at_once_make_one_request(require_postgres, roles_back, holder):
    _, period = holder
    make_platform("P")
    click = returning(lambda: unbind.unbind_request_create(period=period), unbind.UnbindError)
    results = run_together(click, click, click, click)
    assert sum(isinstance(r, UnbindRequest) for r in results) == 1
    assert all(getattr(r, "code", None) == "already_running" for r in results if not isinstance(r, UnbindRequest))
    assert UnbindRequest.objects.count() == 1
