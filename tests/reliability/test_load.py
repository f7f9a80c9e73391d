"""The subscriber portal under load while a batch push runs (locust headless on loopback, gunicorn with the
production configuration, PostgreSQL, a real worker, 20 simulated platforms answering through the API).

50 subscribers with verified sessions (made here, so the sign-in limits are not what is measured) each start an
unbind request and poll its progress for 20 s, with a 10 s client timeout, while 10,000 numbers are pushed to
the 20 platforms: no 5xx, no timeout, and every unbind request final within the no-answer deadline.
"""

import time

import pytest
from django.db import connection

from renewal.active.tasks import unbind_deadline_sweep_task
from renewal.deliveries import services
from renewal.models import Delivery, DeliveryState, Platform, UnbindRequest, UnbindResult, UnbindTask
from tests.reliability.helpers import start_gunicorn, stop, wait_until_serving
from tests.reliability.load import Beat, run_locust, verified_sessions
from tests.renewal.helpers_renewal import make_frozen_numbers, make_key, make_platform
from tests.renewal.helpers_subscriber import allocated

SUBSCRIBERS, SECONDS, PLATFORMS, NUMBERS = 50, 20, 20, 10_000
DEADLINE_SECONDS = 60  # the no-answer deadline of this run (UNBIND_ANSWER_DEADLINE_SECONDS)


@pytest.mark.services
@pytest.mark.django_db(transaction=True)
def test_subscribers_under_load_during_a_batch_push(roles_back, operator, outlet, clerk, start_worker, simulator,
                                                    tmp_path, settings):
    # given 20 live platforms behind the simulator, answering through the API of gunicorn (production settings)
    db = connection.settings_dict
    database_url = f"postgres://{db['USER']}@{db['HOST'] or '127.0.0.1'}:{db['PORT'] or 5432}/{db['NAME']}"
    deadline_env = {"UNBIND_ANSWER_DEADLINE_SECONDS": str(DEADLINE_SECONDS), "UNBIND_COALESCE_SECONDS": "1"}
    server, base = start_gunicorn(database_url=database_url, log_path=tmp_path / "gunicorn.log",
                                  WEB_CONCURRENCY="2", GUNICORN_THREADS="8", SECURE_SSL_REDIRECT="false",
                                  **deadline_env)
    beat = Beat()
    try:
        platforms = [make_platform(f"Load {i}") for i in range(PLATFORMS)]
        for p in platforms:
            p.raw_key = make_key(p)
        Platform.objects.update(max_in_flight=4)
        sim = simulator(platforms, api_url=base, confirm_after_ms=300, latency_ms=50)
        start_worker(concurrency=2, **deadline_env)
        # and 50 subscribers signed in, and 10,000 numbers due for renewal
        sessions = verified_sessions([allocated(operator, outlet, clerk)[1] for _ in range(SUBSCRIBERS)])
        make_frozen_numbers(operator, NUMBERS)
        assert wait_until_serving(f"{base}/api/v1/health/live", tmp_path / "gunicorn.log").status_code == 200
        # when the push starts and the subscribers start their requests and poll them for 20 s
        beat.start()
        [batch_id] = services.batch_sweep()
        pushed = Delivery.objects.filter(chunk__batch_id=batch_id).count()
        stats = run_locust(host=base, sessions=sessions, users=SUBSCRIBERS, seconds=SECONDS, out=tmp_path)
        sent_during_load = Delivery.objects.filter(chunk__batch_id=batch_id).exclude(
            state=DeliveryState.PENDING).count()
        # then no request failed (no 5xx, no timeout, no unexpected answer)
        assert stats["failures"] == 0 and stats["exit"] == 0, (stats["failures_csv"], stats["output"])
        assert stats["requests"] > SUBSCRIBERS * 2  # each started its request and polled it
        # and every unbind request is final within the no-answer deadline
        requests_made = UnbindRequest.objects.count()
        assert requests_made == SUBSCRIBERS
        deadline = time.monotonic() + DEADLINE_SECONDS
        while time.monotonic() < deadline and UnbindRequest.objects.filter(finished_at__isnull=True).exists():
            time.sleep(1)
        unbind_deadline_sweep_task.delay()
        late = [(r.reference, r.created_at, r.finished_at) for r in UnbindRequest.objects.all()
                if r.finished_at is None or (r.finished_at - r.created_at).total_seconds() > DEADLINE_SECONDS]
        assert not late, late
        answered = UnbindTask.objects.exclude(result__in=[UnbindResult.PENDING, UnbindResult.NO_ANSWER]).count()
        print(f"\nload: {SUBSCRIBERS} subscribers x {SECONDS} s: {stats['requests']} requests, "
              f"{stats['rps']:.0f}/s, p50 {stats['p50_ms']:.0f} ms, p99 {stats['p99_ms']:.0f} ms, 0 failures; "
              f"{requests_made} unbind requests final ({answered} platform answers); push: {sent_during_load} of "
              f"{pushed} deliveries sent during the load; simulator received {sim.stats.received}")
    finally:
        beat.stopping.set()
        stop(server)
