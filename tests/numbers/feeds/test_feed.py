"""The cancellation and port feed (docs/feed.md), through import_cancellations."""

from datetime import timedelta
from functools import partial

import pytest
from django.db import connection
from django.utils import timezone

from numbers import roles
from numbers.feeds import cancellations as feed
from numbers.feeds.services import CancellationRow, cancellations_import
from numbers.models import Event, EventKind, HolderPeriod, MarkEffect, PhoneNumber, RiskMark, State
from numbers.services import (
    DisclosureInput,
    number_allocate,
    number_cancel,
    number_port,
    release_sweep,
    risk_mark_place,
)
from tests.factories import OperatorFactory, OutletFactory, PhoneNumberFactory, staff_user
from tests.helpers_threads import run_together
from tests.numbers.feeds.helpers_feed import FEED_HEADER as HEADER
from tests.numbers.feeds.helpers_feed import (
    FORMULAS,
    SHANGHAI,
    csv_field,
    local,
    report_rows,
    run,
    snapshot,
    write_csv,
)
from tests.reliability.invariants import assert_invariants
from tests.reliability.invariants import snapshot as snapshot_invariants


@pytest.fixture
def held(operator, outlet, clerk, now):
    """Return a function that makes an active number of `operator`, held since `days` ago."""

    def make(days: int = 100, **kwargs):
        number = PhoneNumberFactory(range_holder=operator, **kwargs)
        number_allocate(number=number, outlet=outlet, staff=clerk, customer_ref="C-1", disclosure=None,
                        now=now - timedelta(days=days))
        number.refresh_from_db()
        return number

    return make


def test_cancellation_freezes_the_number_closes_the_holding_and_writes_the_event(tmp_path, held, operator, now):
    number = held()
    at = now - timedelta(days=2)
    path = write_csv(tmp_path / "feed.csv", HEADER, [f"{number.msisdn},{local(at)},cancel,"])

    result = run("import_cancellations", path, operator="CMCC")

    assert result.status == 0, result.stdout
    assert "applied: 1" in result.stdout
    number.refresh_from_db()
    period = HolderPeriod.objects.get(number=number)
    assert number.state == State.FROZEN
    assert number.cancelled_at == at
    assert number.frozen_until == at + timedelta(days=90)
    assert number.cycle == period and number.released_at is None
    assert period.ended_at == at and period.customer_ref == ""
    event = number.events.get(kind=EventKind.CANCEL)
    assert (event.from_state, event.to_state, event.at, event.actor) == ("active", "frozen", at, "import_cancellations")
    assert event.detail == {"operator": "CMCC", "frozen_until": (at + timedelta(days=90)).isoformat()}


def test_the_feed_does_what_number_cancel_does(tmp_path, held, operator, other_operator, now, regulator):
    """Snap-back after a port, marks in force waiting for the cycle: the same end state as the service."""
    twins = []
    for _ in range(2):
        a = held()  # ported out, then cancelled by the new operator: snaps back
        number_port(number=a, from_operator=operator, to_operator=other_operator, at=now - timedelta(days=50),
                    actor="test", reported_by=operator)
        risk_mark_place(number=a, category="fraud", authority="MIIT", effect=MarkEffect.EXTEND, extra_days=30,
                        actor=regulator)
        risk_mark_place(number=a, category="fraud", authority="MIIT", effect=MarkEffect.EXTEND, extra_days=45,
                        actor=regulator)
        b = held()  # a suspend mark waits for the next cycle
        risk_mark_place(number=b, category="fraud", authority="MPS", effect=MarkEffect.SUSPEND, actor=regulator)
        lifted = risk_mark_place(number=b, category="fraud", authority="MPS", effect=MarkEffect.EXTEND,
                                 extra_days=99, actor=regulator)
        RiskMark.objects.filter(pk=lifted.pk).update(lifted_at=now)
        twins.append((a, b))
    at = now - timedelta(days=3)
    (sa, sb), (fa, fb) = twins
    number_cancel(number=sa, operator=other_operator, at=at, actor="test")
    number_cancel(number=sb, operator=operator, at=at, actor="test")
    write_csv(tmp_path / "cucc.csv", HEADER, [f"{fa.msisdn},{local(at)},,"])
    write_csv(tmp_path / "cmcc.csv", HEADER, [f"{fb.msisdn},{local(at)},,"])

    assert run("import_cancellations", tmp_path / "cucc.csv", operator="CUCC").status == 0
    assert run("import_cancellations", tmp_path / "cmcc.csv", operator="CMCC").status == 0

    fields = ["state", "suspended_from", "serving_operator_id", "cancelled_at", "frozen_until", "released_at",
              "is_secondary"]
    for service_made, feed_made in [(sa, fa), (sb, fb)]:
        s = PhoneNumber.objects.values(*fields).get(pk=service_made.pk)
        f = PhoneNumber.objects.values(*fields).get(pk=feed_made.pk)
        assert f == s
        assert PhoneNumber.objects.get(pk=feed_made.pk).cycle == HolderPeriod.objects.get(number=feed_made)
        s_event = service_made.events.get(kind=EventKind.CANCEL)
        f_event = feed_made.events.get(kind=EventKind.CANCEL)
        assert (f_event.from_state, f_event.to_state, f_event.at, f_event.detail) == (
            s_event.from_state, s_event.to_state, s_event.at, s_event.detail)
    fa.refresh_from_db()
    fb.refresh_from_db()
    assert fa.state == State.FROZEN and fa.serving_operator == operator
    assert fa.frozen_until == at + timedelta(days=90 + 45)
    assert fb.state == State.SUSPENDED and fb.suspended_from == State.FROZEN
    assert fb.frozen_until == at + timedelta(days=90)
    assert fa.events.get(kind=EventKind.CANCEL).detail["returned_to"] == "CMCC"


