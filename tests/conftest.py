"""Shared fixtures. Tests that need PostgreSQL or a real broker carry the `services` marker."""

import contextlib
import os
import signal
import subprocess
import sys
import time
from datetime import timedelta
from pathlib import Path

import hypothesis
import pytest
from django.utils import timezone

from numbers import roles
from numbers.services import DisclosureInput, number_allocate, number_cancel
from tests.factories import OperatorFactory, OutletFactory, PhoneNumberFactory, staff_user

IN_CI = os.environ.get("CI", "").lower() == "true"
ROOT = Path(__file__).resolve().parent.parent

# Property-based tests: a fixed, derandomised profile in CI; HYPOTHESIS_PROFILE=thorough for a long run.
_quiet = [hypothesis.HealthCheck.function_scoped_fixture, hypothesis.HealthCheck.too_slow]
hypothesis.settings.register_profile("ci", max_examples=40, derandomize=True, deadline=None,
                                     suppress_health_check=_quiet)
hypothesis.settings.register_profile("dev", max_examples=25, deadline=None, suppress_health_check=_quiet)
hypothesis.settings.register_profile("thorough", max_examples=500, deadline=None, suppress_health_check=_quiet)
hypothesis.settings.load_profile("ci" if IN_CI else os.environ.get("HYPOTHESIS_PROFILE", "dev"))


@pytest.fixture
def require_postgres():
    from django.db import connection

    if connection.vendor != "postgresql":
        message = "needs PostgreSQL (set DATABASE_URL); the SQLite pass deselects -m services"
        if IN_CI:
            pytest.fail(message)
        pytest.skip(message)


@pytest.fixture
def operator(db):
    return OperatorFactory(code="CMCC", name="China Mobile")


@pytest.fixture
def other_operator(db):
    return OperatorFactory(code="CUCC", name="China Unicom")


@pytest.fixture
def outlet(operator):
    return OutletFactory(operator=operator, code="BJ-001", name="Beijing Xidan")


@pytest.fixture
def clerk(outlet):
    return staff_user(role=roles.SALES_STAFF, outlet=outlet, username="clerk")


@pytest.fixture
def regulator(db):
    return staff_user(role=roles.REGULATOR, username="regulator")


@pytest.fixture
def new_number(operator):
    return PhoneNumberFactory(range_holder=operator)


@pytest.fixture
def active_number(new_number, outlet, clerk):
    """A number held since 400 days ago."""
    number_allocate(number=new_number, outlet=outlet, staff=clerk, customer_ref="C-0001", disclosure=None,
                    now=timezone.now() - timedelta(days=400))
    new_number.refresh_from_db()
    return new_number


@pytest.fixture
def frozen_number(active_number, operator):
    """A number cancelled 10 days ago: frozen for 80 more days."""
    number_cancel(number=active_number, operator=operator, at=timezone.now() - timedelta(days=10), actor="test")
    active_number.refresh_from_db()
    return active_number


@pytest.fixture
def disclosure():
    return DisclosureInput(method="spoken", customer_confirmed=True)


def _unavailable(problem: str | None) -> None:
    if problem:
        if IN_CI:
            pytest.fail(problem)
        pytest.skip(problem)


def _redis_problem(url: str) -> str | None:
    import redis

    try:
        redis.Redis.from_url(url, socket_connect_timeout=2).ping()
    except redis.RedisError as exc:
        return f"Redis at {url} is unreachable: {exc}"
    return None


def _amqp_problem(url: str) -> str | None:
    from kombu import Connection

    try:
        with Connection(url, connect_timeout=2) as conn:
            conn.ensure_connection(max_retries=1)
    except Exception as exc:  # kombu raises the transport's own errors
        return f"RabbitMQ at {url} is unreachable: {exc}"
    return None


@pytest.fixture
def require_redis():
    """The broker URL of a real Redis; fails in CI (skips elsewhere) when there is none."""
    from django.conf import settings

    url = settings.CELERY_BROKER_URL
    _unavailable(_redis_problem(url) if url.startswith("redis://") else "needs Redis (set CELERY_BROKER_URL=redis://…)")
    return url


@pytest.fixture
def require_broker():
    """The URL of a real broker, Redis or RabbitMQ; fails in CI (skips elsewhere) when there is none.

    The real-worker tests take whichever CELERY_BROKER_URL names: CI runs them on Redis and again on RabbitMQ.
    """
    from django.conf import settings

    url = settings.CELERY_BROKER_URL
    if url.startswith("redis://"):
        problem = _redis_problem(url)
    elif url.startswith(("amqp://", "pyamqp://")):
        problem = _amqp_problem(url)
    else:
        problem = "needs a real broker (set CELERY_BROKER_URL=redis://… or amqp://…)"
    _unavailable(problem)
    return url


@pytest.fixture(autouse=True)
def _fresh_chunk_bodies():
    """A rolled-back test's chunk ids come back in the next test: a chunk's body cached per process must not."""
    from renewal.deliveries import bodies

    bodies._chunk_cache.clear()


