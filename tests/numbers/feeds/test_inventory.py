"""The number inventory (docs/feed.md), through import_numbers."""

from datetime import timedelta
from functools import partial

import pytest

from numbers.feeds.services import InventoryRow, inventory_import
from numbers.models import Event, EventKind, HolderPeriod, PhoneNumber, State
from numbers.services import number_allocate, number_cancel
from tests.factories import PhoneNumberFactory
from tests.helpers_threads import run_together
from tests.numbers.feeds.helpers_feed import (
    FEED_HEADER,
    FORMULAS,
    csv_field,
    local,
    report_rows,
    run,
    snapshot,
    write_csv,
)

HEADER = "msisdn,state,holder_since,cancelled_at"


def test_loads_never_used_active_frozen_and_released_numbers(tmp_path, operator, now):
    since = now - timedelta(days=700)
    cancelled = now - timedelta(days=20)
    old = now - timedelta(days=200)
    lines = [
        "13800000001,available,,",
        f"13800000002,active,{local(since)},",
        f"+8613800000003,frozen,,{local(cancelled)}",
        f"13800000004,available,{local(since)},{local(old)}",
        f"13800000005,frozen,{local(since)},{local(old)}",
    ]
    result = run("import_numbers", write_csv(tmp_path / "inv.csv", HEADER, lines), operator="CMCC")

    assert result.status == 0, result.stdout
    n = {p.msisdn[-1]: p for p in PhoneNumber.objects.all()}
    assert n["1"].state == State.AVAILABLE and not n["1"].is_secondary and n["1"].cycle is None
    assert not HolderPeriod.objects.filter(number=n["1"]).exists()
    assert n["2"].state == State.ACTIVE
    open_period = HolderPeriod.objects.get(number=n["2"])
    assert open_period.started_at == since and open_period.ended_at is None and open_period.operator == operator
    assert n["3"].state == State.FROZEN and n["3"].cancelled_at == cancelled
    assert n["3"].frozen_until == cancelled + timedelta(days=90)
    assert n["3"].cycle.started_at is None and n["3"].cycle.ended_at == cancelled  # start unknown
    assert n["4"].state == State.AVAILABLE and n["4"].is_secondary
    assert n["4"].released_at is not None and n["4"].cycle.started_at == since
    assert n["5"].state == State.FROZEN and n["5"].cycle.started_at == since  # freeze over: the sweep releases it
    for number in n.values():
        assert number.range_holder == number.serving_operator == operator
        event = number.events.get()
        assert (event.kind, event.to_state, event.actor) == (EventKind.IMPORT, number.state, "import_numbers")


def test_reloading_the_same_file_changes_nothing(tmp_path, operator, now):
    lines = ["13800000001,available,,", f"13800000002,active,{local(now - timedelta(days=9))},",
             f"13800000003,frozen,,{local(now - timedelta(days=9))}"]
    path = write_csv(tmp_path / "inv.csv", HEADER, lines)
    assert run("import_numbers", path, operator="CMCC").status == 0
    before = snapshot()

    again = run("import_numbers", path, operator="CMCC")

    assert again.status == 0 and "already applied: 3" in again.stdout
    assert snapshot() == before


def test_reloading_after_the_number_lived_on_still_changes_nothing(tmp_path, operator, outlet, clerk, now):
    path = write_csv(tmp_path / "inv.csv", HEADER, [f"13800000002,active,{local(now - timedelta(days=9))},"])
    run("import_numbers", path, operator="CMCC")
    number_cancel(number=PhoneNumber.objects.get(), operator=operator, at=now - timedelta(days=1), actor="t")
    before = snapshot()
    again = run("import_numbers", path, operator="CMCC")
    assert again.status == 0 and "already applied: 1" in again.stdout
    assert snapshot() == before


