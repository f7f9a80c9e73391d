"""Heartbeats of the periodic tasks: beat records when it sends each one, a worker when it finishes one.

Readiness fails when either is older than five of the task's intervals (beat or the workers have stopped), and
/metrics shows their ages. Each record is one upsert of a small table, whichever process writes it.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime, timedelta

from django.conf import settings
from django.utils import timezone

from numbers.models import SweepRun

# A task is stale when its last heartbeat is older than this many of its intervals.
STALE_INTERVALS = 5


def heartbeat_sent(*, task: str, interval_seconds: float, at: datetime | None = None) -> None:
    """Record that beat sent `task`, which it sends every `interval_seconds`."""
    SweepRun.objects.bulk_create(
        [SweepRun(task=task, interval_seconds=interval_seconds, sent_at=at or timezone.now())],
        update_conflicts=True, unique_fields=["task"], update_fields=["interval_seconds", "sent_at"])


def heartbeat_ran(*, task: str, at: datetime | None = None) -> None:
    """Record that a worker finished `task` (successfully or not: the worker is alive)."""
    SweepRun.objects.bulk_create([SweepRun(task=task, ran_at=at or timezone.now())],
                                 update_conflicts=True, unique_fields=["task"], update_fields=["ran_at"])


@dataclass(frozen=True)
class Freshness:
    beat: bool  # every task beat sends was sent within its stale limit
    workers: bool  # every task beat sends was finished by a worker within its stale limit
    ages: dict[str, tuple[float | None, float | None]]  # task -> (seconds since sent, since ran)


def stale_after(interval_seconds: float) -> timedelta:
    """How old a heartbeat may be: five intervals, and never less than SWEEP_STALE_FLOOR_SECONDS.

    The floor keeps a worker busy with a long task from looking dead to a task that runs every few seconds.
    """
    return timedelta(seconds=max(STALE_INTERVALS * interval_seconds, settings.SWEEP_STALE_FLOOR_SECONDS))


def freshness(*, tasks: set[str], now: datetime | None = None) -> Freshness:
    """Judge beat and the workers by the heartbeats of `tasks` (the periodic tasks in beat's schedule).

    A task never sent yet (a new schedule entry) is not judged; with no heartbeat at all — beat never ran — both
    are stale. A task sent but not finished yet is judged by when it was sent.
    """
    now = now or timezone.now()
    rows = list(SweepRun.objects.filter(task__in=tasks, sent_at__isnull=False))
    ages: dict[str, tuple[float | None, float | None]] = {}
    beat = workers = bool(rows)
    for row in rows:
        assert row.sent_at is not None
        limit = stale_after(row.interval_seconds)
        since_sent = now - row.sent_at
        since_ran = now - row.ran_at if row.ran_at else None
        ages[row.task] = (since_sent.total_seconds(), since_ran.total_seconds() if since_ran else None)
        beat = beat and since_sent <= limit
        workers = workers and (since_ran if since_ran is not None else since_sent) <= limit
    return Freshness(beat=beat, workers=workers, ages=ages)
