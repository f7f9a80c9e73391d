"""The compliance dashboard: figures on a known data set, who may see it (its charts: tests/numbers/test_charts.py)."""

from datetime import timedelta

import pytest
from django.urls import reverse
from django.utils import timezone

from numbers import roles
from numbers.charts import DashboardFilter
from numbers.models import MarkCategory, MarkEffect, RiskMark, State
from numbers.oversight import dashboard
from numbers.services import (
    DisclosureInput,
    number_allocate,
    number_cancel,
    number_offer_decline,
    risk_mark_lift,
    risk_mark_place,
)
from tests.factories import OperatorFactory, OutletFactory, PhoneNumberFactory, staff_user

DASHBOARD = reverse("admin:dashboard")
ALL = DashboardFilter.everything()
SPOKEN = DisclosureInput(method="spoken", customer_confirmed=True)


@pytest.fixture
def known(db):
    """Operator AAA sells and declines at two outlets and has marked numbers; BBB has released numbers."""
    now = timezone.now()
    long_ago = now - timedelta(days=400)
    a, b = OperatorFactory(code="AAA"), OperatorFactory(code="BBB")
    a1, a2 = OutletFactory(operator=a, code="A1"), OutletFactory(operator=a, code="A2")
    b1 = OutletFactory(operator=b, code="B1")
    clerk_a1 = staff_user(role=roles.SALES_STAFF, outlet=a1, username="a1")
    clerk_a2 = staff_user(role=roles.SALES_STAFF, outlet=a2, username="a2")
    clerk_b1 = staff_user(role=roles.SALES_STAFF, outlet=b1, username="b1")
    s1, s2, s3, s4, s5 = (PhoneNumberFactory(range_holder=a, is_secondary=True) for _ in range(5))
    f1, f2, f3, f4, c1, c2 = (PhoneNumberFactory(range_holder=a) for _ in range(6))
    for n in (s1, s2):
        number_allocate(number=n, outlet=a1, staff=clerk_a1, customer_ref="R1", disclosure=SPOKEN)
    number_allocate(number=f1, outlet=a1, staff=clerk_a1, customer_ref="R2", disclosure=None)
    number_allocate(number=s3, outlet=a2, staff=clerk_a2, customer_ref="R3", disclosure=SPOKEN)
    number_offer_decline(number=s4, outlet=a1, staff=clerk_a1)
    number_offer_decline(number=s5, outlet=a2, staff=clerk_a2)
    number_offer_decline(number=f2, outlet=a2, staff=clerk_a2)
    for n in (c1, c2):
        number_allocate(number=n, outlet=a1, staff=clerk_a1, customer_ref="R4", disclosure=None, now=long_ago)
    number_cancel(number=c1, operator=a, at=now - timedelta(days=10), actor="test")
    number_cancel(number=c2, operator=a, at=now - timedelta(days=20), actor="test")
    risk_mark_place(number=c1, category=MarkCategory.HARASSING_MARKETING, authority="MIIT", effect=MarkEffect.EXTEND,
                    extra_days=30, actor="test")
    risk_mark_place(number=c2, category=MarkCategory.FRAUD, authority="MPS", effect=MarkEffect.SUSPEND, actor="test")
    lifted = risk_mark_place(number=f3, category=MarkCategory.OTHER, authority="MPS", effect=MarkEffect.SUSPEND,
                             actor="test")
    risk_mark_lift(mark=lifted, actor="test")
    number_allocate(number=PhoneNumberFactory(range_holder=b), outlet=b1, staff=clerk_b1, customer_ref="R5",
                    disclosure=None)
    for days in (91, 92, 95, 100, 120):
        cancelled = now - timedelta(days=200)
        PhoneNumberFactory(range_holder=b, is_secondary=True, cancelled_at=cancelled,
                           frozen_until=cancelled + timedelta(days=90), released_at=cancelled + timedelta(days=days))
    return {"a": a, "b": b}


def test_numbers_by_state_per_operator(known):
    data = dashboard.numbers_by_state(ALL)
    assert [str(s) for s in data["states"]] == [str(s.label) for s in State]
    assert [(r["operator"], r["counts"], r["total"], r["secondary"]) for r in data["rows"]] == [
        # available, active, frozen, suspended
        ("AAA", [5, 4, 1, 1], 11, 5),
        ("BBB", [5, 1, 0, 0], 6, 5),
    ]
    assert data["totals"] == {"counts": [10, 5, 1, 1], "secondary": 10, "total": 17}
    assert data["chart"].startswith("<svg")


