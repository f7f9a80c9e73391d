"""`/metrics` for Prometheus: gauges of state read at scrape time, and the counters of every process.

Gauges come from the database and the broker when Prometheus scrapes, each query bounded by an index (partial
indexes over the open deliveries, the incomplete chunks, the open unbind tasks), and are cached for one scrape
interval (METRICS_CACHE_SECONDS) in the shared cache, so that several scrapers or web processes do not repeat
them. Counters and histograms (numbers/metrics.py) come from this process alone or, under gunicorn and the
Celery workers, from the multiprocess files of every process kind under METRICS_ROOT.

Only the addresses of METRICS_ALLOWED_ADDRESSES may read it.
"""

from __future__ import annotations

import glob
import ipaddress
import logging
import os
from collections.abc import Iterator
from typing import Any

from django.conf import settings
from django.core.cache import cache
from django.db.models import Count, F, Min
from django.http import HttpRequest, HttpResponse
from django.utils import timezone
from django.views.decorators.http import require_GET
from prometheus_client import REGISTRY, CollectorRegistry, generate_latest
from prometheus_client.core import GaugeMetricFamily, Metric
from prometheus_client.exposition import CONTENT_TYPE_LATEST
from prometheus_client.multiprocess import MultiProcessCollector

from numbers import metrics as event_metrics
from numbers.heartbeats import freshness
from numbers.ratelimit import client_address
from portal.celery import app as celery_app
from portal.celery import periodic_tasks
from renewal.models import OPEN_STATES, BatchChunk, Delivery, DeliveryState, Platform, UnbindTask

log = logging.getLogger("portal.metrics")

CACHE_KEY = "metrics:gauges"
QUEUE_TIMEOUT_SECONDS = 2.0

# name -> (help, labels): every gauge /metrics answers, each computed in `_gauge_samples`.
GAUGES: dict[str, tuple[str, list[str]]] = {
    "portal_deliveries": ("Open deliveries (pending, sent, dead) by platform and state.", ["platform", "state"]),
    "portal_delivery_oldest_pending_age_seconds": ("Age of the oldest pending delivery (0 when none).", []),
    "portal_deliveries_dead": ("Dead deliveries: they wait for an administrator's retry.", []),
    "portal_batches_incomplete": ("Recycle batches with a chunk not yet confirmed by every platform.", []),
    "portal_unbind_tasks_waiting": (
        "Open unbind tasks: waiting to be gathered into a delivery (coalescing), or for the platform's "
        "answer (answer).", ["stage"]),
    "portal_queue_depth": ("Messages waiting in each broker queue (-1 when the broker did not answer).", ["queue"]),
    "portal_periodic_task_age_seconds": (
        "Seconds since beat last sent each periodic task (sent) and a worker last finished it (ran); -1: never.",
        ["task", "heartbeat"]),
    "portal_beat_fresh": ("1 when beat sent every periodic task within its stale limit, else 0.", []),
    "portal_workers_fresh": ("1 when workers finished every periodic task within its stale limit, else 0.", []),
}

Sample = tuple[str, dict[str, str], float]


def _deliveries() -> Iterator[Sample]:
    names = dict(Platform.objects.values_list("id", "name"))
    live = set(Platform.objects.receiving().values_list("id", flat=True))
    counts = {(platform_id, state): n for platform_id, state, n in
              Delivery.objects.real().filter(state__in=OPEN_STATES).order_by().values_list("platform_id", "state")
              .annotate(n=Count("id")).values_list("platform_id", "state", "n")}
    # Every live platform appears, at 0 when it has nothing open: graphs and alerts see no gaps.
    for platform_id in sorted(live | {p for p, _ in counts}):
        for state in OPEN_STATES:
            yield ("portal_deliveries", {"platform": names.get(platform_id, str(platform_id)), "state": state.value},
                   counts.get((platform_id, state.value), 0))
    yield ("portal_deliveries_dead", {},
           sum(n for (_, state), n in counts.items() if state == DeliveryState.DEAD))
    oldest = Delivery.objects.real().filter(state=DeliveryState.PENDING).aggregate(oldest=Min("created_at"))["oldest"]
    yield ("portal_delivery_oldest_pending_age_seconds", {},
           max(0.0, (timezone.now() - oldest).total_seconds()) if oldest else 0.0)


def _batches_and_tasks() -> Iterator[Sample]:
    incomplete = (BatchChunk.objects.filter(deliveries_done__lt=F("deliveries_total"))
                  .order_by().values("batch_id").distinct().count())
    yield ("portal_batches_incomplete", {}, incomplete)
    open_tasks = UnbindTask.objects.filter(result="").count()
    unassigned = UnbindTask.objects.filter(delivery__isnull=True, result="").count()
    yield ("portal_unbind_tasks_waiting", {"stage": "coalescing"}, unassigned)
    yield ("portal_unbind_tasks_waiting", {"stage": "answer"}, open_tasks - unassigned)


