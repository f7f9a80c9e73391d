"""/metrics: the series an operator's Prometheus scrapes, who may read them, and what each costs.

How the gauges and the delivery counters move when a delivery is sent: tests/renewal/deliveries/test_metrics.py.
"""

import re
import time
from datetime import timedelta

import pytest
from django.db import connection
from django.test import Client
from django.test.utils import CaptureQueriesContext
from django.utils import timezone

from numbers.heartbeats import heartbeat_ran, heartbeat_sent
from portal import metrics as portal_metrics
from renewal.active.sms import SmsSendError, sms_code_send
from renewal.active.tasks import sms_code_send_task
from renewal.models import Delivery, UnbindTask
from tests.numbers.feeds.helpers_feed import run, write_csv
from tests.portal.helpers_metrics import scrape, value
from tests.renewal.helpers_renewal import make_platform

GAUGES = {
    "portal_deliveries", "portal_delivery_oldest_pending_age_seconds", "portal_deliveries_dead",
    "portal_batches_incomplete", "portal_unbind_tasks_waiting", "portal_queue_depth",
    "portal_periodic_task_age_seconds", "portal_beat_fresh", "portal_workers_fresh",
}
COUNTERS = {"portal_api_requests", "portal_sms_sent", "portal_sms_failed", "portal_feed_imports",
            "portal_rate_limit_hits", "portal_signin_refusals", "portal_delivery_attempts"}
HISTOGRAMS = {"portal_webhook_latency_seconds"}


@pytest.fixture(autouse=True)
def _no_gauge_cache(settings):
    settings.METRICS_CACHE_SECONDS = 0  # every scrape reads afresh, unless a test says otherwise


def test_metrics_answers_every_series(client, db):
    families = scrape(client)
    assert GAUGES | COUNTERS | HISTOGRAMS <= set(families)
    assert {s.labels["queue"] for s in families["portal_queue_depth"]} == {"interactive", "celery", "pump"}


def test_every_live_platform_shows_in_every_open_state_even_at_zero(client, db):
    live, sandbox = make_platform("Alipay"), make_platform("Sandboxed", status="sandbox")
    samples = scrape(client)["portal_deliveries"]
    assert {(s.labels["platform"], s.labels["state"], s.value) for s in samples} == {
        (live.name, state, 0.0) for state in ("pending", "sent", "dead")}
    assert sandbox.name not in str(samples)


def test_metrics_is_refused_to_any_other_address(client, db, settings):
    assert client.get("/metrics", REMOTE_ADDR="10.1.2.3").status_code == 403
    settings.METRICS_ALLOWED_ADDRESSES = ["10.1.0.0/16"]
    assert client.get("/metrics", REMOTE_ADDR="10.1.2.3").status_code == 200
    assert client.get("/metrics", REMOTE_ADDR="127.0.0.1").status_code == 403


def test_behind_the_proxy_the_client_address_decides(client, db, settings):
    # nginx on 127.0.0.1 forwards an outside scraper: the connection is local, the client is not.
    settings.TRUSTED_PROXY_COUNT = 1
    outside = client.get("/metrics", REMOTE_ADDR="127.0.0.1", HTTP_X_FORWARDED_FOR="203.0.113.9")
    assert outside.status_code == 403
    assert client.get("/metrics", REMOTE_ADDR="127.0.0.1", HTTP_X_FORWARDED_FOR="127.0.0.1").status_code == 200


def test_only_get(client, db):
    assert client.post("/metrics", REMOTE_ADDR="127.0.0.1").status_code == 405


def test_the_gauges_are_read_once_per_scrape_interval(client, db, settings):
    settings.METRICS_CACHE_SECONDS = 60
    platform = make_platform()
    scrape(client)
    Delivery.objects.create(event="unbind.request", platform=platform, state="dead", created_at=timezone.now())
    with CaptureQueriesContext(connection) as queries:
        families = scrape(client)  # within the interval: the cached figures (the cache may be the database's)
    assert not [q for q in queries.captured_queries if "renewal_" in q["sql"]]
    assert value(families, "portal_deliveries_dead") == 0
    settings.METRICS_CACHE_SECONDS = 0
    from django.core.cache import cache

    cache.delete(portal_metrics.CACHE_KEY)
    assert value(scrape(client), "portal_deliveries_dead") == 1


def test_oldest_pending_and_unbind_tasks_waiting(client, holder):
    from renewal.active.services import unbind_request_create

    number, period = holder
    platform = make_platform()
    old = timezone.now() - timedelta(minutes=10)
    Delivery.objects.create(event="unbind.request", platform=platform, state="pending", created_at=old)
    unbind_request_create(period=period, platform_ids=[platform.pk])
    families = scrape(client)
    assert 590 < value(families, "portal_delivery_oldest_pending_age_seconds") < 700
    assert value(families, "portal_unbind_tasks_waiting", stage="coalescing") == 1
    UnbindTask.objects.update(delivery=Delivery.objects.get())
    families = scrape(client)
    assert value(families, "portal_unbind_tasks_waiting", stage="coalescing") == 0
    assert value(families, "portal_unbind_tasks_waiting", stage="answer") == 1


