"""Attempts through the pump: signed with Standard Webhooks, retries owned by the row, dead letters, leases, the due
sweep, DeliveryAttempt rows, against real HTTP receivers."""

from datetime import timedelta

import pytest
from django.test import override_settings
from django.utils import timezone
from standardwebhooks import Webhook

from renewal.deliveries import pump, services
from renewal.deliveries.tasks import deliveries_due_task, delivery_send_task
from renewal.models import Delivery, DeliveryAttempt, DeliveryState, PlatformStatus
from renewal.platforms import services as platform_services
from tests.renewal.helpers_renewal import make_frozen_numbers, make_platform

pytestmark = pytest.mark.django_db


def _batch(django_capture_on_commit_callbacks):
    with django_capture_on_commit_callbacks(execute=False):  # no pump after commit: the test runs it
        [batch_id] = services.batch_sweep()
    return batch_id


def test_the_pump_posts_each_delivery_signed_with_standard_webhooks(operator, simulator,
                                                                   django_capture_on_commit_callbacks):
    platform = make_platform()
    sim = simulator([platform])
    make_frozen_numbers(operator, 3)
    with django_capture_on_commit_callbacks(execute=True):  # the pump task runs (eagerly) after commit
        services.batch_sweep()
    delivery = Delivery.objects.get()
    assert delivery.state == DeliveryState.SENT and delivery.attempts == 1 and delivery.last_error == ""
    assert delivery.claimed_until is None and delivery.next_attempt_at is None
    # the simulator verified it with the standardwebhooks library
    assert sim.stats.received == 1 and sim.stats.bad_signature == 0
    assert str(delivery.pk) in sim.platforms[platform.pk].seen
    (attempt,) = DeliveryAttempt.objects.all()
    assert (attempt.delivery_id, attempt.platform_id, attempt.status_code, attempt.error) == (
        delivery.pk, platform.pk, 200, "")
    assert attempt.started_at <= delivery.sent_at


def test_each_attempt_signs_afresh_with_the_same_webhook_id(operator, simulator, monkeypatch,
                                                           django_capture_on_commit_callbacks):
    platform = make_platform()
    platform.fail_first = 1
    sim = simulator([platform])
    make_frozen_numbers(operator, 2)
    _batch(django_capture_on_commit_callbacks)
    delivery = Delivery.objects.get()
    now = int(timezone.now().timestamp())
    clock = iter([now - 100, now])  # both within the receiver's 300 seconds
    sign = pump.signature_headers
    monkeypatch.setattr(pump, "signature_headers", lambda **kw: sign(**kw, timestamp=next(clock)))
    assert delivery_send_task(str(delivery.pk)) == "failed"
    Delivery.objects.filter(pk=delivery.pk).update(next_attempt_at=timezone.now())
    assert delivery_send_task(str(delivery.pk)) == "sent"
    first, second = sim.platforms[platform.pk].attempts
    assert first == (str(delivery.pk), str(now - 100)) and second == (str(delivery.pk), str(now))
    assert sim.stats.bad_signature == 0 and sim.stats.failed == 1


def test_the_signed_headers_verify_with_the_library(operator, monkeypatch, django_capture_on_commit_callbacks):
    """What leaves the portal, exactly: the three Standard Webhooks headers and X-Renewal-Event, nothing else."""
    platform = make_platform(webhook_url="https://hooks.example.com/r")
    make_frozen_numbers(operator, 2)
    _batch(django_capture_on_commit_callbacks)
    sent = []

    class Recorder:
        free = 8

        def post(self, url, *, body, headers, sign=None):
            from concurrent.futures import Future

            sent.append((url, body, {**headers, **sign()}))
            future = Future()
            future.set_result(services.pump.http.Answer(ok=True, status=204, started_at=0, latency_ms=1))
            return future

    monkeypatch.setattr(pump.http, "client", Recorder)
    assert delivery_send_task(str(Delivery.objects.get().pk)) == "sent"
    ((url, body, headers),) = sent
    assert url == "https://hooks.example.com/r"
    assert set(headers) == {"webhook-id", "webhook-timestamp", "webhook-signature", "X-Renewal-Event"}
    assert headers["X-Renewal-Event"] == "recycled_numbers.batch"
    (secret,) = platform_services.platform_secrets(platform)
    assert Webhook(secret).verify(body, headers)["delivery_id"] == headers["webhook-id"]


