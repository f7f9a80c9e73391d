"""Reassignment queries (POST /api/v1/reassignment-queries) on a history built through the import commands."""

from datetime import date, datetime, timedelta
from uuid import uuid4
from zoneinfo import ZoneInfo

import pytest
from django.db import connection
from django.test.utils import CaptureQueriesContext
from django.utils import timezone

from numbers import roles
from numbers.charts import DashboardFilter
from numbers.models import PhoneNumber
from numbers.phone import msisdn_sha256
from numbers.services import DisclosureInput, number_allocate
from renewal.models import PlatformKind, PlatformStatus, ReassignmentQueryCall
from renewal.queries.selectors import query_volumes, query_volumes_table
from tests.factories import OperatorFactory, staff_user
from tests.numbers.feeds.helpers_feed import FEED_HEADER, run, write_csv
from tests.renewal.helpers_renewal import make_key, make_platform

URL = "/api/v1/reassignment-queries"
SHANGHAI = ZoneInfo("Asia/Shanghai")
INVENTORY = "msisdn,state,holder_since,cancelled_at"

# The numbers of the history below, by what happened to them.
CANCELLED = "+8613800000001"      # CMCC, cancelled 2026-03-01 10:00 local
UTC_EDGE = "+8613800000002"       # CMCC, cancelled 2026-05-09T23:30Z: on 2026-05-10 in Shanghai
PORTED = "+8613800000003"         # CMCC, ported to CUCC 2026-04-01, never disconnected
PORTED_CANCELLED = "+8613800000004"  # CMCC, ported to CUCC 2026-02-01, cancelled by CUCC 2026-06-01
RECYCLED = "+8613800000005"       # CMCC, released with a holding ended 2023-06-01, re-allocated, cancelled 2026-01-15
FROM_LATE = "+8613300000006"      # CTCC (coverage from 2025-01-01), ported to CMCC 2026-02-01
TO_LATE = "+8613800000007"        # CMCC, ported to CTCC 2026-03-01
UNKNOWN = "+8613900000009"


@pytest.fixture
def history(tmp_path, operator, other_operator, outlet, clerk):
    """Load the inventories and feeds as operators do (import_numbers, import_cancellations)."""
    late = OperatorFactory(code="CTCC", name="China Telecom", coverage_start=date(2025, 1, 1))
    assert operator.coverage_start == other_operator.coverage_start == date(2020, 1, 1)
    held = "2024-01-01T09:00:00+08:00"
    inventory = [f"{n},active,{held}," for n in (CANCELLED, UTC_EDGE, PORTED, PORTED_CANCELLED, TO_LATE)]
    inventory.append(f"{RECYCLED},available,2023-01-01T09:00:00+08:00,2023-06-01T09:00:00+08:00")
    assert run("import_numbers", write_csv(tmp_path / "cmcc.csv", INVENTORY, inventory), operator="CMCC").status == 0
    assert run("import_numbers", write_csv(tmp_path / "ctcc.csv", INVENTORY, [f"{FROM_LATE},active,{held},"]),
               operator="CTCC").status == 0
    # The recycled number is sold again (the sales page's service), then cancelled below.
    number_allocate(number=PhoneNumber.objects.get(msisdn=RECYCLED), outlet=outlet, staff=clerk, customer_ref="C-9",
                    disclosure=DisclosureInput(method="spoken", customer_confirmed=True),
                    now=datetime(2025, 1, 1, 9, tzinfo=SHANGHAI))
    cmcc = [f"{CANCELLED},2026-03-01T10:00:00+08:00,cancel,", f"{UTC_EDGE},2026-05-09T23:30:00Z,cancel,",
            f"{PORTED},2026-04-01T10:00:00+08:00,port_out,CUCC", f"{PORTED_CANCELLED},2026-02-01T10:00:00+08:00,"
            "port_out,CUCC", f"{RECYCLED},2026-01-15T10:00:00+08:00,cancel,",
            f"{TO_LATE},2026-03-01T10:00:00+08:00,port_out,CTCC"]
    assert run("import_cancellations", write_csv(tmp_path / "c1.csv", FEED_HEADER, cmcc), operator="CMCC").status == 0
    cucc = [f"{PORTED_CANCELLED},2026-06-01T10:00:00+08:00,cancel,"]
    assert run("import_cancellations", write_csv(tmp_path / "c2.csv", FEED_HEADER, cucc), operator="CUCC").status == 0
    ctcc = [f"{FROM_LATE},2026-02-01T10:00:00+08:00,port_out,CMCC"]
    assert run("import_cancellations", write_csv(tmp_path / "c3.csv", FEED_HEADER, ctcc), operator="CTCC").status == 0
    return late


