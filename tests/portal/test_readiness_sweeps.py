"""Readiness fails when beat or the workers are stale: a periodic task's heartbeat older than five intervals."""

import contextlib
import os
import signal
import subprocess
import sys
import time
from datetime import timedelta
from pathlib import Path

import pytest
from django.test import Client
from django.utils import timezone

from numbers.heartbeats import freshness, heartbeat_ran, heartbeat_sent
from tests.conftest import ROOT

TASKS = {"renewal.tasks.batch_sweep_task", "renewal.unbind.unbind_coalesce_task"}


def _ago(seconds):
    return timezone.now() - timedelta(seconds=seconds)


@pytest.fixture(autouse=True)
def _floor(settings):
    settings.SWEEP_STALE_FLOOR_SECONDS = 0


def _beat(task, interval, *, sent, ran):
    heartbeat_sent(task=task, interval_seconds=interval, at=_ago(sent))
    if ran is not None:
        heartbeat_ran(task=task, at=_ago(ran))


def test_fresh_heartbeats_are_ready(db):
    _beat("renewal.tasks.batch_sweep_task", 30, sent=100, ran=90)
    _beat("renewal.unbind.unbind_coalesce_task", 3, sent=2, ran=1)
    state = freshness(tasks=TASKS)
    assert state.beat and state.workers


def test_a_task_not_sent_for_five_intervals_means_beat_is_stale(db):
    _beat("renewal.tasks.batch_sweep_task", 30, sent=151, ran=150)
    _beat("renewal.unbind.unbind_coalesce_task", 3, sent=2, ran=1)
    state = freshness(tasks=TASKS)
    assert not state.beat and state.workers is False  # not finished within 150 s either


def test_a_task_sent_but_not_finished_for_five_intervals_means_the_workers_are_stale(db):
    _beat("renewal.tasks.batch_sweep_task", 30, sent=10, ran=200)
    _beat("renewal.unbind.unbind_coalesce_task", 3, sent=2, ran=1)
    state = freshness(tasks=TASKS)
    assert state.beat and not state.workers


def test_a_task_just_sent_and_not_yet_run_is_not_stale(db):
    _beat("renewal.tasks.batch_sweep_task", 30, sent=5, ran=None)
    assert freshness(tasks=TASKS).workers
    _beat("renewal.tasks.batch_sweep_task", 30, sent=200, ran=None)
    assert not freshness(tasks=TASKS).workers


def test_no_heartbeat_at_all_is_stale(db):
    state = freshness(tasks=TASKS)
    assert not state.beat and not state.workers


def test_a_task_no_longer_scheduled_is_not_judged(db):
    _beat("renewal.tasks.batch_sweep_task", 30, sent=1, ran=1)
    _beat("renewal.tasks.a_task_renamed_long_ago", 30, sent=10**6, ran=10**6)
    assert freshness(tasks=TASKS).beat


def test_the_floor_keeps_a_busy_worker_from_looking_dead(db, settings):
    settings.SWEEP_STALE_FLOOR_SECONDS = 60
    _beat("renewal.unbind.unbind_coalesce_task", 3, sent=2, ran=40)  # 13 intervals, within the floor
    assert freshness(tasks=TASKS).workers


def test_readiness_answers_stale_codes(client, transactional_db):
    from portal.celery import periodic_tasks

    for task, interval in periodic_tasks().items():
        _beat(task, interval, sent=interval * 6, ran=interval * 6)
    response = client.get("/api/v1/health/ready")
    assert response.status_code == 503
    assert response.json()["checks"] == {"database": "ok", "broker": "ok", "cache": "ok", "beat": "stale",
                                         "workers": "stale"}


def _stop(process):
    for sig, wait in ((signal.SIGTERM, 20), (signal.SIGKILL, 10)):
        with contextlib.suppress(ProcessLookupError):
            os.killpg(process.pid, sig)
        try:
            process.wait(timeout=wait)
            return
        except subprocess.TimeoutExpired:
            continue


def _wait_for(client, predicate, seconds, what):
    deadline = time.monotonic() + seconds
    while True:
        response = client.get("/api/v1/health/ready")
        if predicate(response):
            return response
        assert time.monotonic() < deadline, f"{what}: {response.status_code} {response.content!r}"
        time.sleep(0.5)


@pytest.mark.services
def test_readiness_fails_when_beat_is_stopped(transactional_db, start_worker, require_redis, tmp_path):
    """A real beat and a real worker: ready while both run; beat stopped, ready fails within five intervals."""
    from django.db import connection

    intervals = {"SWEEP_INTERVAL_SECONDS": "1", "UNBIND_COALESCE_SECONDS": "1"}
    start_worker(**intervals)
    db = connection.settings_dict
    env = {**os.environ, "DEBUG": "true", "CELERY_BROKER_URL": require_redis, "PORTAL_VAR_DIR": str(tmp_path / "beat"),
           "DATABASE_URL": f"postgres://{db['USER']}@{db['HOST'] or '127.0.0.1'}:{db['PORT'] or 5432}/{db['NAME']}",
           **intervals}
    env.pop("DJANGO_SETTINGS_MODULE", None)
    log_path = tmp_path / "beat.log"
    with log_path.open("w") as log:
        beat = subprocess.Popen([str(Path(sys.executable).parent / "celery"), "-A", "portal", "beat"], cwd=ROOT,
                                env=env, stdout=log, stderr=subprocess.STDOUT, start_new_session=True)
    client = Client()
    try:
        ready = _wait_for(client, lambda r: r.status_code == 200, 60, "never ready with beat and a worker running")
        assert ready.json()["checks"]["beat"] == "ok" and ready.json()["checks"]["workers"] == "ok"
    finally:
        _stop(beat)
    stale = _wait_for(client, lambda r: r.status_code == 503, 30, "still ready with beat stopped")
    assert stale.json()["checks"]["beat"] == "stale"
    checks = stale.json()["checks"]
    assert (checks["database"], checks["broker"], checks["cache"]) == ("ok", "ok", "ok")
    assert "Sending due task" in log_path.read_text()
