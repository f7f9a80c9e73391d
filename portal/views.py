"""The landing page and the health checks.

`GET /api/v1/health/live` needs nothing (the process answers); `GET /api/v1/health/ready` checks the
database, the broker, the default cache, and that beat and the workers are not stale (their heartbeats,
numbers.heartbeats) (`GET /api/v1/health` is its alias). Anyone may call them, so they answer with codes
only; what failed and why goes to the log (logger `portal.health`).
"""

import logging
import threading
import time
import uuid

from django.conf import settings
from django.core.cache import cache
from django.db import connection, connections
from django.http import JsonResponse
from django.shortcuts import render
from django.views.decorators.http import require_GET

from numbers.heartbeats import freshness
from portal.celery import app as celery_app
from portal.celery import periodic_tasks

log = logging.getLogger("portal.health")

# The checks run side by side, each in its own thread: readiness answers within this many seconds even when
# a dependency hangs (a database or Redis that accepts connections and never answers).
CHECK_TIMEOUT_SECONDS = 3.0


@require_GET
def home(request):
    return render(request, "home.html")


def _check_database() -> None:
    with connection.cursor() as cursor:
        cursor.execute("SELECT 1")


def _check_broker() -> None:
    timeout = CHECK_TIMEOUT_SECONDS
    with celery_app.connection_for_write(
        url=settings.CELERY_BROKER_URL, connect_timeout=timeout,
        transport_options={"socket_connect_timeout": timeout, "socket_timeout": timeout},
    ) as conn:
        # kombu-stubs say int, but kombu only compares the timeout with elapsed seconds: a fraction works.
        conn.ensure_connection(max_retries=0, timeout=timeout)  # type: ignore[arg-type]


def _check_cache() -> None:
    key, value = f"health:{uuid.uuid4().hex}", uuid.uuid4().hex
    cache.set(key, value, timeout=60)
    kept = cache.get(key)
    cache.delete(key)
    if kept != value:
        raise LookupError("the cache did not return the value just stored")


class Stale(Exception):
    """A periodic task's heartbeat is older than five of its intervals."""


def _check_beat() -> None:
    state = freshness(tasks=set(periodic_tasks()))
    if not state.beat:
        raise Stale(f"beat sent no periodic task within its limit; seconds since (sent, ran): {state.ages}")


def _check_workers() -> None:
    state = freshness(tasks=set(periodic_tasks()))
    if not state.workers:
        raise Stale(f"no worker finished a periodic task within its limit; seconds since (sent, ran): {state.ages}")


CHECKS = {"database": _check_database, "broker": _check_broker, "cache": _check_cache, "beat": _check_beat,
          "workers": _check_workers}


def _run(name: str, check, results: dict) -> None:
    try:
        check()
        results[name] = "ok"
    except Stale as exc:
        log.warning("health: %s stale: %s", name, exc)
        results[name] = "stale"
    except Exception as exc:  # noqa: BLE001  (any failure means not ready; the log says which and why)
        log.warning("health: %s unreachable: %s: %s", name, exc.__class__.__name__, exc)
        results[name] = "unreachable"
    finally:
        connections.close_all()  # this thread's own database connections


def readiness() -> dict[str, str]:
    """Return {check: "ok" | "unreachable" | "timeout" | "stale"} for the database, the broker, the cache, beat
    and the workers."""
    results: dict[str, str] = {}
    threads = [threading.Thread(target=_run, args=(name, check, results), name=f"health-{name}", daemon=True)
               for name, check in CHECKS.items()]
    deadline = time.monotonic() + CHECK_TIMEOUT_SECONDS
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(max(0.0, deadline - time.monotonic()))
    done = dict(results)  # a check still running may finish now: it is too late to count
    for name in CHECKS.keys() - done.keys():
        log.warning("health: %s did not answer within %s s", name, CHECK_TIMEOUT_SECONDS)
    return {name: done.get(name, "timeout") for name in CHECKS}


@require_GET
def health_live(request):
    """The process is up and serving; no dependency is asked (a database outage must not restart it)."""
    return JsonResponse({"status": "ok"})


@require_GET
def health_ready(request):
    """200 when the database, the broker and the cache all answer and beat and the workers are fresh, 503
    otherwise; codes only."""
    checks = readiness()
    ready = all(code == "ok" for code in checks.values())
    return JsonResponse({"status": "ok" if ready else "unavailable", "checks": checks},
                        status=200 if ready else 503)
