"""End to end with real processes: a Celery worker on Redis, the simulator's HTTP receivers, the API over HTTP."""

import os
import subprocess
import sys
import time
from pathlib import Path

import pytest
from django.conf import settings as django_settings
from django.db import connection
from django.test.testcases import LiveServerThread, _StaticFilesHandler

from portal.celery import app as celery_app
from renewal import services
from renewal.models import Delivery, DeliveryState
from renewal.tasks import deliveries_due_task
from tests.conftest import IN_CI
from tests.renewal.factories_renewal import free_port, make_frozen_numbers, make_key, make_platform

BASE_DIR = Path(__file__).resolve().parents[2]


@pytest.fixture
def broker_url():
    url = os.environ.get("CELERY_BROKER_URL", "")
    if not url.startswith("redis://"):
        message = "needs Redis: set CELERY_BROKER_URL=redis://127.0.0.1:6379/4"
        if IN_CI:
            pytest.fail(message)
        pytest.skip(message)
    return url


@pytest.fixture
def not_eager():
    """Tasks go through the broker to the worker process, not inline."""
    before = celery_app.conf.task_always_eager
    celery_app.conf.task_always_eager = False
    yield
    celery_app.conf.task_always_eager = before


@pytest.fixture
def api_server(transactional_db):
    """The portal over real HTTP on 127.0.0.1, in this worktree's port range."""
    thread = LiveServerThread("127.0.0.1", _StaticFilesHandler, connections_override=None, port=free_port())
    thread.daemon = True
    thread.start()
    thread.is_ready.wait()
    if thread.error:
        raise thread.error
    yield f"http://127.0.0.1:{thread.port}"
    thread.terminate()


@pytest.fixture
def worker(broker_url, require_postgres):
    db = django_settings.DATABASES["default"]
    env = {**os.environ, "DEBUG": "true", "CELERY_BROKER_URL": broker_url,
           "DATABASE_URL": f"postgres://{db['USER']}@{db['HOST'] or '127.0.0.1'}:{db['PORT'] or 5432}/{db['NAME']}",
           "RENEWAL_RETRY_BASE_SECONDS": "0.5", "RENEWAL_RETRY_MAX_SECONDS": "1", "RENEWAL_DUE_LEASE_SECONDS": "5"}
    env.pop("DJANGO_SETTINGS_MODULE", None)
    celery = [sys.executable, "-m", "celery", "-A", "portal"]
    subprocess.run([*celery, "purge", "-f"], env=env, cwd=BASE_DIR, check=True, capture_output=True)
    proc = subprocess.Popen([*celery, "worker", "--concurrency=2", "--loglevel=WARNING", "--without-mingle",
                             "--without-gossip", "--without-heartbeat"], env=env, cwd=BASE_DIR,
                            stdout=subprocess.DEVNULL, stderr=subprocess.PIPE)
    yield proc
    proc.terminate()
    try:
        proc.wait(15)
    except subprocess.TimeoutExpired:
        proc.kill()


@pytest.mark.services
@pytest.mark.django_db(transaction=True)
def test_real_worker_pushes_a_batch_and_every_delivery_is_confirmed_exactly_once(
        operator, api_server, worker, not_eager, simulator):
    # given five live platforms behind real receivers, one failing its first two requests
    platforms = [make_platform(name=f"E2E platform {i}") for i in range(5)]
    for p in platforms:
        p.raw_key = make_key(p)
    platforms[0].fail_first = 2
    sim = simulator(platforms, api_url=api_server, confirm_after_ms=50)
    make_frozen_numbers(operator, 2500)
    # when the sweep commits a batch (3 chunks x 5 platforms); the dispatch goes to the worker through Redis
    [batch_id] = services.batch_sweep()
    expected = Delivery.objects.filter(chunk__batch_id=batch_id).count()
    assert expected == 15
    deadline = time.monotonic() + 90
    while time.monotonic() < deadline:
        if Delivery.objects.filter(state=DeliveryState.CONFIRMED).count() == expected:
            break
        deliveries_due_task.delay()  # what beat does: retries of the failing platform come due
        time.sleep(1)
    # then every delivery was received once, confirmed once, and is confirmed in the database
    states = dict(Delivery.objects.values_list("id", "state"))
    assert set(states.values()) == {DeliveryState.CONFIRMED}, (states, worker.poll())
    assert sim.stats.received == expected and sim.stats.confirmed == expected
    assert sim.stats.confirm_errors == 0 and sim.stats.bad_signature == 0
    assert sim.stats.failed == 2  # the failing platform's first two answers
    for p in platforms:
        mine = {str(i) for i in Delivery.objects.filter(platform=p).values_list("id", flat=True)}
        assert sim.platforms[p.pk].seen == mine
    retried = Delivery.objects.filter(platform=platforms[0]).order_by("-attempts").first()
    assert retried.attempts >= 2
    assert connection.vendor == "postgresql"