@override_settings(RENEWAL_MAX_ATTEMPTS=3, RENEWAL_RETRY_BASE_SECONDS=10, RENEWAL_RETRY_MAX_SECONDS=25)
def test_retries_with_backoff_then_dead_then_admin_retry(operator, simulator, django_capture_on_commit_callbacks):
    platform = make_platform()
    platform.fail_first = 10
    sim = simulator([platform])
    make_frozen_numbers(operator, 2)
    _batch(django_capture_on_commit_callbacks)
    delivery = Delivery.objects.get()
    before = timezone.now()
    assert delivery_send_task(str(delivery.pk)) == "failed"
    delivery.refresh_from_db()
    assert delivery.state == DeliveryState.PENDING and delivery.attempts == 1 and delivery.claimed_until is None
    assert "HTTP 503" in delivery.last_error
    assert before + timedelta(seconds=5) <= delivery.next_attempt_at <= timezone.now() + timedelta(seconds=10)
    # not due yet: the due sweep does not start the pump
    assert deliveries_due_task() is False
    Delivery.objects.filter(pk=delivery.pk).update(next_attempt_at=timezone.now())
    with django_capture_on_commit_callbacks(execute=True):
        assert deliveries_due_task() is True  # the pump ran (eagerly) and made the second attempt
    delivery.refresh_from_db()
    assert delivery.attempts == 2
    assert 10 <= (delivery.next_attempt_at - timezone.now()).total_seconds() <= 20 + 1  # doubled, jittered
    Delivery.objects.filter(pk=delivery.pk).update(next_attempt_at=timezone.now())
    assert delivery_send_task(str(delivery.pk)) == "dead"
    delivery.refresh_from_db()
    assert delivery.state == DeliveryState.DEAD and delivery.attempts == 3 and delivery.next_attempt_at is None
    assert sim.stats.failed == 3 and sim.stats.received == 0
    attempts = list(DeliveryAttempt.objects.filter(delivery=delivery).order_by("started_at"))
    assert [a.status_code for a in attempts] == [503, 503, 503]
    assert all(a.error.startswith("HTTP 503") for a in attempts)
    # a task for a delivery that is no longer pending returns without sending
    assert delivery_send_task(str(delivery.pk)) == "skipped"
    assert sim.platforms[platform.pk].requests == 3
    # an administrator retries it: pending again, sent at once by the pump (the receiver now answers 200)
    sim.platforms[platform.pk].fail_first = 0
    with django_capture_on_commit_callbacks(execute=True):
        assert services.delivery_retry(delivery=delivery, actor="platform-admin")
    delivery.refresh_from_db()
    assert delivery.state == DeliveryState.SENT and delivery.attempts == 1
    assert sim.stats.received == 1 and DeliveryAttempt.objects.filter(delivery=delivery).count() == 4


@override_settings(RENEWAL_DUE_LEASE_SECONDS=60, RENEWAL_PUMP_SLICE_SECONDS=5)
def test_a_delivery_leased_by_a_dead_worker_is_sent_again_after_the_lease(
        operator, simulator, django_capture_on_commit_callbacks, monkeypatch):
    platform = make_platform()
    sim = simulator([platform])
    make_frozen_numbers(operator, 2)
    _batch(django_capture_on_commit_callbacks)
    # a pump claimed it, and its worker died before recording anything
    (claimed,) = pump.claim(limit=10, now=timezone.now())
    delivery = Delivery.objects.get()
    assert delivery.claimed_until == delivery.next_attempt_at and delivery.claimed_until > timezone.now()
    assert deliveries_due_task() is False  # leased: nobody sends it meanwhile
    assert delivery_send_task(str(delivery.pk)) == "skipped"
    later = timezone.now() + timedelta(seconds=61)
    monkeypatch.setattr(pump.timezone, "now", lambda: later)
    monkeypatch.setattr(services.timezone, "now", lambda: later)
    with django_capture_on_commit_callbacks(execute=True):
        assert deliveries_due_task() is True
    delivery.refresh_from_db()
    assert delivery.state == DeliveryState.SENT and sim.stats.received == 1
    assert sim.platforms[platform.pk].attempts[0][0] == str(claimed.id) == str(delivery.pk)  # the same webhook-id
    # `sent` is never re-sent, whatever the due sweep sees later
    monkeypatch.setattr(pump.timezone, "now", lambda: later + timedelta(days=1))
    Delivery.objects.filter(pk=delivery.pk).update(next_attempt_at=later)
    assert delivery_send_task(str(delivery.pk)) == "skipped"
    assert sim.platforms[platform.pk].requests == 1


def test_running_the_task_twice_sends_once(operator, simulator, django_capture_on_commit_callbacks):
    platform = make_platform()
    sim = simulator([platform])
    make_frozen_numbers(operator, 2)
    _batch(django_capture_on_commit_callbacks)
    delivery = Delivery.objects.get()
    assert delivery_send_task(str(delivery.pk)) == "sent"
    assert delivery_send_task(str(delivery.pk)) == "skipped"
    assert delivery_send_task("not-a-uuid") == "skipped"
    assert sim.platforms[platform.pk].requests == 1


