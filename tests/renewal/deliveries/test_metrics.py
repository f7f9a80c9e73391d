"""What an operator sees of the outbox: /metrics moves and a log line is written when a delivery is sent."""

import pytest

from numbers.heartbeats import heartbeat_ran, heartbeat_sent
from portal.celery import periodic_tasks
from renewal.deliveries import services
from renewal.models import Delivery, DeliveryState
from tests.portal.helpers_logs import events, json_lines
from tests.portal.helpers_metrics import scrape, value
from tests.renewal.helpers_renewal import make_frozen_numbers, make_platform


@pytest.fixture(autouse=True)
def _no_gauge_cache(settings):
    settings.METRICS_CACHE_SECONDS = 0


def _batch(django_capture_on_commit_callbacks):
    with django_capture_on_commit_callbacks(execute=False):  # the batch only: nothing sent yet
        [batch_id] = services.batch_sweep()
    return batch_id


def test_a_gauge_and_a_counter_move_when_a_delivery_is_sent(client, operator, simulator,
                                                             django_capture_on_commit_callbacks):
    platform = make_platform("Alipay")
    simulator([platform])
    make_frozen_numbers(operator, 3)
    for task, interval in periodic_tasks().items():  # beat and the workers are running
        heartbeat_sent(task=task, interval_seconds=interval)
        heartbeat_ran(task=task)
    _batch(django_capture_on_commit_callbacks)
    delivery = Delivery.objects.get()

    before = scrape(client)
    assert value(before, "portal_deliveries", platform="Alipay", state="pending") == 1
    assert value(before, "portal_deliveries", platform="Alipay", state="sent") == 0
    assert value(before, "portal_batches_incomplete") == 1
    assert value(before, "portal_delivery_oldest_pending_age_seconds") >= 0

    with json_lines() as lines:
        assert services.delivery_send(delivery_id=delivery.pk) == "sent"

    after = scrape(client)
    assert value(after, "portal_deliveries", platform="Alipay", state="pending") == 0
    assert value(after, "portal_deliveries", platform="Alipay", state="sent") == 1
    assert value(after, "portal_delivery_attempts_total", outcome="sent") - value(
        before, "portal_delivery_attempts_total", outcome="sent") == 1
    assert value(after, "portal_webhook_latency_seconds_count", outcome="sent") - value(
        before, "portal_webhook_latency_seconds_count", outcome="sent") == 1
    assert value(after, "portal_batches_incomplete") == 1  # sent is not confirmed
    [attempt] = events(lines, "delivery_attempt")
    assert attempt["platform"] == "Alipay" and attempt["delivery"] == str(delivery.pk)
    assert attempt["status_code"] == 200 and attempt["outcome"] == "sent" and attempt["latency_ms"] > 0
    assert attempt["task_id"] is None and attempt["attempt"] == 1

    services.delivery_confirm(platform=platform, delivery_id=delivery.pk, unbound=3, not_found=0)
    assert value(scrape(client), "portal_batches_incomplete") == 0


def test_a_dead_delivery_is_a_warning_line_and_shows_in_the_gauges(client, operator, settings,
                                                                    django_capture_on_commit_callbacks):
    settings.RENEWAL_MAX_ATTEMPTS = 1
    make_platform("Broken", webhook_url="http://127.0.0.1:1/nothing-listens")
    make_frozen_numbers(operator, 2)
    _batch(django_capture_on_commit_callbacks)
    delivery = Delivery.objects.get()
    before = scrape(client)
    with json_lines() as lines:
        assert services.delivery_send(delivery_id=delivery.pk) == "dead"
    after = scrape(client)
    assert Delivery.objects.get().state == DeliveryState.DEAD
    assert value(after, "portal_deliveries_dead") == 1
    assert value(after, "portal_deliveries", platform="Broken", state="dead") == 1
    assert value(after, "portal_delivery_attempts_total", outcome="dead") - value(
        before, "portal_delivery_attempts_total", outcome="dead") == 1
    [dead] = events(lines, "delivery_dead")
    assert dead["level"] == "WARNING" and dead["platform"] == "Broken" and dead["status_code"] is None
    assert "Connect" in dead["error"]  # the client's words: the connection was refused