def test_disclosure_compliance_per_outlet(known):
    data = dashboard.disclosure_by_outlet(ALL)
    keys = ("operator", "outlet", "allocations", "secondary", "disclosed", "undisclosed", "disclosed_rate", "declined",
            "declined_secondary", "secondary_declined_rate")
    assert [tuple(r[k] for k in keys) for r in data["rows"]] == [
        ("AAA", "A1", 5, 2, 2, 0, 100.0, 1, 1, 33.3),
        ("AAA", "A2", 1, 1, 1, 0, 100.0, 2, 1, 50.0),
        ("BBB", "B1", 1, 0, 0, 0, None, 0, 0, None),
    ]
    assert data["totals"] == {"allocations": 7, "secondary": 3, "disclosed": 3, "undisclosed": 0, "declined": 3,
                              "declined_secondary": 2, "disclosed_rate": 100.0, "secondary_declined_rate": 40.0}


def test_risk_marks_in_force_by_category(known):
    data = dashboard.risk_marks_in_force(ALL)
    assert [str(e) for e in data["effects"]] == [str(e.label) for e in MarkEffect]  # extend, suspend
    assert [(str(r["category"]), r["counts"], r["total"]) for r in data["rows"]] == [
        (str(MarkCategory.FRAUD.label), [0, 1], 1),
        (str(MarkCategory.HARASSING_MARKETING.label), [1, 0], 1),
        (str(MarkCategory.OTHER.label), [0, 0], 0),  # the lifted mark is not in force
    ]
    assert data["totals"] == {"counts": [1, 1], "total": 2}
    assert data["held"] == {"suspended": 1, "extended": 1}


def test_days_from_cancellation_to_release(known):
    data = dashboard.freeze_durations(ALL)
    # BBB: 91, 92, 95, 100, 120 days → median 95; p95 at position 0.95·4 = 3.8 → 100 + 0.8·20 = 116
    (row,) = data["rows"]
    assert (row["operator"], row["count"], row["median"], row["p95"]) == ("BBB", 5, 95.0, 116.0)


def test_the_page_shows_every_section_with_chart_and_table(client, regulator, known):
    client.force_login(regulator)
    response = client.get(DASHBOARD)
    assert response.status_code == 200
    sections = {s["key"]: s["data"] for s in response.context["sections"]}
    assert list(sections) == ["flow", "numbers_by_state", "disclosure", "risk_marks", "freeze_durations",
                              # the renewal app's (tests/renewal/{deliveries,active}/test_dashboard.py), empty here
                              "renewal_completion", "platforms", "unbind", "harassment",
                              # the places where other features' selectors plug in
                              "query_volumes", "coverage"]
    assert sections["numbers_by_state"]["totals"]["total"] == 17
    html = response.content.decode()
    for table in ("numbers-by-state", "disclosure-table", "risk-marks-in-force"):
        assert f'<table id="{table}"' in html
    assert 'class="chart trend"' in html
    # The print layout comes from the admin's stylesheet (the Content-Security-Policy allows no inline style).
    assert "<style" not in html
    assert "cdn" not in html.lower() and "<script src=\"http" not in html
    assert "Nothing in this range" in html  # a selector section with no rows (no reassignment query yet)


def test_the_default_range_is_the_last_30_days_and_bad_input_says_so(client, regulator, known):
    client.force_login(regulator)
    f = client.get(DASHBOARD).context["filter"]
    assert (f.end - f.start).days == 29 and f.end == timezone.localdate() and not f.weekly
    for bad in ({"start": "2026-13-01"}, {"start": "2026-02-01", "end": "2026-01-01"}, {"end": "2999-01-01"},
                {"start": "2000-01-01"}, {"operator": "NOPE"}):
        response = client.get(DASHBOARD, bad)
        assert response.status_code == 200 and response.context["problems"], bad
        assert (response.context["filter"].end - response.context["filter"].start).days == 29
    f = client.get(DASHBOARD, {"start": "2026-01-01", "end": "2026-06-30"}).context["filter"]
    assert f.weekly and f.buckets()[0].weekday() == 0


def test_the_flow_counts_events_in_the_range_and_links_to_them(client, regulator, known):
    client.force_login(regulator)
    figures = {f["kind"]: f for f in dashboard.lifecycle_flow(DashboardFilter.last_days(30))["figures"]}
    assert (figures["cancel"]["n"], figures["allocate"]["n"]) == (2, 5)
    assert figures["release"]["n"] == 0  # the releases of the known set are older than 30 days
    listed = client.get(figures["cancel"]["link"]).context["cl"].queryset
    assert listed.count() == 2 and {e.kind for e in listed} == {"cancel"}
    only_b = dashboard.lifecycle_flow(DashboardFilter.last_days(30, operator=known["b"]))["figures"]
    assert {f["kind"]: f["n"] for f in only_b}["allocate"] == 1


