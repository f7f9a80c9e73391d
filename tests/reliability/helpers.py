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


RABBITMQ_BIN = "/usr/lib/rabbitmq/bin"  # the scripts themselves: /usr/sbin's wrappers switch to the rabbitmq user


class ThrowawayRabbitMQ:
    """A RabbitMQ node of the test's own: its own name, port, data folder and Erlang cookie (never the shared node).

    `start()` and `stop()` may be called again: a restart keeps the data folder, so durable queues and persistent
    messages survive it as they would on a real broker.
    """

    def __init__(self, folder) -> None:
        assert os.path.exists(f"{RABBITMQ_BIN}/rabbitmq-server"), "RabbitMQ is not installed (.ci/services.sh)"
        self.folder = folder
        folder.mkdir(parents=True, exist_ok=True)
        self.port = free_port()
        self.node = f"throwaway{self.port}@localhost"
        self.url = f"amqp://guest:guest@127.0.0.1:{self.port}//"  # guest may sign in over loopback
        (folder / "rabbitmq.conf").write_text(f"listeners.tcp.local = 127.0.0.1:{self.port}\n")
        (folder / "enabled_plugins").write_text("[].\n")
        (folder / "rabbitmq-env.conf").write_text("")  # not /etc/rabbitmq's, which names the shared node
        self.env = {**os.environ, "HOME": str(folder), "RABBITMQ_NODENAME": self.node,
                    "RABBITMQ_NODE_PORT": str(self.port), "RABBITMQ_DIST_PORT": str(free_port()),
                    "RABBITMQ_CONF_ENV_FILE": str(folder / "rabbitmq-env.conf"),
                    "RABBITMQ_CONFIG_FILE": str(folder / "rabbitmq.conf"),
                    "RABBITMQ_ENABLED_PLUGINS_FILE": str(folder / "enabled_plugins"),
                    "RABBITMQ_MNESIA_BASE": str(folder / "data"), "RABBITMQ_LOG_BASE": str(folder / "log"),
                    "RABBITMQ_PID_FILE": str(folder / "node.pid"), "ERL_EPMD_ADDRESS": "127.0.0.1",
                    "RABBITMQ_SERVER_ADDITIONAL_ERL_ARGS": "-kernel inet_dist_use_interface {127,0,0,1}"}
        self.process: subprocess.Popen | None = None

    def ctl(self, *args: str, timeout: float = 60) -> str:
        done = subprocess.run([f"{RABBITMQ_BIN}/rabbitmqctl", "-n", self.node, *args], env=self.env,
                              capture_output=True, text=True, timeout=timeout)
        assert done.returncode == 0, f"rabbitmqctl {' '.join(args)}: {done.stdout}{done.stderr}"
        return done.stdout

    def start(self, timeout: float = 90) -> None:
        log = (self.folder / "server.log").open("a")
        self.process = subprocess.Popen([f"{RABBITMQ_BIN}/rabbitmq-server"], env=self.env, stdout=log,
                                        stderr=subprocess.STDOUT, start_new_session=True)
        self.process.log = log
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            assert self.process.poll() is None, (self.folder / "server.log").read_text()[-3000:]
            with contextlib.suppress(OSError), socket.create_connection(("127.0.0.1", self.port), timeout=0.5):
                return
            time.sleep(0.2)
        raise AssertionError(f"the throwaway RabbitMQ did not start:\n{(self.folder / 'server.log').read_text()}")

    def stop(self) -> None:
        """Stop the node as an operator does (rabbitmqctl stop), then make sure its processes are gone."""
        if self.process is None:
            return
        with contextlib.suppress(AssertionError, subprocess.TimeoutExpired):
            self.ctl("stop", timeout=60)
        stop(self.process)
        self.process = None

    def messages(self) -> dict[str, int]:
        """Messages in each queue, ready and unacknowledged together."""
        rows = self.ctl("list_queues", "name", "messages", "--no-table-headers", "--quiet").split("\n")
        return {name: int(count) for name, count in (r.split() for r in rows if r.strip())}


def stop(process: subprocess.Popen) -> None:
    """End a process started in its own session (and its children), gently first."""
    with contextlib.suppress(ProcessLookupError):
        os.killpg(process.pid, 15)
    try:
        process.wait(30)
    except subprocess.TimeoutExpired:
        os.killpg(process.pid, 9)
        process.wait(10)
    if getattr(process, "log", None):
        process.log.close()


