"""Test traffic (pings, sandbox batches and unbind requests), its API answers, and the go-live gate."""

import json
from datetime import timedelta

import pytest
from django.utils import timezone, translation

from numbers.feeds.services import InventoryRow, inventory_import
from numbers.models import AuditAction, AuditEntry, HolderPeriod, PhoneNumber
from renewal.active import services as active
from renewal.conformance import selectors, services
from renewal.deliveries import services as deliveries
from renewal.errors import Conflict, Invalid
from renewal.models import (
    BatchEntry,
    ConformanceCheck,
    ConformanceState,
    Delivery,
    DeliveryAttempt,
    DeliveryEvent,
    DeliveryState,
    Platform,
    PlatformStatus,
    UnbindTask,
)
from renewal.platforms import services as platforms
from tests.renewal.helpers_renewal import make_frozen_numbers, make_platform

pytestmark = pytest.mark.django_db


def sandbox_pair(platform):
    return deliveries.sandbox_deliveries_create(platform=platform, numbers=5, tasks=3)


def test_a_ping_goes_signed_through_the_pump(simulator, django_capture_on_commit_callbacks):
    platform = make_platform(status="sandbox")
    sim = simulator([platform])
    with django_capture_on_commit_callbacks(execute=True):  # the pump starts after commit
        delivery = services.send_test_event(platform, "tester")
    delivery.refresh_from_db()
    assert delivery.event == DeliveryEvent.PING and delivery.test and delivery.state == DeliveryState.SENT
    body = json.loads(delivery.body)
    assert body["event"] == "ping" and body["delivery_id"] == str(delivery.pk) and body["sandbox"] is True
    assert sim.stats.received == 1 and sim.stats.bad_signature == 0  # the receiver verified the signature
    attempt = DeliveryAttempt.objects.get(delivery=delivery)
    assert attempt.status_code == 200 and attempt.latency_ms >= 0
    entry = AuditEntry.objects.get(action=AuditAction.TEST_EVENT)
    assert entry.actor_name == "tester" and entry.detail["delivery"] == str(delivery.pk)


def test_a_live_platforms_ping_says_nothing_of_the_sandbox(simulator, django_capture_on_commit_callbacks):
    platform = make_platform()
    simulator([platform])
    with django_capture_on_commit_callbacks(execute=True):
        body = json.loads(services.send_test_event(platform).body)
    assert "sandbox" not in body
    assert Delivery.objects.get(event=DeliveryEvent.PING).state == DeliveryState.SENT


def test_no_test_event_for_a_suspended_platform():
    with pytest.raises(Conflict):
        services.send_test_event(make_platform(status="suspended"))
    assert not Delivery.objects.exists()


def test_sandbox_traffic_has_no_number_rows_and_only_reserved_numbers(settings):
    platform = make_platform(status="sandbox", webhook_url="https://hooks.example.com/x")
    counts = [m.objects.count() for m in (PhoneNumber, HolderPeriod, BatchEntry, UnbindTask)]
    batch, unbind = sandbox_pair(platform)
    assert [m.objects.count() for m in (PhoneNumber, HolderPeriod, BatchEntry, UnbindTask)] == counts
    numbers = [n["msisdn"] for n in json.loads(batch.body)["numbers"]]
    numbers += [t["msisdn"] for t in json.loads(unbind.body)["tasks"]]
    assert len(numbers) == 8 and all(n.startswith(settings.SANDBOX_NUMBER_PREFIX) and len(n) == 14 for n in numbers)
    assert batch.chunk_id is None and batch.test and json.loads(batch.body)["sandbox"] is True