def test_a_port_moves_the_number_without_a_disconnection(tmp_path, held, operator, other_operator, now):
    number = held(days=40)
    period = HolderPeriod.objects.get(number=number)
    at = now - timedelta(hours=5)
    path = write_csv(tmp_path / "feed.csv", HEADER, [f"{number.msisdn},{local(at)},port_out,CUCC"])

    result = run("import_cancellations", path, operator="CMCC")

    assert result.status == 0, result.stdout
    number.refresh_from_db()
    assert number.state == State.ACTIVE and number.serving_operator == other_operator
    assert number.range_holder == operator and number.cancelled_at is None
    period.refresh_from_db()
    assert period.ended_at is None and period.customer_ref == "C-1"
    event = number.events.get(kind=EventKind.PORT_OUT)
    assert (event.from_state, event.to_state, event.at) == ("active", "active", at)
    assert event.detail == {"from_operator": "CMCC", "to_operator": "CUCC"}


def test_every_rejection_reason_with_its_line_number(tmp_path, held, operator, other_operator, outlet, clerk, now):
    outlet_b = OutletFactory(operator=other_operator)
    clerk_b = staff_user(role=roles.SALES_STAFF, outlet=outlet_b, username="clerk-b")
    foreign = PhoneNumberFactory(range_holder=other_operator)
    number_allocate(number=foreign, outlet=outlet_b, staff=clerk_b, customer_ref="B-1", disclosure=None,
                    now=now - timedelta(days=9))
    frozen = held()
    number_cancel(number=frozen, operator=operator, at=now - timedelta(days=1), actor="test")
    # Held, cancelled 200 days ago, released, re-allocated 10 days ago: a cancellation 20 days ago is stale.
    recent = held(days=300)
    number_cancel(number=recent, operator=operator, at=now - timedelta(days=200), actor="test")
    assert release_sweep(now=now) == 1
    number_allocate(number=recent, outlet=outlet, staff=clerk, customer_ref="C-2", disclosure=DisclosureInput(
        method="spoken", customer_confirmed=True), now=now - timedelta(days=10))
    ok, conflicting, to_self = held(), held(), held()
    unknown = "+8613999999999"
    lines = [
        "138 0000",                                                         # 2 invalid_msisdn
        "+8612345678901,2026-01-01T00:00:00,,",                             # 3 invalid_msisdn (E.164, no such plan)
        f"{unknown},{local(now - timedelta(days=1))},,",                   # 4 unknown_number
        f"{foreign.msisdn},{local(now - timedelta(days=1))},,",            # 5 wrong_operator
        f"{frozen.msisdn},{local(now - timedelta(hours=1))},,",            # 6 not_active
        f"{ok.msisdn},{local(now + timedelta(days=1))},,",                  # 7 future_time
        f"{recent.msisdn},{local(now - timedelta(days=20))},,",            # 8 stale
        f"{ok.msisdn.replace('+86', '')},{local(now - timedelta(days=2))},port_out,NOPE",  # 9 unknown_operator
        f"{conflicting.msisdn},{local(now - timedelta(days=2))},,",        # 10 conflicting_lines
        f"{conflicting.msisdn},{local(now - timedelta(days=3))},,",        # 11 conflicting_lines
        f"{to_self.msisdn},{local(now - timedelta(days=2))},port_out,CMCC",  # 12 same_operator
        "13900000001,yesterday,,",                                          # 13 invalid_time
        f"{unknown},{local(now)},reboot,",                                 # 14 invalid_line (reason)
        f"{unknown},{local(now)},port_out,",                               # 15 invalid_line (no to_operator)
        f"{recent.msisdn},{local(now - timedelta(days=200))},cancel,",     # 16 already applied (the old holding)
    ]
    path = write_csv(tmp_path / "feed.csv", HEADER, lines)
    before = snapshot()

    result = run("import_cancellations", path, operator="CMCC")

    assert result.status == 1
    assert result.rejected() == {
        2: "invalid_line", 3: "invalid_msisdn", 4: "unknown_number", 5: "wrong_operator", 6: "not_active",
        7: "conflicting_lines", 8: "stale", 9: "conflicting_lines", 10: "conflicting_lines",
        11: "conflicting_lines", 12: "same_operator", 13: "invalid_time", 14: "invalid_line", 15: "invalid_line",
    }
    assert snapshot() == before  # nothing was applied
    assert "rejected: 14" in result.stdout and "already applied: 1" in result.stdout