def start_gunicorn(*, database_url: str, log_path, **env_overrides: str) -> tuple[subprocess.Popen, str]:
    """gunicorn with deploy/gunicorn.conf.py and DEBUG off (production settings) on 127.0.0.1: (process, URL).

    Requests must say X-Forwarded-Proto: https, as nginx does, or production redirects them (unless
    SECURE_SSL_REDIRECT=false is given).
    """
    import sys
    from pathlib import Path

    from django.conf import settings

    from tests.conftest import ROOT

    port = free_port()
    env = {**os.environ, "DJANGO_SETTINGS_MODULE": "portal.settings",  # as the deploy files set it
           "DATABASE_URL": database_url, "DEBUG": "false", "SECRET_KEY": settings.SECRET_KEY,
           "RENEWAL_SECRETS_KEYS": ",".join(settings.RENEWAL_SECRETS_KEYS), "ALLOWED_HOSTS": "127.0.0.1",
           "CELERY_BROKER_URL": settings.CELERY_BROKER_URL, "GUNICORN_BIND": f"127.0.0.1:{port}",
           "SMS_BACKEND": "renewal.active.sms.DatabaseBackend", "WEB_CONCURRENCY": "1", "GUNICORN_THREADS": "4",
           "PORTAL_VAR_DIR": str(Path(log_path).parent / "var"),
           "CACHE_URL": os.environ.get("CACHE_URL", "redis://127.0.0.1:6379/1"), **env_overrides}
    env["PORTAL_VAR_DIR"] = collected_static(env)
    log = open(log_path, "w")  # noqa: SIM115 (closed with the process by stop())
    process = subprocess.Popen([str(Path(sys.executable).parent / "gunicorn"), "-c", "deploy/gunicorn.conf.py",
                                "portal.wsgi"], cwd=ROOT, env=env, stdout=log, stderr=subprocess.STDOUT,
                               start_new_session=True)
    process.log = log
    return process, f"http://127.0.0.1:{port}"


_COLLECTED: dict[str, str] = {}
_COLLECT = (
    "import django; from django.conf import settings; django.setup(); "
    "settings.STORAGES = {**settings.STORAGES, 'staticfiles': "
    "{'BACKEND': 'django.contrib.staticfiles.storage.ManifestStaticFilesStorage'}}; "
    "from django.core.management import call_command; call_command('collectstatic', interactive=False, verbosity=0)"
)


def collected_static(env: dict) -> str:
    """A var folder whose static/ holds the collected files and their manifest, made once per test run.

    Production serves hashed names from the manifest (whitenoise's CompressedManifestStaticFilesStorage); its
    compression takes minutes on these machines, so the files are collected by the manifest storage alone, whose
    manifest whitenoise reads the same (it then serves the files uncompressed).
    """
    import sys
    import tempfile

    from tests.conftest import ROOT

    if "var" not in _COLLECTED:
        folder = tempfile.mkdtemp(prefix="portal-static-")
        subprocess.run([sys.executable, "-c", _COLLECT], cwd=ROOT, env={**env, "PORTAL_VAR_DIR": folder},
                       check=True, timeout=300)
        _COLLECTED["var"] = folder
    return _COLLECTED["var"]


def wait_until_serving(url: str, log_path, *, headers: dict | None = None, timeout: float = 60):
    """The first answer of a starting server (any status), or fail with its log."""
    import pytest
    import requests

    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        with contextlib.suppress(requests.ConnectionError):
            return requests.get(url, headers=headers or {}, timeout=10, allow_redirects=False)
        time.sleep(0.2)
    pytest.fail(f"the server did not answer:\n{open(log_path).read()[-3000:]}")


def use_broker(url: str) -> None:
    """Point this process's Celery app at `url` (kombu keeps a pool per URL: the old one is left as it was)."""
    from portal.celery import app

    app.conf.broker_write_url = app.conf.broker_read_url = url  # broker_url is read once, at configuration
    app._pool = None
    app.amqp._producer_pool = None
    app.__dict__.pop("control", None)  # its mailbox keeps the producer pool it first used


def wait_for(predicate: Callable[[], Any], timeout: float, beat: Callable[[], Any] | None = None) -> bool:
    """Poll `predicate` until it holds or `timeout` passes; call `beat` about once a second meanwhile."""
    deadline, last = time.monotonic() + timeout, 0.0
    while time.monotonic() < deadline:
        if predicate():
            return True
        if beat and time.monotonic() - last >= 1:
            beat()
            last = time.monotonic()
        time.sleep(0.1)
    return bool(predicate())
