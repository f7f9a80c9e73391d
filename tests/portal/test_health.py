"""Health: liveness needs nothing; readiness checks the database, the broker, the cache, and that beat and the
workers are fresh, and tells anyone only codes (the reasons go to the log)."""

import logging
import socket
import time

import pytest

from numbers.heartbeats import heartbeat_ran, heartbeat_sent
from portal import views
from portal.celery import periodic_tasks

BROKEN_BROKER = "redis://portal:hunter2@127.0.0.1:1/0"  # nothing listens on port 1
BROKEN_CACHE = {"default": {"BACKEND": "django.core.cache.backends.redis.RedisCache",
                            "LOCATION": "redis://:hunter2@127.0.0.1:1/1"}}
# What the exceptions say (host, port, the error) and the password: never in an answer.
SECRETS = ["127.0.0.1", "hunter2", "refused", "Error"]


@pytest.fixture
def ready(transactional_db):
    """The checks run in their own threads, on their own connections: no test transaction may hold a lock.
    Beat has just sent every periodic task and a worker has just finished each."""
    for task, interval in periodic_tasks().items():
        heartbeat_sent(task=task, interval_seconds=interval)
        heartbeat_ran(task=task)


FRESH = {"beat": "ok", "workers": "ok"}


def _health_logs(caplog) -> str:
    return "\n".join(r.getMessage() for r in caplog.records if r.name == "portal.health" and r.levelname == "WARNING")


def test_live_asks_no_dependency(client, db, settings, django_assert_num_queries):
    settings.CELERY_BROKER_URL = BROKEN_BROKER
    settings.CACHES = BROKEN_CACHE
    with django_assert_num_queries(0):
        response = client.get("/api/v1/health/live")
    assert response.status_code == 200 and response.json() == {"status": "ok"}


def test_live_answers_with_the_database_out_of_reach(client):
    # Without the db fixture pytest-django refuses every database access: as if the database were down.
    response = client.get("/api/v1/health/live")
    assert response.status_code == 200 and response.json() == {"status": "ok"}


def test_ready_when_database_broker_and_cache_answer(client, ready):
    response = client.get("/api/v1/health/ready")
    assert response.status_code == 200, response.content
    assert response.json() == {"status": "ok", "checks": {"database": "ok", "broker": "ok", "cache": "ok", **FRESH}}


def test_an_unreachable_broker_is_a_code_in_the_answer_and_a_reason_in_the_log(client, ready, settings, caplog):
    settings.CELERY_BROKER_URL = BROKEN_BROKER
    with caplog.at_level(logging.WARNING, logger="portal.health"):
        response = client.get("/api/v1/health/ready")
    assert response.status_code == 503
    assert response.json() == {"status": "unavailable",
                               "checks": {"database": "ok", "broker": "unreachable", "cache": "ok", **FRESH}}
    assert not [s for s in SECRETS if s in response.content.decode()]
    logged = _health_logs(caplog)
    assert "broker unreachable: OperationalError" in logged and "127.0.0.1:1" in logged
    assert "hunter2" not in logged


def test_an_unreachable_cache_is_a_code_in_the_answer_and_a_reason_in_the_log(client, ready, settings, caplog):
    settings.CACHES = BROKEN_CACHE
    with caplog.at_level(logging.WARNING, logger="portal.health"):
        response = client.get("/api/v1/health/ready")
    assert response.status_code == 503
    assert response.json() == {"status": "unavailable",
                               "checks": {"database": "ok", "broker": "ok", "cache": "unreachable", **FRESH}}
    assert not [s for s in SECRETS if s in response.content.decode()]
    logged = _health_logs(caplog)
    assert "cache unreachable: ConnectionError" in logged and "127.0.0.1:1" in logged


@pytest.fixture
def silent_server():
    """A TCP port that accepts connections and never answers: a dependency that hangs."""
    server = socket.create_server(("127.0.0.1", 0), backlog=16)
    yield server.getsockname()[1]
    server.close()


def test_a_hanging_dependency_is_a_timeout_within_the_deadline(client, ready, settings, caplog, monkeypatch,
                                                                silent_server):
    monkeypatch.setattr(views, "CHECK_TIMEOUT_SECONDS", 0.5)
    settings.CACHES = {"default": {"BACKEND": "django.core.cache.backends.redis.RedisCache",
                                   "LOCATION": f"redis://127.0.0.1:{silent_server}/0"}}
    started = time.monotonic()
    with caplog.at_level(logging.WARNING, logger="portal.health"):
        response = client.get("/api/v1/health/ready")
    assert time.monotonic() - started < 2.5
    assert response.status_code == 503
    assert response.json()["checks"] == {"database": "ok", "broker": "ok", "cache": "timeout", **FRESH}
    assert "cache did not answer within 0.5 s" in _health_logs(caplog)


@pytest.mark.parametrize("broken", [False, True])
def test_the_old_path_is_readiness(client, ready, settings, broken):
    if broken:
        settings.CELERY_BROKER_URL = BROKEN_BROKER
    old, new = client.get("/api/v1/health"), client.get("/api/v1/health/ready")
    assert (old.status_code, old.json()) == (new.status_code, new.json())
    assert old.status_code == (503 if broken else 200)


@pytest.mark.parametrize("path", ["/api/v1/health/live", "/api/v1/health/ready", "/api/v1/health"])
def test_health_answers_get_only(client, path):
    response = client.post(path)
    assert response.status_code == 405 and response.json()["error"]["code"] == "method_not_allowed"
