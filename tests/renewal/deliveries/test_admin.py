"""Admin: deliveries and their retries, scoped per operator."""

import pytest

from numbers import roles
from renewal.models import Delivery, DeliveryState
from tests.factories import staff_user

pytestmark = pytest.mark.django_db


def test_operator_admin_sees_and_retries_only_their_own_deliveries(client, dead, operator, other_operator):
    admin = staff_user(role=roles.OPERATOR_ADMIN, operator=operator, username="cmcc-admin")
    client.force_login(admin)
    page = client.get("/admin/renewal/delivery/")
    assert page.status_code == 200
    mine = Delivery.objects.get(operator=operator)
    theirs = Delivery.objects.get(operator=other_operator)
    assert str(mine.pk) in page.content.decode() and str(theirs.pk) not in page.content.decode()
    assert "HTTP 503: down" in page.content.decode() and 'value="retry"' in page.content.decode()
    assert client.get(f"/admin/renewal/delivery/{theirs.pk}/change/").status_code == 302  # "doesn't exist"
    client.post("/admin/renewal/delivery/", {"action": "retry", "_selected_action": [str(mine.pk), str(theirs.pk)]})
    mine.refresh_from_db()
    theirs.refresh_from_db()
    # the retried one went back to pending and was sent by the due sweep (eager), failing against example.com
    assert mine.state == DeliveryState.PENDING and mine.last_error != "HTTP 503: down"
    assert theirs.state == DeliveryState.DEAD



def test_platform_admin_retries_any_dead_delivery(client, dead, platform_admin, django_capture_on_commit_callbacks):
    client.force_login(platform_admin)
    ids = [str(i) for i in Delivery.objects.values_list("id", flat=True)]
    with django_capture_on_commit_callbacks(execute=False) as callbacks:
        client.post("/admin/renewal/delivery/", {"action": "retry", "_selected_action": ids})
    assert set(Delivery.objects.values_list("state", flat=True)) == {DeliveryState.PENDING}
    assert len(callbacks) == 1  # one due sweep enqueues them all



def test_regulator_sees_deliveries_but_cannot_retry_or_change(client, dead, regulator):
    client.force_login(regulator)
    page = client.get("/admin/renewal/delivery/")
    assert page.status_code == 200 and 'value="retry"' not in page.content.decode()
    ids = [str(i) for i in Delivery.objects.values_list("id", flat=True)]
    client.post("/admin/renewal/delivery/", {"action": "retry", "_selected_action": ids})
    assert set(Delivery.objects.values_list("state", flat=True)) == {DeliveryState.DEAD}
    assert client.post("/admin/renewal/platform/add/", {"name": "X", "category": "payment",
                                                        "kind": "application", "status": "live"}).status_code == 403
    assert client.get("/admin/renewal/recyclebatch/").status_code == 200
