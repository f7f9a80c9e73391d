"""The portal's invariants over every row, checked after a fault (and, later, after each fuzzed API call).

`check_invariants()` returns a list of problems (empty when all hold); `assert_invariants()` fails with them.
Both read the database as it is, on whatever connection the caller's thread has, with a few grouped statements:

* holder periods — at most one open period per number; an active number has exactly one, any other none;
* cycles — a frozen number (or one suspended from frozen) has a current cycle: an ended period of its own;
* batch entries — each entry's cycle is a period of the entry's number; a chunk's size is its entries, a batch's
  size its chunks' sizes, no chunk is empty; a chunk's deliveries_total and deliveries_done are its deliveries and
  its final ones;
* events — an event for every change: given a `snapshot()` taken before, every number whose state changed has a
  newer event, and a number's newest state-bearing event names its current state;
* deliveries — nothing final still claimed; confirmed ones have confirmed_at, sent ones sent_at;
  a confirmed unbind delivery has a result on every task; with `deliveries_final=True`, every delivery is final.
"""

from dataclasses import dataclass

from django.db import connection

from numbers.models import Event, HolderPeriod, PhoneNumber, State
from renewal.models import (
    FINAL_STATES,
    BatchChunk,
    BatchEntry,
    Delivery,
    DeliveryEvent,
    DeliveryState,
    RecycleBatch,
    UnbindResult,
    UnbindTask,
)


@dataclass(frozen=True)
class Snapshot:
    """Each number's state and newest event id at one moment: {number id: (state, newest event id or 0)}."""

    numbers: dict[int, tuple[str, int]]


def _tables() -> dict[str, str]:
    models = {"number": PhoneNumber, "period": HolderPeriod, "event": Event, "entry": BatchEntry,
              "chunk": BatchChunk, "batch": RecycleBatch, "delivery": Delivery, "task": UnbindTask}
    return {name: model._meta.db_table for name, model in models.items()}


def _rows(sql: str, params: list | None = None) -> list[tuple]:
    with connection.cursor() as cursor:
        cursor.execute(sql.format(**_tables()), params or [])
        return cursor.fetchall()


def snapshot() -> Snapshot:
    """Take each number's state and newest event id now (before a fault strikes)."""
    rows = _rows("SELECT n.id, n.state, COALESCE(MAX(e.id), 0) FROM {number} n "
                 "LEFT JOIN {event} e ON e.number_id = n.id GROUP BY n.id, n.state")
    return Snapshot(numbers={n: (state, newest) for n, state, newest in rows})


def _holder_periods() -> list[str]:
    problems = [f"number {n}: {k} open holder periods" for n, k in _rows(
        "SELECT number_id, COUNT(*) FROM {period} WHERE ended_at IS NULL GROUP BY number_id HAVING COUNT(*) > 1")]
    problems += [f"number {n} is {state} with {k} open holder periods" for n, state, k in _rows(
        "SELECT n.id, n.state, COUNT(p.id) FROM {number} n "
        "LEFT JOIN {period} p ON p.number_id = n.id AND p.ended_at IS NULL GROUP BY n.id, n.state "
        "HAVING (n.state = %s) <> (COUNT(p.id) = 1) OR COUNT(p.id) > 1", [State.ACTIVE])]
    return problems


def _cycles() -> list[str]:
    return [f"number {n} ({state}) has cycle {c}: {why}" for n, state, c, why in _rows(
        "SELECT n.id, n.state, n.cycle_id, CASE WHEN n.cycle_id IS NULL THEN 'no cycle' "
        "  WHEN p.number_id <> n.id THEN 'another number''s period' ELSE 'a period still open' END "
        "FROM {number} n LEFT JOIN {period} p ON p.id = n.cycle_id "
        "WHERE (n.state = %s OR n.suspended_from = %s) "
        "  AND (n.cycle_id IS NULL OR p.number_id <> n.id OR p.ended_at IS NULL)", [State.FROZEN, State.FROZEN])]