def _queues() -> Iterator[Sample]:
    names = [queue.name for queue in settings.CELERY_TASK_QUEUES]
    depths = dict.fromkeys(names, -1)
    try:
        with celery_app.connection_for_read(
            url=settings.CELERY_BROKER_URL, connect_timeout=QUEUE_TIMEOUT_SECONDS,
            transport_options={"socket_connect_timeout": QUEUE_TIMEOUT_SECONDS,
                               "socket_timeout": QUEUE_TIMEOUT_SECONDS},
        ) as conn:
            channel = conn.default_channel
            for name in names:
                # kombu-stubs' StdChannel omits queue_declare, which every transport's channel has.
                depths[name] = channel.queue_declare(queue=name, passive=True).message_count  # type: ignore[attr-defined]
    except Exception as exc:  # noqa: BLE001  (an unreachable broker shows as -1, and readiness says why)
        log.warning("metrics: queue depth unavailable: %s: %s", exc.__class__.__name__, exc)
    for name, depth in depths.items():
        yield ("portal_queue_depth", {"queue": name}, depth)


def _heartbeats() -> Iterator[Sample]:
    tasks = periodic_tasks()
    state = freshness(tasks=set(tasks))
    for task in sorted(tasks):
        since_sent, since_ran = state.ages.get(task, (None, None))
        yield ("portal_periodic_task_age_seconds", {"task": task, "heartbeat": "sent"},
               -1 if since_sent is None else since_sent)
        yield ("portal_periodic_task_age_seconds", {"task": task, "heartbeat": "ran"},
               -1 if since_ran is None else since_ran)
    yield ("portal_beat_fresh", {}, 1 if state.beat else 0)
    yield ("portal_workers_fresh", {}, 1 if state.workers else 0)


def gauge_samples() -> list[Sample]:
    """Return every gauge's samples, from the shared cache when a scrape computed them within an interval."""
    samples: list[Sample] | None = cache.get(CACHE_KEY)
    if samples is None:
        samples = [*_deliveries(), *_batches_and_tasks(), *_queues(), *_heartbeats()]
        cache.set(CACHE_KEY, samples, timeout=settings.METRICS_CACHE_SECONDS)
    return samples


class GaugeCollector:
    """The gauges of state, as Prometheus metric families."""

    def collect(self) -> Iterator[Metric]:
        families = {name: GaugeMetricFamily(name, help_text, labels=labels)
                    for name, (help_text, labels) in GAUGES.items()}
        for name, labels, value in gauge_samples():
            families[name].add_metric([labels[label] for label in GAUGES[name][1]], value)
        yield from families.values()


class EventCollector:
    """The counters and histograms: this process's own, or every process's under METRICS_ROOT."""

    def collect(self) -> Iterator[Metric]:
        root = settings.METRICS_ROOT
        if not root:
            for metric in REGISTRY.collect():
                if metric.name.startswith("portal_"):
                    yield metric
            return
        # Each process kind writes into its own folder (cleared when that kind starts); add them all up.
        files = glob.glob(os.path.join(root, "*.db")) + glob.glob(os.path.join(root, "*", "*.db"))
        yield from MultiProcessCollector.merge(files, accumulate=True)


def _allowed(address: str) -> bool:
    try:
        ip = ipaddress.ip_address(address)
    except ValueError:
        return False
    return any(ip in ipaddress.ip_network(net, strict=False) for net in settings.METRICS_ALLOWED_ADDRESSES)


@require_GET
def metrics_view(request: HttpRequest) -> HttpResponse:
    """The Prometheus text exposition; 403 for any address not in METRICS_ALLOWED_ADDRESSES."""
    address = client_address(request)
    if not _allowed(address):
        log.warning("metrics refused", extra={"event": "metrics_refused", "address": address})
        return HttpResponse("Forbidden\n", status=403, content_type="text/plain")
    registry = CollectorRegistry(auto_describe=False)
    registry.register(GaugeCollector())
    registry.register(EventCollector())
    return HttpResponse(generate_latest(registry), content_type=CONTENT_TYPE_LATEST)


class ApiRequestsMiddleware:
    """Count the platform API's answers by status (portal_api_requests_total)."""

    def __init__(self, get_response: Any) -> None:
        self.get_response = get_response

    def __call__(self, request: HttpRequest) -> HttpResponse:
        response: HttpResponse = self.get_response(request)
        if request.path_info.startswith("/api/") and not request.path_info.startswith("/api/v1/health"):
            event_metrics.API_REQUESTS.labels(status=str(response.status_code)).inc()
        return response