@pytest.fixture(autouse=True)
def _fresh_cache():
    """Rate-limit counters and other cached state never leak between tests (the database cache rolls back)."""
    from django.conf import settings
    from django.core.cache import cache

    if "DatabaseCache" not in settings.CACHES["default"]["BACKEND"]:
        cache.clear()


# --- admin ----------------------------------------------------------------------------------------


@pytest.fixture(autouse=True)
def _two_factor_relaxed(settings):
    """Admin tests sign accounts in with `force_login`, a password sign-in without a second factor: let accounts
    that have not enrolled in, as the demo does. Tests of the rule itself (tests/portal/test_two_factor.py, the
    permission matrix) switch it off; an enrolled account needs its code either way."""
    settings.ADMIN_2FA_RELAXED = True


@pytest.fixture
def platform_admin(db):
    return staff_user(role=roles.PLATFORM_ADMIN, username="platform-admin")


# --- active renewal --------------------------------------------------------------------------------


@pytest.fixture
def roles_back(transactional_db):
    """Transactional tests flush the groups the data migrations made: make them again (list this fixture first)."""
    from django.apps import apps
    from django.contrib.auth.models import Group

    from numbers.roles import sync_roles

    if Group.objects.exists():
        return
    # sync_roles marks live app configs as model-less; put them back as they were.
    originals = {c.label: c.models_module for c in apps.get_app_configs()}
    try:
        sync_roles(apps)
    finally:
        for config in apps.get_app_configs():
            config.models_module = originals[config.label]


@pytest.fixture
def holder(operator, outlet, clerk):
    """An active number held for 30 days: (number, period)."""
    from tests.renewal.helpers_subscriber import allocated

    return allocated(operator, outlet, clerk)


# --- real workers ----------------------------------------------------------------------------------


def pytest_collection_modifyitems(items):
    """Mark every test that starts a real worker `real_worker`: CI runs those again with RabbitMQ as the broker.

    The fault and load suite (tests/reliability) runs once, in the PostgreSQL pass: its broker faults are struck
    on a throwaway Redis or RabbitMQ of its own, and it is the heaviest suite. A test that needs Redis as its broker
    (`require_redis`) runs on Redis only.
    """
    for item in items:
        names = getattr(item, "fixturenames", ())
        if "start_worker" in names and "require_redis" not in names and "tests/reliability/" not in item.nodeid:
            item.add_marker(pytest.mark.real_worker)


@pytest.fixture
def start_worker(require_postgres, require_broker, tmp_path):
    """Start real Celery worker processes on the test database and the broker (Redis or RabbitMQ).

    `start_worker(**env)` starts one.

    Tasks enqueued by the test leave this process (eager execution is off until the test ends). Each worker
    runs in its own process group, so its pool children go with it and no session is left on the test database.
    """
    from django.db import connection

    from portal.celery import app

    started = []
    eager = app.conf.task_always_eager
    db = connection.settings_dict
    database_url = f"postgres://{db['USER']}@{db['HOST'] or '127.0.0.1'}:{db['PORT'] or 5432}/{db['NAME']}"

    def start(*, pool: str = "prefork", concurrency: int = 2, **extra_env):
        env = {**os.environ, "DEBUG": "true", "DATABASE_URL": database_url, "CELERY_BROKER_URL": require_broker,
               "PORTAL_VAR_DIR": str(tmp_path / "var"), **{k: str(v) for k, v in extra_env.items()}}
        env.pop("DJANGO_SETTINGS_MODULE", None)
        app.control.purge()
        app.conf.task_always_eager = False
        log_path = tmp_path / f"worker-{len(started)}.log"
        log = log_path.open("w")
        process = subprocess.Popen(
            [str(Path(sys.executable).parent / "celery"), "-A", "portal", "worker", f"--pool={pool}",
             f"--concurrency={concurrency}", "--loglevel=INFO", "--without-gossip", "--without-mingle",
             "--without-heartbeat"],
            cwd=ROOT, env=env, stdout=log, stderr=subprocess.STDOUT, start_new_session=True)
        started.append((process, log))
        deadline = time.monotonic() + 60
        while not app.control.ping(timeout=0.5):
            if process.poll() is not None or time.monotonic() > deadline:
                pytest.fail(f"the worker did not start:\n{log_path.read_text()[-3000:]}")
        return process

    yield start
    app.conf.task_always_eager = eager
    for process, log in started:
        for sig, wait in ((signal.SIGTERM, 20), (signal.SIGKILL, 10)):
            with contextlib.suppress(ProcessLookupError):
                os.killpg(process.pid, sig)
            try:
                process.wait(timeout=wait)
                break
            except subprocess.TimeoutExpired:
                continue
        log.close()


@pytest.fixture(scope="session")
def django_db_setup(django_db_setup, django_db_blocker):
    """After the run, end sessions that worker processes or server threads still hold, so the test DB drops."""
    yield
    with django_db_blocker.unblock():
        from django.db import connection

        if connection.vendor == "postgresql":
            with connection.cursor() as cursor:
                cursor.execute("SELECT pg_terminate_backend(pid) FROM pg_stat_activity "
                               "WHERE datname = current_database() AND pid <> pg_backend_pid()")