def test_rejection_reasons_one_line_each(tmp_path, held, now):
    """future_time and unknown_operator, each alone for its number (not hidden by a conflict)."""
    a, b = held(), held()
    lines = [f"{a.msisdn},{local(now + timedelta(minutes=5))},,",
             f"{b.msisdn},{local(now - timedelta(days=1))},port_out,NOPE",
             "not-a-number,2026-01-01T00:00:00,,",
             '"a\tb\\c\nd",2026-01-01T00:00:00,,']  # a tab, a backslash and a new line: staged as they are
    result = run("import_cancellations", write_csv(tmp_path / "f.csv", HEADER, lines), operator="CMCC")
    assert result.rejected() == {2: "future_time", 3: "unknown_operator", 4: "invalid_msisdn", 5: "invalid_msisdn"}
    assert "is not a phone number" in result.report
    assert '"a\tb\\c\nd",rejected,invalid_msisdn' in result.report


def test_the_report_defuses_cells_a_spreadsheet_would_run(tmp_path, held, now):
    number = held()
    lines = [f"{csv_field(formula)},{local(now - timedelta(days=1))},," for formula in FORMULAS]
    lines.append(f"{number.msisdn},=1+1,cancel,")  # a formula in the time: quoted inside the message
    lines.append(csv_field("x\r=1+1") + f",{local(now - timedelta(days=1))},,")  # a CR inside a cell
    result = run("import_cancellations", write_csv(tmp_path / "f.csv", HEADER, lines), operator="CMCC")

    rows = report_rows(result.report)
    assert [r["msisdn"] for r in rows] == [*FORMULAS.values(), number.msisdn, "x\r=1+1"]
    # A bare CR would end the row in a spreadsheet and start the next one with the formula: it is quoted.
    assert ',"x\r=1+1",rejected,' in result.report
    assert all(r["outcome"] == "rejected" for r in rows)
    for row in rows:
        for cell in row.values():
            assert not cell.startswith(("=", "+", "-", "@", "\t", "\r")) or cell == number.msisdn, row


def test_identical_lines_count_once(tmp_path, held, now):
    number = held()
    line = f"{number.msisdn},{local(now - timedelta(days=1))},cancel,"
    national = f"{number.msisdn[3:]},{local(now - timedelta(days=1))},,"  # the same line, written differently
    result = run("import_cancellations", write_csv(tmp_path / "f.csv", HEADER, [line, line, national]),
                 operator="CMCC")
    assert result.status == 0, result.stdout
    assert "applied: 1" in result.stdout and "identical lines counted once: 2" in result.stdout
    assert number.events.filter(kind=EventKind.CANCEL).count() == 1


