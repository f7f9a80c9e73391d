"""`make run`: the portal with its demo data, workers, beat and the platform simulator, under honcho.

Before anything changes it refuses to start beside another `make run` (a lock held while one runs) and when a
port it needs is taken. Then it migrates and loads the demo data, skipping what is already done, and starts the
processes of the `Procfile` under honcho, which stops them all on one Ctrl-C or SIGTERM (each process in its own
process group, SIGKILL after a few seconds).

The console is for a person: each process's output goes to `var/log/<process>.log`; the console shows where the
portal is and who to sign in as (printed last, once `/` answers), then the SMS messages the console backend
"sends" (marked lines), and any process that stops.
"""

from __future__ import annotations

import argparse
import contextlib
import fcntl
import importlib
import io
import os
import signal
import socket
import sys
import threading
import time
import urllib.error
import urllib.request
from datetime import datetime
from pathlib import Path
from typing import IO

ROOT = Path(__file__).resolve().parent.parent
PROCFILE = ROOT / "Procfile"
# The console SMS backend starts its lines with this (renewal.active.sms.CONSOLE_MARK): they are shown on the console.
SMS_MARK = "▶ SMS"
# And the demo's e-mail backend (portal.mail.EMAIL_MARK): set-password links of approved platforms, alerts.
EMAIL_MARK = "▶ E-mail"
READY_TIMEOUT_SECONDS = 180


class Refused(Exception):
    """`make run` cannot start; the message says why and what to do."""


# --- before anything changes ------------------------------------------------------------------------------------


def take_lock(var_dir: Path, url: str) -> IO[str]:
    """Hold var/make-run.lock for as long as this process runs, or refuse: another `make run` holds it."""
    var_dir.mkdir(parents=True, exist_ok=True)
    handle = open(var_dir / "make-run.lock", "a+", encoding="utf-8")  # noqa: SIM115 (held until exit)
    try:
        fcntl.flock(handle, fcntl.LOCK_EX | fcntl.LOCK_NB)
    except BlockingIOError:
        handle.seek(0)
        holder = handle.read().strip() or "another process"
        handle.close()
        raise Refused(
            f"`make run` is already running here ({holder}).\n"
            f"Use that one, or stop it first: Ctrl-C in its terminal (or `kill` the pid above)."
        ) from None
    handle.seek(0)
    handle.truncate()
    handle.write(f"pid {os.getpid()}, {url}, started {datetime.now():%Y-%m-%d %H:%M:%S}")
    handle.flush()
    return handle


def check_ports(host: str, ports: dict[str, int]) -> None:
    """Refuse when a port is taken, naming it and what uses it here."""
    taken = []
    for what, port in ports.items():
        with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as probe:
            # A port left in TIME_WAIT by the last run is free to listen on again; one that something listens on is not.
            probe.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
            try:
                probe.bind((host, port))
            except OSError:
                taken.append(f"  {host}:{port} ({what})")
    if taken:
        raise Refused(
            "A port `make run` needs is in use by another program:\n" + "\n".join(taken) + "\n"
            "Nothing was changed. Stop that program (`ss -ltnp` shows which one), or choose other ports: "
            "make run PORT=8001 SIMULATOR_PORT=8091"
        )


# --- setting up: migrate and the demo data, skipping what is done ------------------------------------------------


def prepare(log: IO[str]) -> tuple[list[tuple[str, str, str]], list[str]]:
    """Migrate and load the demo data (output to `log`); return the sign-in lines and what was done."""
    import django

    django.setup()
    from django.conf import settings
    from django.core.management import call_command
    from django.core.management.base import OutputWrapper
    from django.db import connection, connections
    from django.db.migrations.executor import MigrationExecutor

    done = []
    executor = MigrationExecutor(connection)
    if executor.migration_plan(executor.loader.graph.leaf_nodes()):
        call_command("migrate", interactive=False, verbosity=1, stdout=log, stderr=log)
        done.append("database migrated")
    if "DatabaseCache" in settings.CACHES["default"]["BACKEND"]:
        call_command("createcachetable", stdout=log, stderr=log)
    captured = io.StringIO()
    lines: list[tuple[str, str, str]] = []
    for step in settings.DEMO_STEPS:
        lines.extend(importlib.import_module(step).load(OutputWrapper(captured)))
    log.write(captured.getvalue())
    done.append("demo data already there" if "already loaded" in captured.getvalue() else "demo data loaded")
    connections.close_all()  # honcho forks: no child may share this process's database connection
    return lines, done