CASES = [
    # disconnected before, on and after `since`
    (CANCELLED, "2026-02-28", "yes"),
    (CANCELLED, "2026-03-01", "yes"),
    (CANCELLED, "2026-03-02", "no"),
    # the date is Shanghai's: 23:30 UTC on the 9th is the 10th
    (UTC_EDGE, "2026-05-10", "yes"),
    (UTC_EDGE, "2026-05-11", "no"),
    # a port is not a disconnection; both operators cover the date
    (PORTED, "2026-01-01", "no"),
    (PORTED, "2026-04-02", "no"),
    # ported, then disconnected by the new operator
    (PORTED_CANCELLED, "2026-05-01", "yes"),
    (PORTED_CANCELLED, "2026-01-01", "yes"),
    (PORTED_CANCELLED, "2026-06-02", "no"),
    # recycled twice: either disconnection counts
    (RECYCLED, "2023-05-01", "yes"),
    (RECYCLED, "2025-06-01", "yes"),
    (RECYCLED, "2026-01-16", "no"),
    # `since` before the coverage of an operator that served the number since then
    (CANCELLED, "2019-06-01", "yes"),   # a recorded disconnection answers yes whatever the coverage
    (PORTED, "2019-06-01", "no_data"),  # CMCC's data starts in 2020
    (FROM_LATE, "2025-06-01", "no"),    # CTCC (until the port) and CMCC both cover it
    (FROM_LATE, "2024-06-01", "no_data"),  # CTCC served it since then and covers only from 2025
    (TO_LATE, "2024-06-01", "no_data"),  # served by CTCC now, whose data starts in 2025
    (TO_LATE, "2025-06-01", "no"),
    (UNKNOWN, "2026-01-01", "no_data"),
]


@pytest.fixture
def live_key():
    return make_key(make_platform())


def _ask(api, key, items):
    response = api("post", URL, key, {"items": items})
    assert response.status_code == 200, response.content
    return response.json()["results"]


def test_answers_follow_the_history(api, history, live_key):
    results = _ask(api, live_key, [{"msisdn": n, "since": s} for n, s, _ in CASES])
    assert [r["index"] for r in results] == list(range(len(CASES)))
    got = [(n, s, r.get("answer", r)) for (n, s, _), r in zip(CASES, results, strict=True)]
    assert got == CASES


def test_hashed_and_clear_input_answer_alike(api, history, live_key):
    assert PhoneNumber.objects.get(msisdn=FROM_LATE).msisdn_sha256 == msisdn_sha256(FROM_LATE)  # the import hashed it
    clear = _ask(api, live_key, [{"msisdn": n, "since": s} for n, s, _ in CASES])
    hashed = _ask(api, live_key, [{"msisdn_sha256": msisdn_sha256(n), "since": s} for n, s, _ in CASES])
    assert hashed == clear
    # National input is normalised before it is looked up.
    assert _ask(api, live_key, [{"msisdn": "138 0000 0001", "since": "2026-03-01"}]) == [{"index": 0, "answer": "yes"}]


def test_items_are_answered_one_by_one(api, history, live_key):
    results = _ask(api, live_key, [
        {"msisdn": "12345", "since": "2026-01-01"},
        {"msisdn": CANCELLED, "since": "2026/01/01"},
        {"msisdn": CANCELLED},
        {"msisdn": CANCELLED, "msisdn_sha256": msisdn_sha256(CANCELLED), "since": "2026-01-01"},
        {"msisdn_sha256": "not-hex", "since": "2026-01-01"},
        {"msisdn": CANCELLED, "since": (timezone.localdate() + timedelta(days=1)).isoformat()},
        "13800000001",
        {"msisdn": CANCELLED, "since": "2026-01-01"},
    ])
    codes = [r["error"]["code"] if "error" in r else r["answer"] for r in results]
    assert codes == ["invalid_msisdn"] + ["validation_error"] * 6 + ["yes"]


