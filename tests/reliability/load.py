"""Subscribers under load, shared by tests/reliability/test_load.py and bench/load_bench.py: verified sessions, a
headless locust run of tests/reliability/locustfile.py, and what beat does each second for unbind requests."""

import csv
import json
import os
import subprocess
import sys
import threading
import time
from pathlib import Path

from django.contrib.sessions.backends.db import SessionStore

from renewal.deliveries.tasks import deliveries_due_task, unbind_coalesce_task

LOCUSTFILE = Path(__file__).resolve().parent / "locustfile.py"


def verified_sessions(periods) -> list[str]:
    """A signed-in subscriber's session per holder period, as the code page leaves it."""
    keys = []
    for period in periods:
        session = SessionStore()
        session["renew_subscriber"] = {"msisdn": period.number.msisdn, "period": period.pk, "seen": time.time()}
        session.create()
        keys.append(session.session_key)
    return keys


def run_locust(*, host: str, sessions: list[str], users: int, seconds: int, out: Path) -> dict:
    """locust headless against `host`; return the aggregated row of its statistics (and its exit status)."""
    (out / "sessions.json").write_text(json.dumps(sessions))
    env = {**os.environ, "LOAD_SESSIONS": str(out / "sessions.json"), "LOAD_TIMEOUT": "10"}
    done = subprocess.run(
        [str(Path(sys.executable).parent / "locust"), "-f", str(LOCUSTFILE),
         "--headless", "-u", str(users), "-r", str(users), "-t", f"{seconds}s", "--host", host,
         "--csv", str(out / "load"), "--only-summary", "--stop-timeout", "5", "--loglevel", "WARNING"],
        env=env, capture_output=True, text=True, timeout=seconds + 120)
    rows = list(csv.DictReader((out / "load_stats.csv").open()))
    total = next(r for r in rows if r["Name"] == "Aggregated")
    failures = (out / "load_failures.csv").read_text()
    return {"requests": int(total["Request Count"]), "failures": int(total["Failure Count"]),
            "p50_ms": float(total["50%"]), "p99_ms": float(total["99%"]), "rps": float(total["Requests/s"]),
            "failures_csv": failures, "exit": done.returncode, "output": done.stdout[-3000:] + done.stderr[-3000:]}


class Beat(threading.Thread):
    """What beat does, each second: the coalescer and the due sweep."""

    def __init__(self) -> None:
        super().__init__(daemon=True)
        self.stopping = threading.Event()

    def run(self) -> None:
        while not self.stopping.wait(1):
            unbind_coalesce_task.delay()
            deliveries_due_task.delay()
