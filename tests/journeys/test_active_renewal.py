"""A subscriber signs in with an SMS code, unbinds all, and watches every platform reach a final state.

Real HTTP both ways: the portal POSTs signed unbind.request deliveries to simulated platforms, which
report each task's result through the live API. The simulated platforms answer at once from many
threads, so this needs PostgreSQL: a live server on in-memory SQLite shares one connection between threads.
"""

import pytest
from django.test import Client

from renewal.deliveries.tasks import unbind_coalesce_task
from renewal.models import Delivery, DeliveryEvent, DeliveryState, UnbindRequest
from tests.journeys.helpers_active_renewal import simulated_platforms, wait_for
from tests.renewal.helpers_subscriber import sign_in


@pytest.mark.services
@pytest.mark.django_db(transaction=True)
def test_sign_in_unbind_all_and_watch_every_platform_finish(require_postgres, roles_back, live_server, holder,
                                                            settings):
    number, period = holder
    sim, platforms = simulated_platforms([f"App {i}" for i in range(8)], api_url=live_server.url)
    try:
        client = Client(headers={"accept-language": "en"})
        sign_in(client, number.msisdn)
        page = client.get("/renew/number").content.decode()
        assert all(p.name in page for p in platforms)
        response = client.post("/renew/unbind", {"all": "1"})
        request = UnbindRequest.objects.get()
        assert response["Location"] == f"/renew/requests/{request.pk}"
        # the coalescer (a beat task) makes one delivery per platform and hands them to the sender
        assert unbind_coalesce_task.delay().get() == len(platforms)
        status_url = f"/renew/requests/{request.pk}/status"
        final = wait_for(lambda: (s := client.get(status_url).json())["final"] and s)
        assert {t["status"] for t in final["tasks"]} <= {"unbound", "nothing_bound", "rejected"}
        assert final["summary"].startswith("Finished:")
        assert sim.stats.received == len(platforms) and sim.stats.bad_signature == 0
        deliveries = Delivery.objects.filter(event=DeliveryEvent.UNBIND)
        assert deliveries.count() == len(platforms)
        assert set(deliveries.values_list("state", flat=True)) == {DeliveryState.CONFIRMED}
        page = client.get(f"/renew/requests/{request.pk}").content.decode()
        assert 'data-final="true"' in page and final["summary"] in page.replace("&#x27;", "'")
    finally:
        sim.stop()
