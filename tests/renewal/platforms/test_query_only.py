"""Query-only sites: no webhook URL, no deliveries, in no batch's platform set, never holding back a release."""

import pytest
from django.core.exceptions import ValidationError

from numbers.services import release_sweep
from renewal.active import services as active
from renewal.deliveries import services
from renewal.models import Delivery, Platform, PlatformKind, UnbindTask
from renewal.platforms import services as platform_services
from tests.renewal.helpers_renewal import make_frozen_numbers, make_platform
from tests.renewal.helpers_subscriber import allocated

pytestmark = pytest.mark.django_db


def test_a_query_only_site_has_no_webhook_url():
    with pytest.raises(ValidationError) as refused:
        make_platform(kind=PlatformKind.QUERY_ONLY, webhook_url="https://hooks.example.com/q")
    assert "webhook_url" in refused.value.message_dict
    site = make_platform(kind=PlatformKind.QUERY_ONLY)
    with pytest.raises(ValidationError):
        platform_services.platform_update(platform=site, changes={"webhook_url": "https://hooks.example.com/q"})


def test_a_live_query_only_site_gets_no_batch_and_never_holds_back_a_release(
        operator, django_capture_on_commit_callbacks):
    app = make_platform(name="Alipay")
    site = make_platform(name="Ask-only", kind=PlatformKind.QUERY_ONLY)
    numbers = make_frozen_numbers(operator, 2, cancelled_days_ago=91)
    with django_capture_on_commit_callbacks(execute=False):
        services.batch_sweep()
    assert set(Delivery.objects.values_list("platform_id", flat=True)) == {app.pk}
    services.delivery_confirm(platform=app, delivery_id=Delivery.objects.get().pk, unbound=2, not_found=0)
    assert services.renewal_status(numbers[0])["state"] == "complete"
    assert release_sweep() == 2
    assert not Delivery.objects.filter(platform=site).exists()


def test_an_unbind_request_has_no_task_for_a_query_only_site(operator, outlet, clerk):
    app = make_platform(name="Alipay")
    make_platform(name="Ask-only", kind=PlatformKind.QUERY_ONLY)
    _, period = allocated(operator, outlet, clerk)
    request = active.unbind_request_create(period=period)
    assert list(UnbindTask.objects.filter(request=request).values_list("platform_id", flat=True)) == [app.pk]
    assert active.overview_context(period)["platform_count"] == 1


def test_the_admin_adds_a_query_only_site_without_a_webhook_url(client, platform_admin, settings):
    settings.LANGUAGE_CODE = "en"
    client.force_login(platform_admin)
    form = {"name": "Ask-only", "category": "other", "kind": "query_only", "status": "sandbox", "max_in_flight": "8"}
    response = client.post("/admin/renewal/platform/add/", {**form, "webhook_url": "https://hooks.example.com/q"})
    assert response.status_code == 200 and "leave the webhook URL empty" in response.content.decode()
    response = client.post("/admin/renewal/platform/add/", {**form, "webhook_url": ""}, follow=True)
    assert response.status_code == 200
    site = Platform.objects.get(name="Ask-only")
    # Live without a conformance check: a query-only site receives nothing to check.
    client.post("/admin/renewal/platform/", {"action": "make_live", "_selected_action": [site.pk]})
    site.refresh_from_db()
    assert (site.kind, site.status, site.webhook_url) == ("query_only", "live", "")
    assert "none (queries only)" in client.get("/admin/renewal/platform/").content.decode()