# --- the console ---------------------------------------------------------------------------------------------------


class Console:
    """honcho's printer: every line to its process's log file; to the console only what a person needs."""

    def __init__(self, log_dir: Path, out: IO[str]):
        self.log_dir, self.out = log_dir, out
        self.files: dict[str, IO[str]] = {}
        self.lock = threading.Lock()
        self.stopping = False
        self.width = 0  # honcho sets it; unused

    def say(self, text: str = "") -> None:
        with self.lock:
            self.out.write(text + "\n")
            self.out.flush()

    def open_log(self, name: str) -> None:
        self._file(name).write(f"=== make run, {datetime.now():%Y-%m-%d %H:%M:%S}\n")

    def _file(self, name: str) -> IO[str]:
        if name not in self.files:
            self.files[name] = open(self.log_dir / f"{name}.log", "a", encoding="utf-8", buffering=1)  # noqa: SIM115
        return self.files[name]

    def write(self, message) -> None:
        name = message.name or "system"
        data = message.data.decode("utf-8", "replace") if isinstance(message.data, bytes) else message.data
        stamp = message.time.strftime("%H:%M:%S")
        log = self._file("honcho" if name == "system" else name)
        for line in data.splitlines():
            log.write(f"{stamp} {line}\n")
            if SMS_MARK in line:
                self.say(line[line.index(SMS_MARK):])
            elif EMAIL_MARK in line:
                self.say(line[line.index(EMAIL_MARK):])
            elif name == "system":
                self._system(line)

    def _system(self, line: str) -> None:
        if line.endswith(" received") and not self.stopping:
            self.stopping = True
            self.say("\nStopping every process (Ctrl-C again is not needed)…")
        elif " stopped (rc=" in line and not self.stopping:
            process = line.split(" ", 1)[0]
            self.say(f"\n{process} stopped unexpectedly ({line.split('(', 1)[1].rstrip(')')}); the others are being "
                     f"stopped too. The end of var/log/{process}.log:")
            self.say(_tail(self.log_dir / f"{process}.log", 15))
            self.stopping = True

    def close(self) -> None:
        for handle in self.files.values():
            handle.close()


def _tail(path: Path, lines: int) -> str:
    with contextlib.suppress(OSError):
        return "\n".join("    " + x for x in path.read_text(encoding="utf-8", errors="replace").splitlines()[-lines:])
    return "    (no log)"


def announce_when_ready(console: Console, *, url: str, started: float, logins: list[tuple[str, str, str]],
                        done: list[str]) -> None:
    """Wait for `/` to answer 200, then print where the portal is and who to sign in as (the last thing printed)."""
    deadline = time.monotonic() + READY_TIMEOUT_SECONDS
    while time.monotonic() < deadline and not console.stopping:
        try:
            with urllib.request.urlopen(url + "/", timeout=2) as answer:  # noqa: S310 (our own loopback URL)
                if answer.status == 200:
                    break
        except (urllib.error.URLError, OSError):
            pass
        time.sleep(0.1)
    else:
        if not console.stopping:
            console.say(f"\nThe portal did not answer at {url}/ within {READY_TIMEOUT_SECONDS} s: see var/log/web.log.")
        return
    elapsed = time.time() - started
    width = max(len(who) for who, _, _ in logins) if logins else 0
    # A line may hold the portal's address itself (a curl command): "{url}" stands for it.
    table = "\n".join(f"  {who:<{width}}  {url}{path:<30} {login.replace('{url}', url)}" for who, path, login in logins)
    console.say(
        f"\nThe portal is ready at {url}/ ({elapsed:.1f} s after `make run`; {', '.join(done)}).\n"
        f"Logs: var/log/<process>.log for web, worker, interactive, beat and simulator.\n\n"
        f"Sign in as (password for every account: see each line):\n{table}\n\n"
        f"SMS messages the portal sends are printed below, on lines starting with “{SMS_MARK}”;\n"
        f"e-mails (a platform's set-password link once approved in admin) on lines starting with “{EMAIL_MARK}”.\n"
        f"Ctrl-C stops everything."
    )