def _batches() -> list[str]:
    problems = [f"batch entry {e}: its cycle is a period of number {pn}, not of {n}" for e, n, pn in _rows(
        "SELECT e.id, e.number_id, p.number_id FROM {entry} e JOIN {period} p ON p.id = e.cycle_id "
        "WHERE p.number_id <> e.number_id")]
    problems += [f"chunk {c}: size {size}, {n} entries" for c, size, n in _rows(
        "SELECT c.id, c.size, (SELECT COUNT(*) FROM {entry} e WHERE e.chunk_id = c.id) AS n FROM {chunk} c "
        "WHERE c.size <> (SELECT COUNT(*) FROM {entry} e WHERE e.chunk_id = c.id) OR c.size = 0")]
    problems += [f"batch {b}: size {size}, its chunks hold {n}" for b, size, n in _rows(
        "SELECT b.id, b.size, COALESCE(SUM(c.size), 0) FROM {batch} b LEFT JOIN {chunk} c ON c.batch_id = b.id "
        "GROUP BY b.id, b.size HAVING b.size <> COALESCE(SUM(c.size), 0)")]
    final = ", ".join(["%s"] * len(FINAL_STATES))
    problems += [f"chunk {c}: total {t}/done {d}, but {n} deliveries/{f} final" for c, t, d, n, f in _rows(
        "SELECT c.id, c.deliveries_total, c.deliveries_done, COUNT(d.id), "
        f"  COUNT(d.id) FILTER (WHERE d.state IN ({final})) "
        "FROM {chunk} c LEFT JOIN {delivery} d ON d.chunk_id = c.id "
        "GROUP BY c.id, c.deliveries_total, c.deliveries_done "
        f"HAVING c.deliveries_total <> COUNT(d.id) OR c.deliveries_done <> COUNT(d.id) FILTER "
        f"  (WHERE d.state IN ({final}))", [*FINAL_STATES, *FINAL_STATES])]
    return problems


def _events(since: Snapshot | None) -> list[str]:
    newest = {n: (state, kind, to) for n, state, kind, to in _rows(
        "SELECT DISTINCT ON (n.id) n.id, n.state, e.kind, e.to_state FROM {number} n "
        "JOIN {event} e ON e.number_id = n.id AND e.to_state <> '' ORDER BY n.id, e.id DESC")}
    problems = [f"number {n} is {state}, but its newest event ({kind}) says {to}"
                for n, (state, kind, to) in newest.items() if state != to]
    if since is not None:
        now = snapshot().numbers
        for number, (state, newest_event) in now.items():
            before = since.numbers.get(number)
            if before is not None and before[0] != state and newest_event <= before[1]:
                problems.append(f"number {number} went from {before[0]} to {state} with no event")
    return problems


def _deliveries(final: bool) -> list[str]:
    problems = [f"delivery {d} is {state} but still claimed" for d, state in _rows(
        "SELECT id, state FROM {delivery} WHERE state <> %s AND claimed_until IS NOT NULL", [DeliveryState.PENDING])]
    problems += [f"delivery {d} is confirmed without confirmed_at" for (d,) in _rows(
        "SELECT id FROM {delivery} WHERE state = %s AND confirmed_at IS NULL", [DeliveryState.CONFIRMED])]
    # (A confirmed delivery may have no sent_at: a worker killed after its POST never recorded the send, and the
    # platform's confirmation still counts.)
    problems += [f"delivery {d} is sent without sent_at" for (d,) in _rows(
        "SELECT id FROM {delivery} WHERE state = %s AND sent_at IS NULL", [DeliveryState.SENT])]
    problems += [f"unbind delivery {d} is confirmed with task {t} unanswered" for d, t in _rows(
        "SELECT d.id, t.id FROM {delivery} d JOIN {task} t ON t.delivery_id = d.id "
        "WHERE d.event = %s AND d.state = %s AND t.result = %s",
        [DeliveryEvent.UNBIND, DeliveryState.CONFIRMED, UnbindResult.PENDING])]
    if final:
        problems += [f"delivery {d} is {state}, not final (attempts {a}, {error[:80]!r})" for d, state, a, error
                     in _rows("SELECT id, state, attempts, last_error FROM {delivery} WHERE state NOT IN (%s, %s) "
                              "ORDER BY created_at LIMIT 20", list(FINAL_STATES))]
    return problems


def check_invariants(*, since: Snapshot | None = None, deliveries_final: bool = False) -> list[str]:
    """Return every broken invariant (PostgreSQL): an empty list when all hold."""
    if connection.vendor != "postgresql":
        raise RuntimeError("the invariants are checked on PostgreSQL (DISTINCT ON, FILTER)")
    return [*_holder_periods(), *_cycles(), *_batches(), *_events(since), *_deliveries(deliveries_final)]


def assert_invariants(*, since: Snapshot | None = None, deliveries_final: bool = False) -> None:
    """Fail with every broken invariant listed."""
    problems = check_invariants(since=since, deliveries_final=deliveries_final)
    assert not problems, "invariants broken:\n" + "\n".join(problems[:50])
