"""The whole journey with a real Celery worker (Redis broker, PostgreSQL): the code SMS is sent by the
worker into the database outbox and read here; the unbind deliveries are coalesced and POSTed by the worker.
"""
# ruff: noqa: F811  (fixtures imported from tests/renewal/factories_subscriber.py are redefined as arguments)

import os
import subprocess
import sys
import time
from pathlib import Path

import pytest
from django.conf import settings
from django.db import connection
from django.test import Client

from portal.celery import app as celery_app
from renewal.models import Delivery, DeliveryEvent, DeliveryState
from renewal.models_subscriber import SmsMessage, UnbindRequest
from renewal.unbind import unbind_coalesce_task
from tests.conftest import IN_CI
from tests.factories import PhoneNumberFactory
from tests.journeys.helpers_active_renewal import simulated_platforms, wait_for
from tests.renewal.factories_subscriber import holder, last_code, roles_back  # noqa: F401

pytestmark = pytest.mark.services



@pytest.fixture
def worker(require_postgres, tmp_path):
    """A real worker on the test database and the configured Redis broker; tasks leave this process."""
    if not settings.CELERY_BROKER_URL.startswith("redis://"):
        message = "needs a Redis broker (set CELERY_BROKER_URL=redis://…)"
        pytest.fail(message) if IN_CI else pytest.skip(message)
    db = connection.settings_dict
    env = {**os.environ, "DEBUG": "true", "SMS_BACKEND": "renewal.sms.DatabaseBackend",
           "PORTAL_VAR_DIR": str(tmp_path), "CELERY_BROKER_URL": settings.CELERY_BROKER_URL,
           "DATABASE_URL": f"postgres://{db['USER']}@{db['HOST'] or '127.0.0.1'}:{db['PORT'] or 5432}/{db['NAME']}"}
    env.pop("DJANGO_SETTINGS_MODULE", None)
    celery_app.control.purge()
    log = (tmp_path / "worker.log").open("w")
    process = subprocess.Popen(
        [str(Path(sys.executable).parent / "celery"), "-A", "portal", "worker", "--concurrency=2",
         "--loglevel=INFO", "--without-gossip", "--without-mingle", "--without-heartbeat"],
        cwd=settings.BASE_DIR, env=env, stdout=log, stderr=subprocess.STDOUT)
    eager = celery_app.conf.task_always_eager
    celery_app.conf.task_always_eager = False
    try:
        wait_for(lambda: celery_app.control.ping(timeout=0.5), timeout=30)
        yield process
    finally:
        celery_app.conf.task_always_eager = eager
        process.terminate()
        try:
            process.wait(timeout=20)
        except subprocess.TimeoutExpired:
            process.kill()
        log.close()


def test_the_journey_with_a_real_worker(roles_back, worker, live_server, holder, operator):
    number, _ = holder
    not_in_service = PhoneNumberFactory(range_holder=operator)
    sim, platforms = simulated_platforms([f"App {i}" for i in range(6)], api_url=live_server.url)
    try:
        client = Client(headers={"accept-language": "en"})
        assert client.post("/renew/", {"msisdn": not_in_service.msisdn}, REMOTE_ADDR="10.1.0.1").status_code == 302
        assert client.post("/renew/", {"msisdn": number.msisdn}, REMOTE_ADDR="10.1.0.1").status_code == 302
        # the worker sends the code into the database outbox; this process reads it
        wait_for(lambda: SmsMessage.objects.filter(to=number.msisdn).exists(), timeout=30)
        time.sleep(1)
        assert not SmsMessage.objects.filter(to=not_in_service.msisdn).exists()
        response = client.post("/renew/code", {"code": last_code(number.msisdn)})
        assert response["Location"] == "/renew/number"
        client.post("/renew/unbind", {"all": "1"})
        request = UnbindRequest.objects.get()
        unbind_coalesce_task.delay()  # what beat does every UNBIND_COALESCE_SECONDS
        final = wait_for(lambda: (s := client.get(f"/renew/requests/{request.pk}/status").json())["final"] and s,
                         timeout=60)
        assert len(final["tasks"]) == len(platforms)
        assert {t["status"] for t in final["tasks"]} <= {"unbound", "nothing_bound", "rejected"}
        deliveries = Delivery.objects.filter(event=DeliveryEvent.UNBIND)
        assert deliveries.count() == len(platforms)
        assert set(deliveries.values_list("state", flat=True)) == {DeliveryState.CONFIRMED}
        assert sim.stats.bad_signature == 0
    finally:
        sim.stop()