def test_a_bom_and_naive_times_in_the_time_zone(tmp_path, held):
    number = held(days=400)
    header = "msisdn,cancelled_at"  # the optional columns may be left out
    path = write_csv(tmp_path / "f.csv", header, [f"{number.msisdn},2026-01-02T03:04:05"], bom=True)
    result = run("import_cancellations", path, operator="CMCC")
    assert result.status == 0, result.stdout
    number.refresh_from_db()
    assert number.cancelled_at == timezone.datetime(2026, 1, 2, 3, 4, 5, tzinfo=SHANGHAI)


def test_reimport_of_cancellations_and_ports_is_all_already_applied(tmp_path, held, now, other_operator):
    a, b, c = held(), held(), held(days=5)
    lines = [f"{a.msisdn},{local(now - timedelta(days=1))},,",
             f"{b.msisdn},{local(now - timedelta(days=2))},port_out,CUCC",
             f"{c.msisdn},{local(now - timedelta(hours=2))},cancel,"]
    path = write_csv(tmp_path / "f.csv", HEADER, lines)
    assert run("import_cancellations", path, operator="CMCC").status == 0
    before = snapshot()

    again = run("import_cancellations", path, operator="CMCC")

    assert again.status == 0, again.stdout
    assert "already applied: 3" in again.stdout and "applied: 0" in again.stdout
    assert snapshot() == before


def test_dry_run_changes_nothing_and_exits_like_a_real_run(tmp_path, held, now):
    good, bad = held(), held()
    lines = [f"{good.msisdn},{local(now - timedelta(days=1))},,",
             f"{bad.msisdn},{local(now + timedelta(days=1))},,"]
    path = write_csv(tmp_path / "f.csv", HEADER, lines)
    before = snapshot()

    dry = run("import_cancellations", path, operator="CMCC", dry_run=True)

    assert snapshot() == before
    real = run("import_cancellations", path, operator="CMCC")
    assert dry.status == real.status == 1
    assert dry.rejected() == real.rejected() == {3: "future_time"}
    assert "would be applied: 1" in dry.stdout and "dry run" in dry.stdout
    assert "applied: 1" in real.stdout


@pytest.mark.parametrize(
    ("content", "code", "message"),
    [
        (b"msisdn,cancelled_at\n", "NOPE", "Unknown operator"),
        (b"", "CMCC", "empty"),
        (b"number,when\n+8613800000000,2026-01-01\n", "CMCC", "header row"),
        (b"msisdn,cancelled_at\n\xff\xfe13800\n", "CMCC", "not UTF-8"),
    ],
)
def test_usage_errors_exit_2_and_change_nothing(tmp_path, code, content, message, held):
    held()
    path = tmp_path / "f.csv"
    path.write_bytes(content)
    before = snapshot()
    result = run("import_cancellations", path, operator=code)
    assert result.status == 2
    assert message in result.stdout
    assert snapshot() == before


def test_an_unreadable_file_exits_2(tmp_path, operator):
    result = run("import_cancellations", tmp_path / "missing.csv", operator="CMCC")
    assert result.status == 2 and "Cannot read" in result.stdout


def test_the_report_of_thousands_of_bad_lines_is_written_in_full(tmp_path, held, monkeypatch, now):
    monkeypatch.setattr(feed, "REPORT_PAGE", 700)  # several pages of the staging table
    number = held()
    at = local(now - timedelta(days=1))
    bad = [f"+86139{i:08d},{at},," for i in range(3000)] + [f"garbage-{i},{at},," for i in range(500)]
    path = write_csv(tmp_path / "f.csv", HEADER, [*bad[:1700], f"{number.msisdn},{at},,", *bad[1700:]])

    result = run("import_cancellations", path, operator="CMCC")

    assert result.status == 1
    rejected = result.rejected()
    assert len(rejected) == 3500
    assert sorted(rejected) == [n for n in range(2, 3503) if n != 1702]
    assert list(rejected.values()).count("unknown_number") == 3000
    assert list(rejected.values()).count("invalid_msisdn") == 500
    assert "unknown_number: 3000" in result.report


