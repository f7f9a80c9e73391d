"""PostgreSQL restarted while the web server (gunicorn, the production configuration) and a worker run — on a
throwaway cluster (initdb into a temporary folder, its own port), never the shared one: requests during the outage
get a clear 503 at once, and both recover without a restart of their own."""

import contextlib
import glob
import os
import shutil
import subprocess
import tempfile
import time
from pathlib import Path

import psycopg
import pytest
import requests

from renewal.deliveries.tasks import batch_sweep_task
from tests.conftest import IN_CI
from tests.reliability.helpers import dsn, free_port, start_gunicorn, stop, wait_until_serving
from tests.renewal.helpers_renewal import make_frozen_numbers, make_key, make_platform


class Cluster:
    """A PostgreSQL cluster of the test's own, run as the `postgres` account when the test runs as root."""

    def __init__(self, folder: Path, port: int, bin_dir: Path):
        self.folder, self.port, self.bin = folder, port, bin_dir

    def _run(self, *args: str) -> None:
        as_postgres = ["runuser", "-u", "postgres", "--"] if os.geteuid() == 0 else []
        subprocess.run([*as_postgres, *args], check=True, capture_output=True, timeout=60)

    def init(self) -> None:
        self._run(str(self.bin / "initdb"), "-D", str(self.folder / "data"), "-U", "postgres", "--auth=trust",
                  "-E", "UTF8", "--no-sync")

    def start(self) -> None:
        options = f"-p {self.port} -k {self.folder} -c listen_addresses=127.0.0.1 -c fsync=off"
        self._run(str(self.bin / "pg_ctl"), "-D", str(self.folder / "data"), "-o", options, "-w", "-l",
                  str(self.folder / "log"), "start")

    def stop(self, mode: str = "fast") -> None:
        self._run(str(self.bin / "pg_ctl"), "-D", str(self.folder / "data"), "-m", mode, "-w", "stop")

    def url(self, db: str = "portal") -> str:
        return f"postgres://postgres@127.0.0.1:{self.port}/{db}"


@pytest.fixture
def throwaway_postgres():
    found = sorted(glob.glob("/usr/lib/postgresql/*/bin/initdb"))
    if not found:
        message = "PostgreSQL's server binaries (initdb) are not installed"
        if IN_CI:
            pytest.fail(message)
        pytest.skip(message)
    folder = Path(tempfile.mkdtemp(prefix="portal-pg-"))
    folder.chmod(0o755)
    if os.geteuid() == 0:
        shutil.chown(folder, "postgres", "postgres")
    cluster = Cluster(folder, free_port(), Path(found[-1]).parent)
    cluster.init()
    cluster.start()
    yield cluster
    with contextlib.suppress(subprocess.CalledProcessError):
        cluster.stop("immediate")
    shutil.rmtree(folder, ignore_errors=True)


def _copy_test_database(cluster: Cluster) -> None:
    """The test database (schema and rows) into the throwaway cluster's `portal`."""
    bin_dir = cluster.bin
    with psycopg.connect(cluster.url("postgres"), autocommit=True) as conn:
        conn.execute("CREATE DATABASE portal")
    dump = subprocess.run([str(bin_dir / "pg_dump"), "--no-owner", "--no-privileges", dsn()], check=True,
                          capture_output=True, timeout=120).stdout
    subprocess.run([str(bin_dir / "psql"), "-q", "-v", "ON_ERROR_STOP=1", cluster.url()], input=dump, check=True,
                   capture_output=True, timeout=120)


@pytest.fixture
def web(throwaway_postgres, tmp_path):
    """gunicorn (deploy/gunicorn.conf.py, DEBUG off) on the throwaway cluster: (URL, process, log path)."""
    log = tmp_path / "gunicorn.log"
    process, url = start_gunicorn(database_url=throwaway_postgres.url(), log_path=log)
    yield url, process, log
    stop(process)


def _batches(cluster: Cluster) -> int:
    with psycopg.connect(cluster.url()) as conn:
        return conn.execute("SELECT COUNT(*) FROM renewal_recyclebatch").fetchone()[0]


@pytest.mark.services
@pytest.mark.django_db(transaction=True)
def test_postgres_restarted_under_the_web_server_and_a_worker(throwaway_postgres, operator, start_worker, web):
    # given a platform with an API key and 20 numbers due for renewal, copied into the throwaway cluster
    platform = make_platform("Restart")
    key = make_key(platform)
    make_frozen_numbers(operator, 20)
    _copy_test_database(throwaway_postgres)
    base, server, log = web
    worker = start_worker(DATABASE_URL=throwaway_postgres.url())
    # As nginx forwards it (deploy/nginx): production redirects plain HTTP to HTTPS.
    headers = {"Authorization": f"Bearer {key}", "Accept-Language": "en", "X-Forwarded-Proto": "https"}
    assert wait_until_serving(f"{base}/api/v1/deliveries", log, headers=headers).status_code == 200
    # when PostgreSQL stops
    throwaway_postgres.stop()
    # then the API and the pages answer 503 with Retry-After, at once, and say why
    for path in ("/api/v1/deliveries", "/api/v1/deliveries?limit=5"):
        started = time.monotonic()
        response = requests.get(f"{base}{path}", headers=headers, timeout=10, allow_redirects=False)
        assert response.status_code == 503, (response.status_code, response.text[:500])
        assert time.monotonic() - started < 8  # a clear answer, not a hang
        assert response.headers["Retry-After"] == "30"
        assert response.json()["error"]["code"] == "service_unavailable"
    assert requests.get(f"{base}/api/v1/health/ready", headers=headers, timeout=10).status_code == 503
    batch_sweep_task.delay()  # the worker meets the outage too
    time.sleep(2)
    assert worker.poll() is None and server.poll() is None
    # and once PostgreSQL is back, both serve again without being restarted
    throwaway_postgres.start()
    deadline = time.monotonic() + 30
    while time.monotonic() < deadline:
        response = requests.get(f"{base}/api/v1/deliveries", headers=headers, timeout=10, allow_redirects=False)
        if response.status_code == 200:
            break
        time.sleep(0.5)
    assert response.status_code == 200, response.text[:500]
    batch_sweep_task.delay()
    deadline = time.monotonic() + 30
    while time.monotonic() < deadline and _batches(throwaway_postgres) == 0:
        time.sleep(0.5)
    assert _batches(throwaway_postgres) == 1
    assert worker.poll() is None and server.poll() is None
    assert "database_unavailable" in log.read_text()
