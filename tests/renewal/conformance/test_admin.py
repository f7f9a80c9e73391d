"""Admin: the platform list's last check and dying flag, the check and test-event actions (audited), the
go-live refusal, and the dashboard's coverage section."""

import pytest
from django.test import Client
from django.urls import reverse
from django.utils import timezone

from numbers.models import AuditAction, AuditEntry
from renewal.models import ConformanceCheck, ConformanceState, Delivery, DeliveryEvent, Platform, PlatformStatus
from tests.renewal.helpers_renewal import make_platform

pytestmark = pytest.mark.django_db
LIST = "/admin/renewal/platform/"


@pytest.fixture
def client(platform_admin):
    client = Client(headers={"accept-language": "en"})
    client.force_login(platform_admin)
    return client


def action(client, name, *platforms):
    return client.post(LIST, {"action": name, "_selected_action": [p.pk for p in platforms]}, follow=True)


def failed_check(platform):
    return ConformanceCheck.objects.create(
        platform=platform, started_at=timezone.now(), finished_at=timezone.now(), state=ConformanceState.FAILED,
        variant="push", webhook_url=platform.webhook_url, steps=[
            {"step": 1, "name": "valid_batch", "title": "A valid signed batch is answered 2xx within the read timeout",
             "passed": True, "expected": "2xx", "evidence": [{"what": "signed sandbox batch", "status_code": 200,
                                                                "latency_ms": 12, "error": ""}], "failure": ""},
            {"step": 2, "name": "bad_signatures", "title": "x", "passed": False, "expected": "4xx",
             "evidence": [{"what": "forged signature", "status_code": 200, "latency_ms": 3, "error": ""}],
             "failure": "forged signature answered 200"}])


def test_the_actions_start_a_check_and_send_a_ping_each_audited(client, django_capture_on_commit_callbacks):
    sandbox = make_platform("In sandbox", status="sandbox", webhook_url="https://hooks.example.com/s")
    live = make_platform("Live one", webhook_url="https://hooks.example.com/l")
    with django_capture_on_commit_callbacks(execute=False):  # the check's task and the pump are not run here
        page = action(client, "run_check", sandbox, live).content.decode()
        action(client, "send_test_event", live)
    assert ConformanceCheck.objects.get().platform == sandbox
    assert "Live one: Only a platform in the sandbox can be checked" in page
    assert Delivery.objects.get(event=DeliveryEvent.PING).platform == live
    actions = set(AuditEntry.objects.filter(actor_name="platform-admin").values_list("action", flat=True))
    assert {AuditAction.CONFORMANCE_CHECK, AuditAction.TEST_EVENT} <= actions


def test_the_list_and_the_page_show_the_last_check_and_its_evidence(client):
    platform = make_platform("Checked", status="sandbox")
    check = failed_check(platform)
    listing = client.get(LIST).content.decode()
    assert "failed (step 2)" in listing and reverse("admin:renewal_conformancecheck_change", args=[check.pk]) in listing
    page = client.get(f"{LIST}{platform.pk}/change/").content.decode()
    assert "forged signature answered 200" in page and "status 200" in page and "12 ms" in page
    assert client.get(reverse("admin:renewal_conformancecheck_change", args=[check.pk])).status_code == 200


def test_make_live_is_refused_without_a_passing_check_and_says_why(client):
    platform = make_platform("Unchecked", status="sandbox")
    failed_check(platform)
    page = action(client, "make_live", platform).content.decode()
    assert "its last conformance check failed at step 2" in page
    response = client.post(f"{LIST}{platform.pk}/change/", {
        "name": "Unchecked", "category": "payment", "kind": "application", "webhook_url": "", "status": "live",
        "max_in_flight": 8})
    assert response.status_code == 200 and "failed at step 2" in response.content.decode()
    assert Platform.objects.get(pk=platform.pk).status == PlatformStatus.SANDBOX


def test_dying_platforms_are_flagged_in_the_list(client):
    make_platform("Healthy")
    dying = make_platform("Dying")
    Platform.objects.filter(pk=dying.pk).update(dying_since=timezone.now())
    flagged = client.get(LIST, {"dying": "yes"}).content.decode()
    assert "Dying" in flagged and "Healthy" not in flagged and "deliveries dying" in flagged


def test_regulators_see_the_checks_but_run_nothing(regulator):
    client = Client(headers={"accept-language": "en"})
    client.force_login(regulator)
    platform = make_platform("Seen", status="sandbox")
    failed_check(platform)
    assert client.get(reverse("admin:renewal_conformancecheck_changelist")).status_code == 200
    action(client, "run_check", platform)
    assert ConformanceCheck.objects.count() == 1


def test_the_dashboard_shows_coverage_by_category(regulator):
    client = Client(headers={"accept-language": "en"})
    client.force_login(regulator)
    make_platform("Pay", category="payment")
    make_platform("Chat", category="social", status="sandbox")
    response = client.get(reverse("admin:dashboard"))
    coverage = {s["key"]: s["data"] for s in response.context["sections"]}["coverage"]
    assert coverage["columns"][:5] == ["Category", "live", "sandbox, check passed", "sandbox, check failed or not run",
                                       "suspended"]
    assert coverage["rows"][-1][:5] == ["All categories", 1, 0, 1, 0]
    assert 'id="coverage-table"' in response.content.decode()
