"""`make run` as a person uses it: start, a second start beside it, a port in use, an SMS code on the console,
Ctrl-C, and start again — with nothing left running and the console kept for a person.

It starts the whole demo (SQLite, the embedded broker, two workers, beat, the simulator, the web server) in a
temporary folder on free ports, as `make run` does (`python -m portal.devrun`). Heavy, so it runs once: in the
PostgreSQL pass (marked `services`, though it needs neither PostgreSQL nor Redis: `make run`'s defaults are embedded).
"""

import os
import re
import signal
import socket
import subprocess
import sys
import threading
import time
from pathlib import Path

import pytest
import requests

pytestmark = pytest.mark.services
ROOT = Path(__file__).resolve().parents[2]


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


class Run:
    """One `make run`: its process (in its own process group, like a terminal's job) and its console."""

    def __init__(self, var: Path, port: int, sim_port: int):
        env = {k: v for k, v in os.environ.items()
               if k not in ("DATABASE_URL", "CELERY_BROKER_URL", "CACHE_URL", "DJANGO_SETTINGS_MODULE", "CI")}
        env.update(PORTAL_VAR_DIR=str(var), DEBUG="true", PORT=str(port), SIMULATOR_PORT=str(sim_port),
                   HOST="127.0.0.1", SWEEP_INTERVAL_SECONDS="5", PYTHONUNBUFFERED="1")
        self.url = f"http://127.0.0.1:{port}"
        self.process = subprocess.Popen([sys.executable, "-m", "portal.devrun"], cwd=ROOT, env=env, text=True,
                                        stdout=subprocess.PIPE, stderr=subprocess.STDOUT, start_new_session=True)
        self.lines: list[str] = []
        threading.Thread(target=self._read, daemon=True).start()

    def _read(self) -> None:
        for line in self.process.stdout:
            self.lines.append(line.rstrip("\n"))

    @property
    def console(self) -> str:
        return "\n".join(self.lines)

    def wait_for(self, pattern: str, timeout: float = 240) -> re.Match:
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            match = re.search(pattern, self.console)
            if match:
                return match
            if self.process.poll() is not None:
                time.sleep(0.5)
                match = re.search(pattern, self.console)
                if match:
                    return match
                pytest.fail(f"make run ended ({self.process.returncode}) before {pattern!r}:\n{self.console}")
            time.sleep(0.2)
        pytest.fail(f"no {pattern!r} within {timeout} s:\n{self.console}")

    def stop(self, sig=signal.SIGINT, *, group: bool = True, timeout: float = 40) -> int:
        if group:
            os.killpg(self.process.pid, sig)  # what Ctrl-C does: the whole foreground job
        else:
            self.process.send_signal(sig)
        return self.process.wait(timeout=timeout)


def _ours(var: Path) -> list[str]:
    """Processes still running with this test's var folder in their environment."""
    mark = f"PORTAL_VAR_DIR={var}".encode()
    left = []
    for proc in Path("/proc").iterdir():
        if proc.name.isdigit():
            try:
                if mark in (proc / "environ").read_bytes().split(b"\0"):
                    left.append((proc / "cmdline").read_bytes().replace(b"\0", b" ").decode()[:120])
            except OSError:
                continue
    return left


def _port_free(port: int) -> bool:
    with socket.socket() as s:
        s.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        try:
            s.bind(("127.0.0.1", port))
            return True
        except OSError:
            return False


def test_make_run_then_ctrl_c_then_make_run_again(tmp_path):
    var, port, sim_port = tmp_path / "var", _free_port(), _free_port()
    # A port in use: refused before anything changes.
    with socket.socket() as squatter:
        squatter.bind(("127.0.0.1", sim_port))
        squatter.listen()
        refused = Run(var, port, sim_port)
        assert refused.process.wait(timeout=60) == 1
        assert f"127.0.0.1:{sim_port} (the platform simulator)" in refused.console
        assert "Nothing was changed" in refused.console
        assert not (var / "db.sqlite3").exists()

    first = Run(var, port, sim_port)
    try:
        first.wait_for(r"Ctrl-C stops everything\.")
        console = first.console
        # The console is for a person: the sign-in table is printed last, and no process's chatter.
        assert "The portal is ready at" in console and "Sign in as" in console
        assert console.rstrip().endswith("Ctrl-C stops everything.")
        # The platform engineer's area and sign-in are in the table.
        assert re.search(r"Platform engineer .*/platform/ .*engineer@", console), console
        for noise in ("[queues]", "Starting development server", "simulate_platforms:", "beat: Starting"):
            assert noise not in console, noise
        for process in ("web", "worker", "interactive", "beat", "simulator", "setup"):
            assert (var / "log" / f"{process}.log").exists(), process
        deadline = time.monotonic() + 90
        while time.monotonic() < deadline and not all(
                "[queues]" in (var / "log" / f"{name}.log").read_text() for name in ("worker", "interactive")):
            time.sleep(0.5)
        # The banners went to the logs; a sign-in code never waits behind batch work: its worker takes only its queue.
        interactive = (var / "log" / "interactive.log").read_text()
        assert ".> interactive " in interactive and ".> celery " not in interactive
        assert ".> celery " in (var / "log" / "worker.log").read_text()
        assert requests.get(first.url + "/", timeout=10).status_code == 200

        # A second make run beside it says so, and changes nothing.
        second = Run(var, _free_port(), _free_port())
        assert second.process.wait(timeout=60) == 1
        assert "already running here" in second.console and f"pid {first.process.pid}" in second.console

        # The subscriber's code appears on the console, whole, on a marked line.
        national = re.search(r"Subscriber \(secondary number\).*number ([\d ]+);", console).group(1)
        session = requests.Session()
        page = session.get(first.url + "/renew/", timeout=10).text
        token = re.search(r'name="csrfmiddlewaretoken" value="([^"]+)"', page).group(1)
        answer = session.post(first.url + "/renew/", data={"csrfmiddlewaretoken": token, "msisdn": national},
                              headers={"Referer": first.url + "/renew/"}, timeout=10)
        assert answer.status_code == 200 and answer.url.endswith("/renew/code")
        sms = first.wait_for(r"▶ SMS to " + re.escape(national) + r" \(\+86\d{11}\): .*?(\d{6})", timeout=60)
        assert sms.group(1)
    finally:
        code = first.stop(signal.SIGINT)
    assert code == 0, first.console
    assert "every process has stopped" in first.console
    assert not _ours(var), _ours(var)
    assert _port_free(port) and _port_free(sim_port)

    # Again: what is done is skipped; SIGTERM to make run alone stops everything too.
    again = Run(var, port, sim_port)
    try:
        again.wait_for(r"Ctrl-C stops everything\.")
        assert "demo data already there" in again.console
    finally:
        code = again.stop(signal.SIGTERM, group=False)
    assert code == 0 and not _ours(var)
