"""Shared helpers for the benchmarks: a throwaway database, timers, peak memory, CPU time and results.

Benchmarks print figures and ratios against a baseline measured in the same run (these machines are noisy:
absolute times mean little). They run against a throwaway copy of the configured database, never the real one.

A benchmark records each of its results with `record(...)`: `bench/run_all.py` collects them into
`bench/results.json` and `bench/REPORT.md` (one object per result: figure, baseline, ratio, peak RSS).
"""

import contextlib
import json
import os
import random
import resource
import subprocess
import sys
import time
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parent.parent
# run_all.py points this at a file per scenario; results are appended as JSON lines.
RESULTS_ENV = "BENCH_RESULTS_FILE"


def setup_django() -> None:
    sys.path.insert(0, str(ROOT))
    os.environ.setdefault("DJANGO_SETTINGS_MODULE", "portal.settings")
    os.environ.setdefault("DEBUG", "true")
    import django

    import portal.stdlib_numbers  # noqa: F401

    django.setup()


def required_services(*, brokers: tuple[str, ...] = ("redis://", "amqp://")) -> tuple[str, str]:
    """DATABASE_URL (PostgreSQL) and CELERY_BROKER_URL (one of `brokers`); exit saying so when either is missing."""
    source = os.environ.get("DATABASE_URL", "")
    broker = os.environ.get("CELERY_BROKER_URL", "")
    if not source.startswith("postgres") or not broker.startswith(brokers):
        names = " or ".join({"redis://": "Redis", "amqp://": "RabbitMQ"}[b] for b in brokers)
        sys.exit(f"Set DATABASE_URL (PostgreSQL) and CELERY_BROKER_URL ({names}): the figures are for that setup.")
    return source, broker


@contextlib.contextmanager
def throwaway_database():
    """Create `test_<name>` with all migrations, yield, and drop it."""
    from django.db import connection

    name = connection.creation.create_test_db(verbosity=0, autoclobber=True, keepdb=False)
    try:
        yield name
    finally:
        connection.creation.destroy_test_db(name, verbosity=0)


@contextlib.contextmanager
def timed(label: str, results: dict):
    start = time.perf_counter()
    yield
    results[label] = time.perf_counter() - start


def peak_rss_mb() -> float:
    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024


def report(title: str, rows: list[tuple[str, str]]) -> None:
    print(f"\n{title}")
    width = max(len(k) for k, _ in rows)
    for key, value in rows:
        print(f"  {key:<{width}}  {value}")


@dataclass
class Result:
    """One line of the report: a figure against a baseline measured in the same run.

    `figure` and `baseline` are in `unit`; `higher_is_better` says which way the ratio reads. The ratio is
    always "how the product does against the baseline": figure/baseline for rates, baseline/figure for times.
    """

    name: str
    figure: float
    baseline: float | None
    unit: str
    higher_is_better: bool = True
    peak_rss_mb: float | None = None
    target: float | None = None  # the ratio the product should reach
    baseline_label: str = ""
    notes: str = ""
    extra: dict[str, Any] = field(default_factory=dict)

    @property
    def ratio(self) -> float | None:
        if not self.baseline or not self.figure:
            return None
        return self.figure / self.baseline if self.higher_is_better else self.baseline / self.figure

    def as_dict(self) -> dict[str, Any]:
        out = asdict(self)
        out["ratio"] = None if self.ratio is None else round(self.ratio, 3)
        return out


def record(result: Result) -> None:
    """Print the result and, under run_all.py, append it to the scenario's results file."""
    ratio = "" if result.ratio is None else f"  ratio {result.ratio:.2f}"
    target = "" if result.target is None else f" (target ≥ {result.target:g})"
    base = "" if result.baseline is None else f"  baseline {result.baseline:,.2f} {result.unit}"
    rss = "" if result.peak_rss_mb is None else f"  peak RSS {result.peak_rss_mb:,.0f} MB"
    print(f"RESULT {result.name}: {result.figure:,.2f} {result.unit}{base}{ratio}{target}{rss}", flush=True)
    path = os.environ.get(RESULTS_ENV)
    if path:
        with open(path, "a") as out:
            out.write(json.dumps(result.as_dict()) + "\n")


def vm_hwm_mb(pid: int) -> float:
    """The peak resident memory (VmHWM) of a living process, in MB; 0 when it is gone."""
    try:
        for line in Path(f"/proc/{pid}/status").read_text().splitlines():
            if line.startswith("VmHWM:"):
                return int(line.split()[1]) / 1024
    except OSError:
        pass
    return 0.0