def test_refuses_more_than_1000_items_and_malformed_bodies(api, live_key):
    response = api("post", URL, live_key, {"items": [{"msisdn": UNKNOWN, "since": "2026-01-01"}] * 1001})
    assert (response.status_code, response.json()["error"]["code"]) == (400, "too_many_items")
    for body in ({"items": []}, {"items": "x"}, [1, 2]):
        response = api("post", URL, live_key, body)
        assert (response.status_code, response.json()["error"]["code"]) == (400, "validation_error")
    response = api("post", URL, live_key, raw=b"{nope")
    assert (response.status_code, response.json()["error"]["code"]) == (400, "invalid_json")
    assert api("post", URL, None, {"items": []}).status_code == 401


def test_a_constant_number_of_queries_whatever_the_item_count(api, history, live_key):
    def count(items):
        with CaptureQueriesContext(connection) as queries:
            _ask(api, live_key, items)
        # The throttle's counter lives in the database cache in this pass (Redis in production): left out.
        return [q["sql"][:40] for q in queries.captured_queries
                if "portal_cache" not in q["sql"] and "SAVEPOINT" not in q["sql"]]

    count([{"msisdn": CANCELLED, "since": "2026-01-01"}])  # the key's last_used_at is written once: warm it up
    one = count([{"msisdn": CANCELLED, "since": "2026-01-01"}])
    many = count([{"msisdn": n, "since": s} for n, s, _ in CASES] * 50)
    hashed = count([{"msisdn_sha256": msisdn_sha256(n), "since": s} for n, s, _ in CASES] * 50)
    assert len(one) == len(many) == len(hashed) == 3, one  # the key, the answers, the audit row


def test_each_call_is_audited_without_the_numbers(api, client, history, live_key):
    _ask(api, live_key, [{"msisdn": n, "since": s} for n, s, _ in CASES] + [{"msisdn": "1", "since": "2026-01-01"}])
    call = ReassignmentQueryCall.objects.get()
    expected = {a: sum(1 for *_, x in CASES if x == a) for a in ("yes", "no", "no_data")}
    assert (call.items, call.yes, call.no, call.no_data, call.errors) == (
        len(CASES) + 1, expected["yes"], expected["no"], expected["no_data"], 1)
    assert call.key_prefix and call.key.platform == call.platform
    stored = " ".join(str(v) for v in ReassignmentQueryCall.objects.values().get().values())
    for msisdn, *_ in CASES:
        assert msisdn[3:] not in stored and msisdn_sha256(msisdn) not in stored
    # The dashboard's selector: per platform and local day.
    volumes = query_volumes(DashboardFilter.last_days(7))
    assert [(v["day"], v["platform_name"], v["calls"], v["items"]) for v in volumes] == [
        (timezone.localdate(), call.platform.name, 1, len(CASES) + 1)]
    # A regulator reads each call in admin: the key and its counts, never a number asked.
    client.force_login(staff_user(role=roles.REGULATOR, username="reg"))
    listed = client.get("/admin/renewal/reassignmentquerycall/", headers={"accept-language": "en"})
    shown = client.get(f"/admin/renewal/reassignmentquerycall/{call.pk}/change/", headers={"accept-language": "en"})
    assert listed.status_code == shown.status_code == 200
    for page in (listed.content.decode(), shown.content.decode()):
        assert call.key_prefix in page and call.platform.name in page
        for msisdn, *_ in CASES:
            assert msisdn[3:] not in page and msisdn_sha256(msisdn) not in page
    table = query_volumes_table(DashboardFilter.last_days(7))
    assert table["rows"][0][:4] == [timezone.localdate().isoformat(), call.platform.name, 1, len(CASES) + 1]
    assert query_volumes(DashboardFilter.last_days(7, today=timezone.localdate() - timedelta(days=8))) == []


# --- scopes and platform kinds --------------------------------------------------------------