def test_a_live_platform_never_gets_sandbox_traffic_and_a_sandbox_one_never_a_real_batch(
        operator, simulator, django_capture_on_commit_callbacks):
    live, sandbox = make_platform("Live"), make_platform("Sandboxed", status="sandbox")
    sim = simulator([live, sandbox])
    stray, _ = sandbox_pair(live)  # (the services never do this: the pump refuses it all the same)
    make_frozen_numbers(operator, 3)
    with django_capture_on_commit_callbacks(execute=True):
        deliveries.batch_sweep()
    assert Delivery.objects.get(pk=stray.pk).state == DeliveryState.CANCELLED  # claimed with the batch: refused
    assert not Delivery.objects.filter(platform=sandbox, test=False).exists()
    assert Delivery.objects.get(platform=live, test=False).state == DeliveryState.SENT
    assert sim.platforms[sandbox.pk].requests == 0


def test_the_importers_refuse_reserved_test_numbers(operator, settings):
    rows = [InventoryRow(line=2, msisdn=settings.SANDBOX_NUMBER_PREFIX + "1234", state="available"),
            InventoryRow(line=3, msisdn="13800000001", state="available")]
    summary = inventory_import(operator=operator, rows=rows, actor="t")
    assert summary.rejected == {"sandbox_number": 1} and summary.applied == 1
    assert not PhoneNumber.objects.filter(msisdn__startswith=settings.SANDBOX_NUMBER_PREFIX).exists()


def test_a_sandbox_batch_is_confirmed_with_its_own_count_and_every_call_is_logged():
    platform = make_platform(status="sandbox")
    batch, _ = sandbox_pair(platform)
    with pytest.raises(Invalid):
        deliveries.delivery_confirm(platform=platform, delivery_id=batch.pk, unbound=5, not_found=5)
    deliveries.delivery_confirm(platform=platform, delivery_id=batch.pk, unbound=2, not_found=3)
    deliveries.delivery_confirm(platform=platform, delivery_id=batch.pk, unbound=2, not_found=3)  # the same: fine
    with pytest.raises(Conflict):
        deliveries.delivery_confirm(platform=platform, delivery_id=batch.pk, unbound=3, not_found=2)
    batch.refresh_from_db()
    assert batch.state == DeliveryState.CONFIRMED and (batch.confirmed_unbound, batch.confirmed_not_found) == (2, 3)
    assert [(c["ok"], c["code"]) for c in batch.test_log] == [
        (False, "validation_error"), (True, ""), (True, ""), (False, "already_confirmed")]


def test_sandbox_unbind_results_are_checked_kept_on_the_row_and_confirm_it():
    platform = make_platform(status="sandbox")
    _, unbind = sandbox_pair(platform)
    tasks = [t["task_id"] for t in json.loads(unbind.body)["tasks"]]
    answers = active.unbind_results_report(platform=platform, delivery_id=unbind.pk, items=[
        {"task_id": tasks[0], "status": "rejected", "reason": "not_our_customer"},
        {"task_id": tasks[1], "status": "unbound", "accounts": 2}])
    assert answers[0]["error"]["code"] == "validation_error" and "reason" in answers[0]["error"]["fields"]
    assert answers[1]["status"] == "unbound"
    active.unbind_results_report(platform=platform, delivery_id=unbind.pk, items=[
        {"task_id": tasks[0], "status": "rejected", "reason": "legal_hold"},
        {"task_id": tasks[2], "status": "nothing_bound"}])
    unbind.refresh_from_db()
    assert unbind.state == DeliveryState.CONFIRMED and set(unbind.test_results) == set(tasks)
    assert [c["ok"] for c in unbind.test_log] == [False, True]
    # a test delivery never confirms through the real tasks' sweep, nor counts in the figures
    assert not Delivery.objects.real().exists()


def passed_check(platform, state=ConformanceState.PASSED, steps=None):
    return ConformanceCheck.objects.create(platform=platform, started_at=timezone.now(), finished_at=timezone.now(),
                                           state=state, variant="push", webhook_url=platform.webhook_url,
                                           steps=steps or [])


