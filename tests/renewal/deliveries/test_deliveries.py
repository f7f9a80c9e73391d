"""One attempt per task, retries owned by the row, dead letters, the due sweep, against real HTTP receivers."""

from datetime import timedelta
from types import SimpleNamespace

import pytest
from django.test import override_settings
from django.utils import timezone

from renewal.deliveries import services
from renewal.deliveries.tasks import deliveries_due_task, delivery_send_task
from renewal.models import Delivery, DeliveryState, PlatformStatus
from renewal.platforms import services as platform_services
from renewal.platforms.signing import verify
from tests.renewal.helpers_renewal import make_frozen_numbers, make_platform

pytestmark = pytest.mark.django_db


def _batch(operator, count=5, django_capture_on_commit_callbacks=None):
    with django_capture_on_commit_callbacks(execute=False):
        [batch_id] = services.batch_sweep()
    return batch_id


def test_attempt_posts_signed_body_with_contract_headers(operator, simulator, django_capture_on_commit_callbacks):
    platform = make_platform()
    sim = simulator([platform])
    make_frozen_numbers(operator, 3)
    with django_capture_on_commit_callbacks(execute=True):  # the dispatch task runs (eagerly) after commit
        services.batch_sweep()
    delivery = Delivery.objects.get()
    assert delivery.state == DeliveryState.SENT and delivery.attempts == 1 and delivery.last_error == ""
    assert sim.stats.received == 1 and sim.stats.bad_signature == 0
    assert str(delivery.pk) in sim.platforms[platform.pk].seen


def test_fresh_t_per_attempt(operator, monkeypatch, django_capture_on_commit_callbacks):
    platform = make_platform(webhook_url="https://hooks.example.com/r")
    make_frozen_numbers(operator, 2)
    _batch(operator, django_capture_on_commit_callbacks=django_capture_on_commit_callbacks)
    delivery = Delivery.objects.get()
    sent = []
    clock = iter([1767225600, 1767225700])

    def fake_post(url, *, body, headers):
        sent.append((body, headers))
        return services.http.Answer(ok=False, error="HTTP 500")

    monkeypatch.setattr(services.http, "post_webhook", fake_post)
    # The signer's clock only: log lines read the real one.
    monkeypatch.setattr("renewal.platforms.signing.time", SimpleNamespace(time=lambda: next(clock)))
    services.delivery_attempt(delivery_id=delivery.pk)
    Delivery.objects.filter(pk=delivery.pk).update(next_attempt_at=timezone.now())
    services.delivery_attempt(delivery_id=delivery.pk)
    (body1, h1), (body2, h2) = sent
    assert body1 == body2 and h1["X-Renewal-Delivery"] == h2["X-Renewal-Delivery"] == str(delivery.pk)
    assert h1["X-Renewal-Signature"].startswith("t=1767225600,")
    assert h2["X-Renewal-Signature"].startswith("t=1767225700,")
    secrets = platform_services.platform_secrets(platform)
    assert verify(header=h2["X-Renewal-Signature"], body=body2, secrets=secrets, now=1767225700)


@override_settings(RENEWAL_MAX_ATTEMPTS=3, RENEWAL_RETRY_BASE_SECONDS=10, RENEWAL_RETRY_MAX_SECONDS=25)
def test_retries_with_backoff_then_dead_then_admin_retry(operator, simulator, django_capture_on_commit_callbacks):
    platform = make_platform()
    platform.fail_first = 10
    sim = simulator([platform])
    make_frozen_numbers(operator, 2)
    _batch(operator, django_capture_on_commit_callbacks=django_capture_on_commit_callbacks)
    delivery = Delivery.objects.get()
    before = timezone.now()
    assert delivery_send_task(str(delivery.pk)) == "failed"
    delivery.refresh_from_db()
    assert delivery.state == DeliveryState.PENDING and delivery.attempts == 1
    assert "HTTP 503" in delivery.last_error
    assert before + timedelta(seconds=5) <= delivery.next_attempt_at <= timezone.now() + timedelta(seconds=10)
    # not due yet: a duplicate message still sends (the row is pending, no attempt in flight) - but the due
    # sweep does not enqueue it before next_attempt_at
    assert deliveries_due_task() == 0
    Delivery.objects.filter(pk=delivery.pk).update(next_attempt_at=timezone.now())
    assert deliveries_due_task() == 1
    delivery.refresh_from_db()
    assert delivery.attempts == 2
    assert 10 <= (delivery.next_attempt_at - timezone.now()).total_seconds() <= 20 + 1  # doubled, jittered
    Delivery.objects.filter(pk=delivery.pk).update(next_attempt_at=timezone.now())
    assert delivery_send_task(str(delivery.pk)) == "dead"
    delivery.refresh_from_db()
    assert delivery.state == DeliveryState.DEAD and delivery.attempts == 3 and delivery.next_attempt_at is None
    assert sim.stats.failed == 3 and sim.stats.received == 0
    # a task for a delivery that is no longer pending returns without sending
    assert delivery_send_task(str(delivery.pk)) == "skipped"
    assert sim.platforms[platform.pk].requests == 3
    # an administrator retries it: pending again, sent at once (the receiver now answers 200)
    sim.platforms[platform.pk].fail_first = 0
    with django_capture_on_commit_callbacks(execute=True):
        assert services.delivery_retry(delivery=delivery, actor="platform-admin")
    delivery.refresh_from_db()
    assert delivery.state == DeliveryState.SENT and delivery.attempts == 1
    assert sim.stats.received == 1