# --- main ------------------------------------------------------------------------------------------------------


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="make run", description=__doc__.split("\n\n")[0])
    parser.add_argument("--host", default=os.environ.get("HOST", "127.0.0.1"))
    parser.add_argument("--port", type=int, default=int(os.environ.get("PORT", "8000")))
    parser.add_argument("--simulator-port", type=int, default=int(os.environ.get("SIMULATOR_PORT", "8090")))
    args = parser.parse_args(argv)
    started = float(os.environ.get("MAKE_RUN_STARTED") or time.time())
    url = f"http://{args.host}:{args.port}"
    os.environ.setdefault("DEBUG", "true")
    os.environ.setdefault("DJANGO_SETTINGS_MODULE", "portal.settings")
    os.environ.setdefault("PUBLIC_BASE_URL", url)
    os.environ.setdefault("PYTHONUNBUFFERED", "1")  # each log line when it happens, not when a buffer fills
    os.environ["RENEWAL_SIMULATOR_PORT"] = str(args.simulator_port)
    # The console backend's lines go to the worker's own output, not through Celery's logging.
    os.environ["CELERY_WORKER_REDIRECT_STDOUTS"] = "false"
    os.environ["PATH"] = f"{Path(sys.executable).parent}{os.pathsep}{os.environ.get('PATH', '')}"
    var_dir = Path(os.environ.get("PORTAL_VAR_DIR", ROOT / "var"))
    out = sys.stdout
    try:
        lock = take_lock(var_dir, url)
        check_ports(args.host, {"the web server": args.port, "the platform simulator": args.simulator_port})
    except Refused as refusal:
        print(f"make run: {refusal}", file=sys.stderr)
        return 1
    log_dir = var_dir / "log"
    log_dir.mkdir(parents=True, exist_ok=True)
    print(f"make run: preparing the database and the demo data (log: {log_dir / 'setup.log'})…", flush=True)
    with open(log_dir / "setup.log", "a+", encoding="utf-8") as setup_log:
        setup_log.write(f"\n=== make run, {datetime.now():%Y-%m-%d %H:%M:%S}\n")
        try:
            logins, done = prepare(setup_log)
        except Exception as exc:  # noqa: BLE001 (shown to the person, with where to look)
            print(f"make run: setting up failed: {exc.__class__.__name__}: {exc}\n"
                  f"See {log_dir / 'setup.log'}.", file=sys.stderr)
            import traceback

            traceback.print_exc(file=setup_log)
            return 1
    return run_processes(console=Console(log_dir, out), url=url, started=started, logins=logins, done=done,
                         lock=lock)


def run_processes(*, console: Console, url: str, started: float, logins: list[tuple[str, str, str]],
                  done: list[str], lock: IO[str]) -> int:
    from honcho.environ import parse_procfile
    from honcho.manager import Manager

    procfile = parse_procfile(PROCFILE.read_text(encoding="utf-8"))
    manager = Manager(printer=console)
    for name, command in procfile.processes.items():
        manager.add_process(name, command, env=dict(os.environ), cwd=str(ROOT))
        console.open_log(name)  # each log exists from the start, before its process says anything
    names = ", ".join(procfile.processes)
    console.say(f"make run: starting {names} (Ctrl-C stops them all)…")
    threading.Thread(target=announce_when_ready, daemon=True, kwargs={
        "console": console, "url": url, "started": started, "logins": logins, "done": done}).start()
    try:
        manager.loop()
    finally:
        console.stopping = True
        console.close()
        lock.close()
    console.say("make run: every process has stopped.")
    # A stop asked for (Ctrl-C, SIGTERM) ends cleanly; a process that died on its own is a failure.
    code = manager.returncode or 0
    return 0 if code in (130, 143, -signal.SIGTERM, -signal.SIGINT) else code


if __name__ == "__main__":
    sys.stdout = io.TextIOWrapper(sys.stdout.buffer, encoding="utf-8", line_buffering=True)
    sys.exit(main())