def test_api_requests_are_counted_by_status(client, db):
    before = scrape(client)
    client.get("/api/v1/deliveries")  # no key: 401
    client.get("/api/v1/deliveries", headers={"authorization": "Bearer rk_wrong"})
    client.get("/api/v1/health/live")  # health checks are not platform API requests
    after = scrape(client)
    assert value(after, "portal_api_requests_total", status="401") - value(
        before, "portal_api_requests_total", status="401") == 2
    assert sum(s.value for s in after["portal_api_requests"] if s.name.endswith("_total")) - sum(
        s.value for s in before["portal_api_requests"] if s.name.endswith("_total")) == 2


def test_sms_sent_and_failed_are_counted(client, holder, settings):
    number, _ = holder
    before = scrape(client)
    sms_code_send_task.delay(number.msisdn)  # the test outbox (DatabaseBackend)
    settings.SMS_BACKEND = "renewal.active.sms.HttpGatewayBackend"
    settings.SMS_GATEWAY_URL = "http://127.0.0.1:1/nothing-listens"
    with pytest.raises(SmsSendError):
        sms_code_send(msisdn=number.msisdn)
    after = scrape(client)
    assert value(after, "portal_sms_sent_total") - value(before, "portal_sms_sent_total") == 1
    assert value(after, "portal_sms_failed_total") - value(before, "portal_sms_failed_total") == 1


def test_feed_imports_are_counted_by_outcome(client, operator, tmp_path):
    def count(families, outcome):
        return value(families, "portal_feed_imports_total", kind="cancellations", outcome=outcome)

    before = scrape(client)
    run("import_cancellations", write_csv(tmp_path / "bad.csv", "msisdn,cancelled_at", ["not-a-number,2026-01-01"]),
        operator="CMCC")
    run("import_cancellations", write_csv(tmp_path / "empty.csv", "msisdn,cancelled_at", []), operator="CMCC")
    run("import_cancellations", write_csv(tmp_path / "wrong.csv", "number,when", ["1,2"]), operator="CMCC")
    after = scrape(client)
    assert count(after, "rejected_lines") - count(before, "rejected_lines") == 1
    assert count(after, "ok") - count(before, "ok") == 1
    assert count(after, "refused") - count(before, "refused") == 1


def test_heartbeats_show_as_ages_and_freshness(client, db):
    heartbeat_sent(task="renewal.tasks.batch_sweep_task", interval_seconds=30,
                   at=timezone.now() - timedelta(seconds=20))
    heartbeat_ran(task="renewal.tasks.batch_sweep_task", at=timezone.now() - timedelta(seconds=10))
    families = scrape(client)
    sent = value(families, "portal_periodic_task_age_seconds", task="renewal.tasks.batch_sweep_task",
                 heartbeat="sent")
    ran = value(families, "portal_periodic_task_age_seconds", task="renewal.tasks.batch_sweep_task",
                heartbeat="ran")
    assert 19 < sent < 40 and 9 < ran < 30
    assert value(families, "portal_periodic_task_age_seconds", task="numbers.tasks.release_sweep_task",
                 heartbeat="sent") == -1
    assert value(families, "portal_beat_fresh") == 1


@pytest.mark.services
def test_each_gauge_query_is_bounded_by_an_index(require_postgres, client, holder):
    """With sequential scans priced out, no query of the open-work tables may still read the whole table."""
    platform = make_platform()
    Delivery.objects.create(event="unbind.request", platform=platform, state="pending", created_at=timezone.now())
    with CaptureQueriesContext(connection) as queries:
        portal_metrics.gauge_samples()
    big_tables = ("renewal_delivery", "renewal_batchchunk", "renewal_unbindtask")
    checked = 0
    with connection.cursor() as cursor:
        cursor.execute("SET enable_seqscan = off")
        for query in queries.captured_queries:
            sql = query["sql"]
            if not any(f'"{table}"' in sql for table in big_tables):
                continue
            cursor.execute("EXPLAIN " + sql)
            plan = "\n".join(row[0] for row in cursor.fetchall())
            assert not re.search(r"Seq Scan on (" + "|".join(big_tables) + ")", plan), (sql, plan)
            checked += 1
        cursor.execute("SET enable_seqscan = on")
    assert checked >= 5


@pytest.mark.services
def test_a_workers_counters_reach_the_web_processes_metrics(transactional_db, start_worker, settings, tmp_path,
                                                            operator, outlet, clerk):
    """Multiprocess mode: the worker counts in its own folder; /metrics adds up every folder under the root."""
    from tests.renewal.helpers_subscriber import allocated

    number, _ = allocated(operator, outlet, clerk)
    root = tmp_path / "metrics"
    settings.METRICS_ROOT = str(root)
    start_worker(PROMETHEUS_MULTIPROC_DIR=root / "worker")
    client = Client()
    before = value(scrape(client), "portal_sms_sent_total")
    for _ in range(2):
        sms_code_send_task.delay(number.msisdn)
    deadline = time.monotonic() + 30
    while value(scrape(client), "portal_sms_sent_total") - before < 2:
        assert time.monotonic() < deadline, "the worker's counter never reached /metrics"
        time.sleep(0.2)
    assert list((root / "worker").glob("counter_*.db"))