def measure(args: list[str], env: dict, *, cwd: Path = ROOT,
            ok: tuple[int, ...] = (0, 1)) -> tuple[float, float, float]:
    """Run a process to its end; return (wall seconds, peak RSS in MB, CPU seconds of the process).

    The peak is VmHWM sampled while the process runs: wait4's ru_maxrss would report at least this process's
    own size, which a child inherits at fork.
    """
    import threading

    start = time.perf_counter()
    proc = subprocess.Popen(args, env=env, cwd=cwd, stdout=subprocess.DEVNULL, stderr=subprocess.PIPE)
    err: list[bytes] = []
    reader = threading.Thread(target=lambda: err.append(proc.stderr.read()), daemon=True)
    reader.start()  # drained while it runs, so a chatty process cannot block
    peak = 0.0
    while True:
        peak = max(peak, vm_hwm_mb(proc.pid))
        pid, status, usage = os.wait4(proc.pid, os.WNOHANG)
        if pid:
            break
        time.sleep(0.05)
    seconds = time.perf_counter() - start
    proc.returncode = code = os.waitstatus_to_exitcode(status)
    reader.join()
    proc.stderr.close()
    if code not in ok:
        sys.exit(f"{' '.join(args)} failed ({code}):\n{b''.join(err).decode()[-3000:]}")
    return seconds, peak, usage.ru_utime + usage.ru_stime


# --- realistic numbers ---------------------------------------------------------------------------------

# Mobile segments in use in China (the first three digits of the national number), as the metadata reads them.
SEGMENTS = ("130 131 132 133 134 135 136 137 138 139 145 147 150 151 152 153 155 156 157 158 159 166 167 "
            "170 171 172 173 175 176 177 178 180 181 182 183 184 185 186 187 188 189 191 193 195 196 197 198 "
            "199").split()


def random_numbers(count: int, seed: int) -> list[str]:
    """`count` distinct national mobile numbers spread at random over the real segments (never sequential)."""
    rng = random.Random(seed)
    seen: set[str] = set()
    out: list[str] = []
    while len(out) < count:
        number = f"{rng.choice(SEGMENTS)}{rng.randrange(10**8):08d}"
        if number not in seen:
            seen.add(number)
            out.append(number)
    return out


# --- CPU time of PostgreSQL's backends -----------------------------------------------------------------

CLK_TCK = os.sysconf("SC_CLK_TCK")


def process_cpu_seconds(pid: int) -> float:
    """utime + stime of one process, from /proc (0 when it is gone)."""
    try:
        fields = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
    except OSError:
        return 0.0
    return (int(fields[11]) + int(fields[12])) / CLK_TCK


def tree_cpu_seconds(pid: int) -> float:
    """CPU seconds of a process and its living descendants."""
    total = process_cpu_seconds(pid)
    for task in Path(f"/proc/{pid}/task").glob("*/children"):
        with contextlib.suppress(OSError):
            for child in task.read_text().split():
                total += tree_cpu_seconds(int(child))
    return total


class BackendCpu:
    """Sum the CPU time of the PostgreSQL backends serving one database, sampled while a run goes on.

    The server's shared processes (WAL writer, checkpointer) are not counted: other databases share them.
    A backend that ends between two samples loses at most one interval of its time.
    """

    def __init__(self, dsn: str, database: str, interval: float = 0.5) -> None:
        import threading

        import psycopg

        self.conn = psycopg.connect(dsn, autocommit=True)
        self.database, self.interval = database, interval
        self.seen: dict[int, tuple[float, float]] = {}  # pid -> (first sample, last sample)
        self.own = self.conn.info.backend_pid
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._run, daemon=True)

    def _sample(self, *, start: bool = False) -> None:
        pids = [r[0] for r in self.conn.execute("SELECT pid FROM pg_stat_activity WHERE datname = %s",
                                                [self.database]).fetchall()]
        for pid in pids:
            if pid == self.own:
                continue
            now = process_cpu_seconds(pid)
            # A backend first seen during the run started during it: all its time counts.
            first, _ = self.seen.get(pid, (now if start else 0.0, now))
            self.seen[pid] = (first, now)

    def _run(self) -> None:
        while not self._stop.wait(self.interval):
            self._sample()

    def __enter__(self) -> "BackendCpu":
        self._sample(start=True)
        self._thread.start()
        return self

    def __exit__(self, *exc: object) -> None:
        self._stop.set()
        self._thread.join()
        self._sample()
        self.conn.close()

    @property
    def seconds(self) -> float:
        return sum(last - first for first, last in self.seen.values())