def test_going_live_needs_a_passing_last_check_at_the_same_address():
    platform = make_platform(status="sandbox", webhook_url="https://hooks.example.com/a")
    with translation.override("en"), pytest.raises(Invalid, match="not passed a conformance check"):
        platforms.platform_set_status(platform=platform, status=PlatformStatus.LIVE)
    passed_check(platform)
    passed_check(platform, ConformanceState.FAILED, steps=[{"step": 2, "name": "bad_signatures", "passed": False}])
    with translation.override("en"), pytest.raises(Invalid, match="failed at step 2"):
        platforms.platform_set_status(platform=platform, status=PlatformStatus.LIVE)
    passed_check(platform)
    Platform.objects.filter(pk=platform.pk).update(webhook_url="https://hooks.example.com/b")
    with pytest.raises(Invalid, match="webhook URL changed"):
        platforms.platform_set_status(platform=Platform.objects.get(pk=platform.pk), status=PlatformStatus.LIVE)
    Platform.objects.filter(pk=platform.pk).update(webhook_url="https://hooks.example.com/a")
    platforms.platform_set_status(platform=platform, status=PlatformStatus.LIVE)
    assert Platform.objects.get(pk=platform.pk).status == PlatformStatus.LIVE


def test_a_platform_live_before_the_check_existed_stays_live():
    platform = make_platform()  # live, no check: nothing changes it
    platforms.platform_update(platform=platform, changes={"max_in_flight": 4})
    assert Platform.objects.get(pk=platform.pk).status == PlatformStatus.LIVE


def test_the_owner_goes_live_only_when_the_setting_allows(settings):
    platform = make_platform(status="sandbox")
    passed_check(platform)
    settings.PLATFORM_OWNER_MAY_GO_LIVE = False
    with pytest.raises(Conflict):
        services.platform_go_live(platform=platform, as_owner=True)
    settings.PLATFORM_OWNER_MAY_GO_LIVE = True
    assert services.platform_go_live(platform=platform, as_owner=True).status == PlatformStatus.LIVE


def test_a_check_runs_only_in_the_sandbox_one_at_a_time(settings, django_capture_on_commit_callbacks):
    with pytest.raises(Conflict):
        services.run_conformance_check(make_platform())
    platform = make_platform(status="sandbox")
    with django_capture_on_commit_callbacks(execute=False):
        check = services.run_conformance_check(platform, "tester")
    assert check.state == ConformanceState.RUNNING and check.variant == "pull"
    with translation.override("en"), pytest.raises(Conflict, match="already running"):
        services.run_conformance_check(platform)
    assert AuditEntry.objects.get(action=AuditAction.CONFORMANCE_CHECK).detail["check"] == check.pk


def test_a_pull_check_nobody_answers_fails_step_3(settings, django_capture_on_commit_callbacks):
    settings.CONFORMANCE_TIME_LIMIT_SECONDS = 0.3
    platform = make_platform(status="sandbox")
    with django_capture_on_commit_callbacks(execute=True):  # eager: the task runs on commit
        check = services.run_conformance_check(platform, "tester")
    check.refresh_from_db()
    assert check.state == ConformanceState.FAILED and check.finished_at is not None
    assert [s["passed"] for s in check.steps] == [None, None, False, False]
    assert check.first_failed_step["step"] == 3
    assert selectors.last_check_steps(platform)[2]["failure"] == "The batch was never read and confirmed."


def test_the_check_never_calls_a_loopback_address_when_loopback_is_not_allowed(
        settings, django_capture_on_commit_callbacks):
    settings.CONFORMANCE_TIME_LIMIT_SECONDS = 0.3
    platform = make_platform(status="sandbox")
    Platform.objects.filter(pk=platform.pk).update(webhook_url="http://127.0.0.1:9/hook")
    settings.RENEWAL_WEBHOOK_ALLOW_LOOPBACK = False
    with django_capture_on_commit_callbacks(execute=True):
        check = services.run_conformance_check(platform)
    check.refresh_from_db()
    step1, step2 = check.steps[0], check.steps[1]
    assert step1["passed"] is False and "refused" in step1["evidence"][0]["error"]
    assert all(e["status_code"] is None and e["error"].startswith("refused") for e in step2["evidence"])
    assert not Delivery.objects.filter(state=DeliveryState.PENDING).exists()  # nothing left to retry