def test_small_chunks_end_in_the_same_state(tmp_path, held, now, operator):
    numbers = [held() for _ in range(7)]
    rows = [CancellationRow(line=i, msisdn=n.msisdn, cancelled_at=now - timedelta(days=1))
            for i, n in enumerate(numbers)]
    rows.append(CancellationRow(line=7, msisdn=numbers[0].msisdn, cancelled_at=now - timedelta(days=2)))
    summary = cancellations_import(operator=operator, rows=rows, actor="t", chunk_size=2)
    assert (summary.applied, summary.rejected) == (6, {"conflicting_lines": 2})
    assert PhoneNumber.objects.filter(state=State.FROZEN).count() == 6


def test_rows_from_the_api_get_every_outcome_in_order(held, operator, now):
    """The API passes parsed rows, not a file, and wants an outcome for every item."""
    a = held()
    rows = [CancellationRow(line=0, msisdn=a.msisdn, cancelled_at=(now - timedelta(days=1)).isoformat()),
            CancellationRow(line=1, msisdn="x", cancelled_at=now),
            CancellationRow(line=2, msisdn=a.msisdn, cancelled_at=(now - timedelta(days=1)).isoformat())]
    seen = []
    summary = cancellations_import(operator=operator, rows=rows, actor="api", all_lines=True,
                                   report=lambda s, outcomes: seen.extend(outcomes))
    assert [(o.line, o.outcome, o.reason) for o in seen] == [
        (0, "applied", ""), (1, "rejected", "invalid_msisdn"), (2, "applied", "")]
    assert seen[2].duplicate_of == 0
    assert (summary.applied, summary.duplicates, summary.rejected_total) == (1, 1, 1)


def test_no_query_per_line(held, operator, now, django_assert_max_num_queries):
    numbers = [held() for _ in range(30)]
    rows = [CancellationRow(line=i + 2, msisdn=n.msisdn, cancelled_at=now - timedelta(days=1))
            for i, n in enumerate(numbers)]
    with django_assert_max_num_queries(40):
        summary = cancellations_import(operator=operator, rows=rows, actor="t")
    assert summary.applied == 30


# --- two imports at the same time (PostgreSQL: real row locks, two connections) ---------------


@pytest.mark.services
@pytest.mark.django_db(transaction=True)  # tests.factories.role_group remakes the roles after a flush
def test_two_concurrent_imports_end_as_one(require_postgres, tmp_path, operator, other_operator, outlet, clerk):
    now = timezone.now()
    numbers = []
    for i in range(300):
        n = PhoneNumberFactory(range_holder=operator)
        number_allocate(number=n, outlet=outlet, staff=clerk, customer_ref=f"C-{i}", disclosure=None,
                        now=now - timedelta(days=30))
        numbers.append(n)
    lines = [CancellationRow(line=i + 2, msisdn=n.msisdn, cancelled_at=now - timedelta(days=1),
                             reason="port_out" if i % 3 == 0 else "cancel", to_operator="CUCC" if i % 3 == 0 else "")
             for i, n in enumerate(numbers)]
    load = partial(cancellations_import, operator=operator, rows=lines, actor="t", chunk_size=50)
    before = snapshot_invariants()
    results = run_together(load, load)

    assert_invariants(since=before)
    assert sum(r.applied for r in results) == 300
    assert sum(r.already_applied for r in results) == 300
    assert all(r.rejected_total == 0 for r in results)
    assert Event.objects.filter(kind__in=[EventKind.CANCEL, EventKind.PORT_OUT]).count() == 300
    assert PhoneNumber.objects.filter(state=State.FROZEN).count() == 200
    assert PhoneNumber.objects.filter(state=State.ACTIVE, serving_operator=other_operator).count() == 100
    assert HolderPeriod.objects.filter(ended_at__isnull=False).count() == 200
    assert connection.vendor == "postgresql"


def test_operator_codes_are_matched_exactly(tmp_path, held, now):
    OperatorFactory(code="CUCC")
    number = held()
    line = f"{number.msisdn},{local(now - timedelta(days=1))},port_out,cucc"
    result = run("import_cancellations", write_csv(tmp_path / "f.csv", HEADER, [line]), operator="CMCC")
    assert result.rejected() == {2: "unknown_operator"}
