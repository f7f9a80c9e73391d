"""Beat clears expired sessions every hour (a subscriber's code request makes one)."""

from datetime import timedelta

from django.contrib.sessions.backends.db import SessionStore
from django.contrib.sessions.models import Session
from django.utils import timezone

from numbers.tasks import sessions_clear_task
from portal.celery import periodic_tasks


def _session(expires_in):
    store = SessionStore()
    store["pending"] = "+8613800138000"
    store.set_expiry(expires_in)
    store.create()
    return store.session_key


def test_expired_sessions_are_cleared_and_live_ones_kept(db):
    live, expired = _session(600), _session(600)
    Session.objects.filter(session_key=expired).update(expire_date=timezone.now() - timedelta(seconds=1))
    sessions_clear_task.delay()
    assert list(Session.objects.values_list("session_key", flat=True)) == [live]


def test_beat_runs_it_hourly():
    assert periodic_tasks()["numbers.tasks.sessions_clear_task"] == 3600
