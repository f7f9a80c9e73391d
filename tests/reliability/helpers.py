"""Faults struck mid-flight: a session's connection cut while its transaction is open, throwaway services."""

import contextlib
import os
import shutil
import socket
import subprocess
import threading
import time
from collections.abc import Callable
from typing import Any

import psycopg
from django.db import connection, connections


def dsn() -> str:
    """The test database, as libpq names it (for connections of the test's own, outside Django)."""
    db = connection.settings_dict
    return (f"host={db['HOST'] or '127.0.0.1'} port={db['PORT'] or 5432} user={db['USER']} dbname={db['NAME']} "
            "connect_timeout=5")


def free_port() -> int:
    """A port no one listens on now (the kernel's choice; for throwaway servers)."""
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


class TableBlocker:
    """Hold `LOCK TABLE … IN EXCLUSIVE MODE` from a connection of our own: reads pass, the first write waits.

    A service that has already written in its transaction and then writes to this table waits with its
    transaction open: that is the moment the fault strikes.
    """

    def __init__(self, table: str):
        self.table = table
        self.conn = psycopg.connect(dsn())
        self.locked = threading.Event()

    def lock(self) -> None:
        self.conn.execute(f"LOCK TABLE {self.table} IN EXCLUSIVE MODE")
        self.locked.set()

    def close(self) -> None:
        self.conn.rollback()
        self.conn.close()


class Struck:
    """What the service said when its connection was cut, and what its session looked like just before."""

    def __init__(self) -> None:
        self.pid: int | None = None
        self.error: BaseException | None = None
        self.result: Any = None
        self.session: tuple | None = None  # (state, wait_event_type, query) of the cut session


def terminate_mid_transaction(call: Callable[[], Any], *, blocker: TableBlocker, timeout: float = 30) -> Struck:
    """Run `call` in a thread of its own; once its transaction has written and waits on `blocker`'s table, end
    its session with pg_terminate_backend. Return what happened (its error, the session seen).

    Fails unless the fault struck mid-flight: a session waiting on a lock inside a transaction that holds a
    transaction id (it has written something).
    """
    struck = Struck()
    started = threading.Event()

    def run() -> None:
        try:
            with connection.cursor() as cursor:
                cursor.execute("SELECT pg_backend_pid()")
                struck.pid = cursor.fetchone()[0]
            started.set()
            struck.result = call()
        except BaseException as exc:  # the cut connection's error, reported to the test
            struck.error = exc
        finally:
            started.set()
            with contextlib.suppress(Exception):
                connections.close_all()

    thread = threading.Thread(target=run, daemon=True)
    thread.start()
    started.wait(timeout)
    monitor = psycopg.connect(dsn(), autocommit=True)
    try:
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline and thread.is_alive():
            row = monitor.execute(
                "SELECT state, wait_event_type, query FROM pg_stat_activity WHERE pid = %s "
                "AND wait_event_type = 'Lock' AND backend_xid IS NOT NULL", [struck.pid]).fetchone()
            if row:
                struck.session = row
                monitor.execute("SELECT pg_terminate_backend(%s)", [struck.pid])
                break
            time.sleep(0.05)
    finally:
        monitor.close()
        blocker.close()
        thread.join(timeout)
    assert struck.session is not None, f"the fault never struck mid-transaction (result {struck.result!r}, " \
                                       f"error {struck.error!r})"
    assert not thread.is_alive(), "the service hung after its connection was cut"
    return struck


def start_redis(tmp_path) -> tuple[subprocess.Popen, str]:
    """A throwaway redis-server on a free port (never the shared one): (process, URL)."""
    binary = shutil.which("redis-server")
    assert binary, "redis-server is not installed"
    port = free_port()
    process = subprocess.Popen([binary, "--bind", "127.0.0.1", "--port", str(port), "--save", "", "--appendonly",
                                "no", "--dir", str(tmp_path)], stdout=subprocess.DEVNULL, stderr=subprocess.STDOUT,
                               start_new_session=True)
    deadline = time.monotonic() + 20
    while time.monotonic() < deadline:
        with contextlib.suppress(OSError), socket.create_connection(("127.0.0.1", port), timeout=0.5):
            return process, f"redis://127.0.0.1:{port}/0"
        time.sleep(0.1)
    process.kill()
    raise AssertionError("the throwaway redis-server did not start")


def stop(process: subprocess.Popen) -> None:
    with contextlib.suppress(ProcessLookupError):
        os.killpg(process.pid, 15)
    try:
        process.wait(10)
    except subprocess.TimeoutExpired:
        os.killpg(process.pid, 9)
        process.wait(10)
