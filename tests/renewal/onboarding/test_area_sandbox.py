"""The sandbox from the platform account area: a test event, the conformance check and its steps, going live."""

import pytest

from numbers.models import AuditAction, AuditEntry
from renewal.conformance.services import conformance_record_simulated
from renewal.models import ConformanceCheck, ConformanceState, Delivery, DeliveryEvent, PlatformStatus
from tests.renewal.onboarding.conftest import make_engineer, sign_in_engineer


@pytest.fixture(autouse=True)
def _english(settings):
    settings.LANGUAGE_CODE = "en"


def test_before_any_check_the_overview_offers_a_test_event_and_the_check(client_a):
    page = client_a.get("/platform/").content.decode()
    assert "No conformance check has run yet." in page
    assert 'action="/platform/sandbox/ping/"' in page and 'action="/platform/sandbox/check/"' in page
    assert 'action="/platform/sandbox/go-live/"' not in page


def test_a_test_event_is_a_ping_to_the_engineers_own_platform_and_is_audited(client_a, platform_a, platform_b,
                                                                             django_capture_on_commit_callbacks):
    with django_capture_on_commit_callbacks(execute=False):  # the pump would send it: here only its row
        response = client_a.post("/platform/sandbox/ping/", follow=True)
    assert "A signed ping is on its way" in response.content.decode()
    [ping] = Delivery.objects.filter(event=DeliveryEvent.PING)
    assert ping.platform == platform_a
    entry = AuditEntry.objects.get(action=AuditAction.TEST_EVENT)
    assert entry.object_id == str(platform_a.pk) and entry.actor_name == "owner@alpha.example"
    assert not Delivery.objects.filter(platform=platform_b).exists()


def test_the_check_starts_in_the_background_and_a_second_is_refused_while_it_runs(
        client_a, platform_a, django_capture_on_commit_callbacks):
    with django_capture_on_commit_callbacks(execute=False) as callbacks:  # the task itself is tested elsewhere
        first = client_a.post("/platform/sandbox/check/", follow=True).content.decode()
        second = client_a.post("/platform/sandbox/check/", follow=True).content.decode()
    assert "The conformance check is running" in first and len(callbacks) == 1
    assert "already running" in second
    check = ConformanceCheck.objects.get()
    assert (check.platform, check.state) == (platform_a, ConformanceState.RUNNING)


def test_a_live_platform_cannot_be_checked_from_the_area(client, engineer_b):
    sign_in_engineer(client, engineer_b)
    page = client.post("/platform/sandbox/check/", follow=True).content.decode()
    assert "Only a platform in the sandbox can be checked" in page
    assert not ConformanceCheck.objects.exists()


def test_the_last_checks_steps_show_with_their_evidence(client_a, platform_a):
    conformance_record_simulated(platform=platform_a)
    page = client_a.get("/platform/").content.decode()
    assert "Last check: passed" in page and page.count('class="check-step step-passed"') == 4


def test_the_owner_goes_live_only_when_allowed_and_only_after_a_passing_check(client_a, platform_a, settings):
    settings.PLATFORM_OWNER_MAY_GO_LIVE = True
    page = client_a.post("/platform/sandbox/go-live/", follow=True).content.decode()
    assert "has not passed a conformance check yet" in page
    platform_a.refresh_from_db()
    assert platform_a.status == PlatformStatus.SANDBOX
    conformance_record_simulated(platform=platform_a)
    assert 'action="/platform/sandbox/go-live/"' in client_a.get("/platform/").content.decode()
    assert "Your platform is live" in client_a.post("/platform/sandbox/go-live/", follow=True).content.decode()
    platform_a.refresh_from_db()
    assert platform_a.status == PlatformStatus.LIVE


def test_without_the_setting_the_owner_is_told_to_ask_an_administrator(client_a, platform_a, settings):
    settings.PLATFORM_OWNER_MAY_GO_LIVE = False
    conformance_record_simulated(platform=platform_a)
    assert 'action="/platform/sandbox/go-live/"' not in client_a.get("/platform/").content.decode()
    page = client_a.post("/platform/sandbox/go-live/", follow=True).content.decode()
    assert "A renewal-platform administrator switches platforms live" in page
    platform_a.refresh_from_db()
    assert platform_a.status == PlatformStatus.SANDBOX


def test_an_invited_engineer_is_not_the_owner_and_cannot_go_live(client, platform_a, settings):
    settings.PLATFORM_OWNER_MAY_GO_LIVE = True
    conformance_record_simulated(platform=platform_a)
    sign_in_engineer(client, make_engineer(platform_a, email="dev@alpha.example", owner=False))
    assert client.post("/platform/sandbox/go-live/").status_code == 404
    platform_a.refresh_from_db()
    assert platform_a.status == PlatformStatus.SANDBOX


def test_the_area_needs_a_signed_in_engineer(client, platform_a):
    for url in ("/platform/sandbox/ping/", "/platform/sandbox/check/", "/platform/sandbox/go-live/"):
        response = client.post(url)
        assert response.status_code == 302 and "/platform/login/" in response["Location"]
    assert not Delivery.objects.exists() and not ConformanceCheck.objects.exists()
