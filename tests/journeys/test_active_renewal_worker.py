"""The whole journey with a real Celery worker (Redis broker, PostgreSQL): the code SMS is sent by the
worker into the database outbox and read here; the unbind deliveries are coalesced and POSTed by the worker.
"""

import time

import pytest
from django.test import Client

from renewal.deliveries.tasks import unbind_coalesce_task
from renewal.models import Delivery, DeliveryEvent, DeliveryState, SmsMessage, UnbindRequest
from tests.factories import PhoneNumberFactory
from tests.journeys.helpers_active_renewal import simulated_platforms, wait_for
from tests.renewal.helpers_subscriber import last_code

pytestmark = pytest.mark.services



@pytest.fixture
def worker(start_worker):
    """A real worker sending codes to the database outbox, which this test reads."""
    return start_worker(SMS_BACKEND="renewal.active.sms.DatabaseBackend")


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