@override_settings(RENEWAL_DUE_LEASE_SECONDS=60)
def test_lost_message_is_enqueued_again_by_the_due_sweep_after_the_lease(
        operator, simulator, django_capture_on_commit_callbacks, monkeypatch):
    platform = make_platform()
    sim = simulator([platform])
    make_frozen_numbers(operator, 2)
    batch_id = _batch(operator, django_capture_on_commit_callbacks=django_capture_on_commit_callbacks)
    # the dispatch claimed it and its message was lost (never run)
    assert services.deliveries_claim_due(batch_id=batch_id) != []
    assert deliveries_due_task() == 0  # leased: not enqueued twice
    later = timezone.now() + timedelta(seconds=61)
    monkeypatch.setattr(services.timezone, "now", lambda: later)
    assert deliveries_due_task() == 1
    delivery = Delivery.objects.get()
    assert delivery.state == DeliveryState.SENT and sim.stats.received == 1
    # `sent` is never re-sent, whatever the due sweep sees later
    monkeypatch.setattr(services.timezone, "now", lambda: later + timedelta(days=1))
    Delivery.objects.filter(pk=delivery.pk).update(next_attempt_at=later)
    assert deliveries_due_task() == 0
    assert delivery_send_task(str(delivery.pk)) == "skipped"
    assert sim.platforms[platform.pk].requests == 1


def test_running_the_task_twice_sends_once(operator, simulator, django_capture_on_commit_callbacks):
    platform = make_platform()
    sim = simulator([platform])
    make_frozen_numbers(operator, 2)
    _batch(operator, django_capture_on_commit_callbacks=django_capture_on_commit_callbacks)
    delivery = Delivery.objects.get()
    assert delivery_send_task(str(delivery.pk)) == "sent"
    assert delivery_send_task(str(delivery.pk)) == "skipped"
    assert sim.platforms[platform.pk].requests == 1


def test_attempt_in_flight_is_not_sent_again_by_a_duplicate_message(operator, django_capture_on_commit_callbacks):
    make_platform(webhook_url="https://hooks.example.com/r")
    make_frozen_numbers(operator, 2)
    _batch(operator, django_capture_on_commit_callbacks=django_capture_on_commit_callbacks)
    delivery = Delivery.objects.get()
    Delivery.objects.filter(pk=delivery.pk).update(claimed_until=timezone.now() + timedelta(seconds=30))
    assert delivery_send_task(str(delivery.pk)) == "skipped"


def test_switching_a_platform_off_cancels_its_unsent_deliveries(operator, django_capture_on_commit_callbacks):
    platform = make_platform(webhook_url="https://hooks.example.com/r")
    other = make_platform()
    make_frozen_numbers(operator, 2)
    _batch(operator, django_capture_on_commit_callbacks=django_capture_on_commit_callbacks)
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
    _batch(operator, django_capture_on_commit_callbacks=django_capture_on_commit_callbacks)
    type(platform).objects.filter(pk=platform.pk).update(status=PlatformStatus.SUSPENDED)  # behind the service's back
    delivery = Delivery.objects.get()
    assert delivery_send_task(str(delivery.pk)) == "cancelled"
    delivery.refresh_from_db()
    assert delivery.state == DeliveryState.CANCELLED and delivery.chunk.deliveries_done == 1