def test_attempt_in_flight_is_not_sent_again_by_a_duplicate_message(operator, django_capture_on_commit_callbacks):
    make_platform(webhook_url="https://hooks.example.com/r")
    make_frozen_numbers(operator, 2)
    _batch(django_capture_on_commit_callbacks)
    delivery = Delivery.objects.get()
    Delivery.objects.filter(pk=delivery.pk).update(claimed_until=timezone.now() + timedelta(seconds=30))
    assert delivery_send_task(str(delivery.pk)) == "skipped"


def test_switching_a_platform_off_cancels_its_unsent_deliveries(operator, django_capture_on_commit_callbacks):
    platform = make_platform(webhook_url="https://hooks.example.com/r")
    other = make_platform()
    make_frozen_numbers(operator, 2)
    _batch(django_capture_on_commit_callbacks)
    platform_services.platform_set_status(platform=platform, status=PlatformStatus.SUSPENDED)
    d = Delivery.objects.get(platform=platform)
    assert d.state == DeliveryState.CANCELLED
    assert d.chunk.deliveries_done == 1 and d.chunk.deliveries_total == 2
    services.delivery_confirm(platform=other, delivery_id=Delivery.objects.get(platform=other).pk, unbound=0,
                              not_found=2)
    d.chunk.refresh_from_db()
    assert d.chunk.is_complete


def test_a_suspended_platform_pending_delivery_is_cancelled_at_send_time(operator, django_capture_on_commit_callbacks):
    platform = make_platform(webhook_url="https://hooks.example.com/r")
    make_frozen_numbers(operator, 2)
    _batch(django_capture_on_commit_callbacks)
    type(platform).objects.filter(pk=platform.pk).update(status=PlatformStatus.SUSPENDED)  # behind the service's back
    delivery = Delivery.objects.get()
    assert delivery_send_task(str(delivery.pk)) == "cancelled"
    delivery.refresh_from_db()
    assert delivery.state == DeliveryState.CANCELLED and delivery.chunk.deliveries_done == 1
    assert not DeliveryAttempt.objects.exists()  # nothing was POSTed


def test_a_platform_that_became_pull_only_is_marked_sent_without_a_post(operator, django_capture_on_commit_callbacks):
    platform = make_platform(webhook_url="https://hooks.example.com/r")
    make_frozen_numbers(operator, 2)
    _batch(django_capture_on_commit_callbacks)
    type(platform).objects.filter(pk=platform.pk).update(webhook_url="")
    report = pump.Slice(seconds=5).run()
    assert (report.pulled, report.sent) == (1, 0)
    assert Delivery.objects.get().state == DeliveryState.SENT and not DeliveryAttempt.objects.exists()


def test_a_secret_that_cannot_sign_is_a_failed_attempt_that_says_so(operator, django_capture_on_commit_callbacks):
    from renewal.platforms import crypto

    platform = make_platform(webhook_url="https://hooks.example.com/r")
    make_frozen_numbers(operator, 2)
    _batch(django_capture_on_commit_callbacks)
    type(platform).objects.filter(pk=platform.pk).update(
        signing_secret_encrypted=crypto.encrypt("whsec_" + "ab" * 32))  # a hex secret of before Standard Webhooks
    assert delivery_send_task(str(Delivery.objects.get().pk)) == "failed"
    delivery = Delivery.objects.get()
    assert "platform_secrets_reissue" in delivery.last_error and delivery.state == DeliveryState.PENDING
    (attempt,) = DeliveryAttempt.objects.all()
    assert attempt.status_code is None and "cannot sign" in attempt.error


@override_settings(RENEWAL_ATTEMPT_RETENTION_DAYS=30)
def test_attempts_of_long_confirmed_deliveries_are_pruned(operator, django_capture_on_commit_callbacks):
    platform = make_platform(webhook_url="https://hooks.example.com/r")
    make_frozen_numbers(operator, 3000)  # three chunks
    _batch(django_capture_on_commit_callbacks)
    old, recent, open_ = Delivery.objects.order_by("chunk__seq")
    now = timezone.now()
    for delivery in (old, recent, open_):
        DeliveryAttempt.objects.bulk_create([DeliveryAttempt(delivery=delivery, platform=platform, started_at=now,
                                                             latency_ms=5, status_code=200) for _ in range(2)])
    Delivery.objects.filter(pk=old.pk).update(state=DeliveryState.CONFIRMED, confirmed_at=now - timedelta(days=31))
    Delivery.objects.filter(pk=recent.pk).update(state=DeliveryState.CONFIRMED, confirmed_at=now - timedelta(days=29))
    assert services.delivery_attempts_prune(now=now, chunk=1) == 2
    assert set(DeliveryAttempt.objects.values_list("delivery_id", flat=True)) == {recent.pk, open_.pk}
    assert services.delivery_attempts_prune(now=now) == 0
