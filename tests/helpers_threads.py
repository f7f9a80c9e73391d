"""Races for the row-lock and claim tests (PostgreSQL): callables run from threads released at one moment."""

import threading
from collections.abc import Callable
from typing import Any

from django.db import connections


def run_together(*calls: Callable[[], Any], timeout: float = 120) -> list:
    """Call each function from its own thread, all released together; return their results in the calls' order.

    Each thread works on its own database connection, closed when the thread ends. Once every thread has
    finished, the first exception any of them raised is raised here, in the test's thread.
    """
    barrier = threading.Barrier(len(calls), timeout=30)
    results: list = [None] * len(calls)
    errors: list[BaseException] = []

    def run(i: int, fn: Callable[[], Any]) -> None:
        try:
            barrier.wait()
            results[i] = fn()
        except BaseException as exc:  # pytest.fail and the like too: re-raised below
            errors.append(exc)
        finally:
            connections.close_all()

    threads = [threading.Thread(target=run, args=(i, fn), daemon=True) for i, fn in enumerate(calls)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(timeout)
    if any(thread.is_alive() for thread in threads):
        raise AssertionError(f"the racing calls were still running after {timeout} s")
    if errors:
        raise errors[0]
    return results


def returning(fn: Callable[[], Any], *expected: type[BaseException]) -> Callable[[], Any]:
    """Wrap `fn` to return the `expected` exceptions instead of raising them: how a race's loser is told."""

    def call() -> Any:
        try:
            return fn()
        except expected as exc:
            return exc

    return call