def test_coverage_by_category_with_the_status_change_time(platform_admin):
    live = make_platform("Live pay", category="payment")
    passing = make_platform("Passing", category="payment", status="sandbox")
    passed_check(passing)
    make_platform("Failing", category="social", status="sandbox")
    make_platform("Off", category="social", status="suspended")
    passed_check(live)
    before = timezone.now()
    platforms.platform_set_status(platform=passing, status=PlatformStatus.LIVE, actor=platform_admin)
    groups = {p["name"]: p["group"] for p in selectors.coverage_platforms()}
    assert groups == {"Live pay": "live", "Passing": "live", "Failing": "sandbox_failing", "Off": "suspended"}
    since = {p["name"]: p["status_since"] for p in selectors.coverage_platforms()}
    assert since["Passing"] >= before > since["Live pay"]
    table = selectors.coverage()
    assert table["rows"][-1][1:5] == [2, 0, 1, 1]


def test_a_live_platform_whose_deliveries_keep_dying_for_a_day_is_flagged(operator, settings):
    settings.PLATFORM_DYING_HOURS = 24
    dying, recovering = make_platform("Dying", webhook_url="https://a.example/x"), make_platform("Fine")
    make_frozen_numbers(operator, 2)
    deliveries.batch_sweep()
    now = timezone.now()
    Delivery.objects.filter(platform=dying).update(state=DeliveryState.DEAD)
    for platform, hours, code in ((dying, 30, 503), (dying, 2, 503), (recovering, 30, 503), (recovering, 1, 200)):
        delivery = Delivery.objects.filter(platform=platform).first()
        DeliveryAttempt.objects.create(delivery=delivery, platform=platform, started_at=now - timedelta(hours=hours),
                                       status_code=code, latency_ms=5)
    Delivery.objects.filter(platform=recovering).update(state=DeliveryState.DEAD)
    assert services.platforms_dying_flag(now=now) == [dying.pk]
    assert Platform.objects.get(pk=dying.pk).dying_since is not None
    assert Platform.objects.get(pk=recovering.pk).dying_since is None
    DeliveryAttempt.objects.create(delivery=Delivery.objects.filter(platform=dying).first(), platform=dying,
                                   started_at=now, status_code=204, latency_ms=5)
    assert services.platforms_dying_flag(now=now + timedelta(seconds=1)) == []
    assert Platform.objects.get(pk=dying.pk).dying_since is None


def test_the_demo_records_a_pass_for_its_live_platforms_and_adds_two_to_check(settings):
    import io

    from renewal.conformance import demo

    assert "renewal.conformance.demo" in settings.DEMO_STEPS
    live, sandboxed = make_platform("Demo live"), make_platform("Demo sandbox", status="sandbox")
    demo.load(io.StringIO())
    demo.load(io.StringIO())  # twice: nothing doubles
    check = ConformanceCheck.objects.get(platform=live)
    assert check.state == ConformanceState.PASSED and check.source == "recorded"
    assert not ConformanceCheck.objects.filter(platform=sandboxed).exists()
    for name in (demo.SANDBOX_DEMO, demo.BROKEN_DEMO):
        platform = Platform.objects.get(name=name)
        assert platform.status == PlatformStatus.SANDBOX and not platform.is_pull_only
    # a recorded pass lets a demo platform that was suspended go live again
    platforms.platform_set_status(platform=live, status=PlatformStatus.SUSPENDED)
    platforms.platform_set_status(platform=live, status=PlatformStatus.LIVE)