def test_scopes(api, history, operator):
    query_only = make_platform(kind=PlatformKind.QUERY_ONLY)
    key = make_key(query_only)
    assert _ask(api, key, [{"msisdn": CANCELLED, "since": "2026-03-01"}]) == [{"index": 0, "answer": "yes"}]
    delivery = uuid4()
    for method, path, body in (("get", "/api/v1/deliveries", None), ("get", "/api/v1/recycled-numbers", None),
                               ("post", f"/api/v1/deliveries/{delivery}/confirm", {"unbound": 1, "not_found": 0}),
                               ("post", f"/api/v1/deliveries/{delivery}/results", {"items": []}),
                               ("post", f"/api/v1/unbind-tasks/{delivery}/result", {"status": "nothing_bound"})):
        response = api(method, path, key, body)
        assert (response.status_code, response.json()["error"]["code"]) == (403, "wrong_scope"), path
    response = api("post", URL, make_key(operator=operator), {"items": [{"msisdn": CANCELLED, "since": "2026-03-01"}]})
    assert (response.status_code, response.json()["error"]["code"]) == (403, "wrong_scope")
    assert not ReassignmentQueryCall.objects.filter(platform__isnull=True).exists()


@pytest.mark.parametrize("status", [PlatformStatus.SANDBOX, PlatformStatus.SUSPENDED])
def test_a_platform_not_live_gets_answers_for_test_numbers_only(api, history, status):
    key = make_key(make_platform(status=status))
    results = _ask(api, key, [
        {"msisdn": CANCELLED, "since": "2026-01-01"},   # real: yes to a live platform
        {"msisdn": PORTED, "since": "2026-01-01"},      # real: no to a live platform
        {"msisdn_sha256": msisdn_sha256(CANCELLED), "since": "2026-01-01"},
        {"msisdn": "+8619900000001", "since": "2026-01-01"},
        {"msisdn": "+86 199 0000 0002", "since": "2026-01-01"},
        {"msisdn": "+8619900000003", "since": "2026-01-01"},
        {"msisdn_sha256": msisdn_sha256("+8619900000001"), "since": "2026-01-01"},
    ])
    assert [r["answer"] for r in results] == ["no_data", "no_data", "no_data", "yes", "no", "no_data", "yes"]


def test_a_live_platform_learns_nothing_from_test_numbers(api, live_key):
    results = _ask(api, live_key, [{"msisdn": "+8619900000001", "since": "2026-01-01"}])
    assert results == [{"index": 0, "answer": "no_data"}]


@pytest.mark.services  # the demo loads thousands of numbers: the PostgreSQL pass only
def test_the_demo_prints_a_curl_command_answered_yes(api, settings):
    import io
    import json
    import re
    import shlex

    from django.core.management import call_command

    settings.DEBUG = True
    # The steps the query demo builds on (the whole demo takes most of a minute on SQLite).
    settings.DEMO_STEPS = ["numbers.demo", "renewal.deliveries.demo", "renewal.queries.demo"]
    out = io.StringIO()
    call_command("load_demo", stdout=out, base_url="http://testserver")
    line = next(x for x in out.getvalue().splitlines() if "curl " in x and "reassignment-queries" in x)
    words = shlex.split(line[line.index("curl "):])
    key = re.search(r"Bearer (\S+)", words[words.index("-H") + 1]).group(1)
    body = json.loads(words[words.index("-d") + 1])
    assert words[-1] == "http://testserver/api/v1/reassignment-queries"
    assert _ask(api, key, body["items"]) == [{"index": 0, "answer": "yes"}]
    # Loaded again, the demo issues a fresh key and keeps the dashboard's fortnight of calls.
    calls = ReassignmentQueryCall.objects.count()
    call_command("load_demo", stdout=io.StringIO(), base_url="http://testserver")
    assert api("post", URL, key, body).status_code == 401
    assert ReassignmentQueryCall.objects.count() == calls
    assert query_volumes(DashboardFilter.last_days(30))


def test_the_dashboard_shows_the_query_volumes(api, client, regulator, settings):
    settings.ADMIN_2FA_RELAXED = True
    platform = make_platform(name="Ask-only", kind=PlatformKind.QUERY_ONLY)
    _ask(api, make_key(platform), [{"msisdn": UNKNOWN, "since": "2026-01-01"}] * 3)
    client.force_login(regulator)
    page = client.get("/admin/dashboard/").content.decode()
    table = page[page.index('id="query_volumes-table"'):]
    table = table[:table.index("</table>")]
    assert "Ask-only" in table and "<td>3</td>" in table