def test_every_rejection_reason_with_its_line_number(tmp_path, operator, other_operator, now):
    PhoneNumberFactory(msisdn="+8613800000010", range_holder=operator)  # in the portal, not from this file
    PhoneNumberFactory(msisdn="+8613800000011", range_holder=other_operator)
    lines = [
        "13800000001,sold,,",                                                   # 2 invalid_state
        "12345,available,,",                                                    # 3 invalid_msisdn
        "13800000002,active,,",                                                 # 4 missing_holder_since
        "13800000003,frozen,,",                                                 # 5 missing_cancelled_at
        f"13800000004,available,,{local(now - timedelta(days=30))}",            # 6 freeze_not_over
        f"13800000005,active,{local(now + timedelta(days=1))},",                # 7 future_time
        "13800000006,active,last year,",                                        # 8 invalid_time
        "13800000007,available,,",                                              # 9 conflicting_lines
        f"13800000007,frozen,,{local(now - timedelta(days=3))}",                # 10 conflicting_lines
        "13800000010,available,,",                                              # 11 number_exists
        "13800000011,available,,",                                              # 12 wrong_operator
        f"13800000008,active,{local(now - timedelta(days=3))},{local(now)}",   # 13 invalid_line
        "13800000009,available",                                                # 14 invalid_line (fields)
        f"13800000012,frozen,{local(now - timedelta(days=3))},{local(now - timedelta(days=4))}",  # 15 invalid_time
        "13800000013,available,,",                                              # 16 applied
    ]
    result = run("import_numbers", write_csv(tmp_path / "inv.csv", HEADER, lines), operator="CMCC")

    assert result.status == 1
    assert result.rejected() == {
        2: "invalid_state", 3: "invalid_msisdn", 4: "missing_holder_since", 5: "missing_cancelled_at",
        6: "freeze_not_over", 7: "future_time", 8: "invalid_time", 9: "conflicting_lines", 10: "conflicting_lines",
        11: "number_exists", 12: "wrong_operator", 13: "invalid_line", 14: "invalid_line", 15: "invalid_time",
    }
    assert list(PhoneNumber.objects.order_by("msisdn").values_list("msisdn", flat=True)) == [
        "+8613800000010", "+8613800000011", "+8613800000013"]


def test_the_report_defuses_cells_a_spreadsheet_would_run(tmp_path, operator):
    lines = [f"{csv_field(formula)},available,," for formula in FORMULAS]
    lines.append(f"13800000001,{csv_field('=cmd')},,")  # a formula in the state: quoted inside the message
    result = run("import_numbers", write_csv(tmp_path / "inv.csv", HEADER, lines), operator="CMCC")

    rows = report_rows(result.report)
    assert [r["msisdn"] for r in rows] == [*FORMULAS.values(), "13800000001"]
    assert [r["reason"] for r in rows] == ["invalid_msisdn"] * len(FORMULAS) + ["invalid_state"]
    for row in rows:
        for cell in row.values():
            assert not cell.startswith(("=", "+", "-", "@", "\t", "\r")), row


def test_dry_run_changes_nothing_and_exits_like_a_real_run(tmp_path, operator):
    path = write_csv(tmp_path / "inv.csv", HEADER, ["13800000001,available,,", "13800000002,gone,,"])
    dry = run("import_numbers", path, operator="CMCC", dry_run=True)
    assert PhoneNumber.objects.count() == 0 and Event.objects.count() == 0
    real = run("import_numbers", path, operator="CMCC")
    assert dry.status == real.status == 1
    assert dry.rejected() == real.rejected() == {3: "invalid_state"}
    assert PhoneNumber.objects.count() == 1


def test_loaded_numbers_live_on_through_the_feed_and_the_services(tmp_path, operator, outlet, clerk, now):
    since = now - timedelta(days=50)
    lines = [f"13800000001,active,{local(since)},", "13800000002,available,,"]
    run("import_numbers", write_csv(tmp_path / "inv.csv", HEADER, lines), operator="CMCC")
    feed = write_csv(tmp_path / "feed.csv", FEED_HEADER, [f"13800000001,{local(now - timedelta(days=1))},,"])

    assert run("import_cancellations", feed, operator="CMCC").status == 0

    cancelled = PhoneNumber.objects.get(msisdn="+8613800000001")
    assert cancelled.state == State.FROZEN and cancelled.cycle.started_at == since
    fresh = PhoneNumber.objects.get(msisdn="+8613800000002")
    number_allocate(number=fresh, outlet=outlet, staff=clerk, customer_ref="C-9", disclosure=None)


def test_chunks_and_the_rows_entry_point(operator, now):
    rows = [InventoryRow(line=i, msisdn=f"1380000{i:04d}", state="available") for i in range(25)]
    summary = inventory_import(operator=operator, rows=rows, actor="t", chunk_size=4)
    assert summary.applied == 25 and summary.exit_status == 0
    assert PhoneNumber.objects.count() == 25 == Event.objects.filter(kind=EventKind.IMPORT).count()


@pytest.mark.services
@pytest.mark.django_db(transaction=True)
def test_two_concurrent_loads_end_as_one(require_postgres, operator, now):
    rows = [InventoryRow(line=i + 2, msisdn=f"1380000{i:04d}", state="active" if i % 2 else "available",
                         holder_since=now - timedelta(days=3) if i % 2 else "") for i in range(400)]
    load = partial(inventory_import, operator=operator, rows=rows, actor="t", chunk_size=60)
    results = run_together(load, load)

    assert sum(r.applied for r in results) == 400 and sum(r.already_applied for r in results) == 400
    assert PhoneNumber.objects.count() == 400
    assert HolderPeriod.objects.count() == 200
    assert Event.objects.count() == 400