def test_every_drill_down_link_opens_a_filtered_admin_list(client, regulator, known):
    client.force_login(regulator)
    sections = {s["key"]: s["data"] for s in client.get(DASHBOARD, {"start": "2025-01-01"}).context["sections"]}
    row = sections["numbers_by_state"]["rows"][0]
    frozen = client.get(row["cells"][2]["link"])
    assert frozen.status_code == 200 and "?e=1" not in frozen.url if hasattr(frozen, "url") else True
    assert [n.state for n in frozen.context["cl"].queryset] == ["frozen"]
    outlet = sections["disclosure"]["table"].rows[0]
    for key in ("allocations_link", "secondary_link", "declined_link"):
        response = client.get(outlet[key])
        assert response.status_code == 200, key
    marks = client.get(sections["risk_marks"]["rows"][0]["cells"][1]["link"])
    assert marks.status_code == 200 and marks.context["cl"].queryset.count() == 1


def test_the_outlets_table_sorts_and_pages(client, regulator, known):
    client.force_login(regulator)
    data = {s["key"]: s["data"] for s in client.get(DASHBOARD, {"outlets_sort": "-allocations"}).context["sections"]}
    rows = data["disclosure"]["table"].rows
    assert [r["allocations"] for r in rows] == sorted((r["allocations"] for r in rows), reverse=True)
    assert data["disclosure"]["headers"][1]["sort"] == "descending"
    data = {s["key"]: s["data"] for s in client.get(DASHBOARD, {"outlets_sort": "nonsense", "outlets_page": "x"})
            .context["sections"]}
    assert data["disclosure"]["table"].sort == "disclosed_rate" and data["disclosure"]["table"].page == 1


def test_the_dashboard_is_for_regulators_and_operator_admins_see_their_own(client, regulator, known, admin_user):
    client.force_login(regulator)
    assert DASHBOARD.encode() in client.get(reverse("admin:index")).content
    client.force_login(admin_user)
    assert client.get(DASHBOARD).status_code == 200
    # an operator administrator sees its own operator only, whatever it asks for
    op_admin = staff_user(role=roles.OPERATOR_ADMIN, operator=known["a"], username="op-admin")
    client.force_login(op_admin)
    response = client.get(DASHBOARD, {"operator": "BBB"})
    assert response.status_code == 200 and response.context["filter"].operator == known["a"]
    sections = {s["key"]: s["data"] for s in response.context["sections"]}
    assert list(sections) == ["flow", "numbers_by_state", "disclosure", "renewal_completion", "platforms", "unbind"]
    assert [r["operator"] for r in sections["numbers_by_state"]["rows"]] == ["AAA"]
    assert {r["operator"] for r in sections["disclosure"]["rows"]} == {"AAA"}
    assert b'id="id_operator"' not in response.content
    # sales staff and signed-out visitors never
    clerk = staff_user(role=roles.SALES_STAFF, outlet=OutletFactory(operator=known["a"]), username="c")
    client.force_login(clerk)
    assert client.get(DASHBOARD).status_code in (302, 403)
    client.logout()
    assert client.get(DASHBOARD).status_code == 302


def test_the_monthly_report_as_csv_and_as_a_page(client, regulator, known):
    client.force_login(regulator)
    month = timezone.localdate().strftime("%Y-%m")
    page = client.get(reverse("admin:dashboard_monthly"), {"month": month})
    assert page.status_code == 200 and b"AAA" in page.content
    response = client.get(reverse("admin:dashboard_monthly"), {"month": month, "format": "csv"})
    text = b"".join(response.streaming_content).decode("utf-8-sig")
    lines = text.splitlines()
    assert lines[0] == "month,scope,name,figure,value"
    assert f"{month},operator,AAA,cancel,2" in lines
    assert any(line.startswith(f"{month},outlet,AAA A1,disclosed_rate,") for line in lines)
    assert client.get(reverse("admin:dashboard_monthly"), {"month": "garbage"}).status_code == 200


def test_the_page_shows_every_features_sections_in_order(client, regulator, db):
    from portal.dashboard import SECTIONS

    client.force_login(regulator)
    response = client.get(DASHBOARD)
    keys = [s["key"] for s in response.context["sections"]]
    assert keys == [s.key for s in SECTIONS] == [
        "flow", "numbers_by_state", "disclosure", "risk_marks", "freeze_durations",  # the lifecycle's
        "renewal_completion", "platforms",  # batch renewal's
        "unbind", "harassment",  # active renewal's
        "query_volumes", "coverage",  # other features' selectors
    ]


@pytest.mark.services
@pytest.mark.django_db  # not transactional: a flush would drop the role groups the data migrations made
def test_dashboard_figures_on_postgresql(require_postgres, known):
    assert dashboard.freeze_durations(ALL)["rows"][0]["p95"] == 116.0
    assert dashboard.disclosure_by_outlet(ALL)["totals"]["secondary_declined_rate"] == 40.0
    assert RiskMark.objects.in_force().count() == 2
