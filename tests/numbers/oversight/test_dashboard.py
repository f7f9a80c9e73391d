"""The compliance dashboard: figures on a known data set, who may see it (its charts: tests/numbers/test_charts.py)."""

from datetime import timedelta

import pytest
from django.contrib.auth.models import Permission
from django.urls import reverse
from django.utils import timezone

from numbers import roles
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
from tests.conftest import ROOT
from tests.factories import OperatorFactory, OutletFactory, PhoneNumberFactory, staff_user

DASHBOARD = reverse("admin:dashboard")
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
    data = dashboard.numbers_by_state()
    assert [str(s) for s in data["states"]] == [str(s.label) for s in State]
    assert [(r["operator"], r["counts"], r["total"], r["secondary"]) for r in data["rows"]] == [
        # available, active, frozen, suspended
        ("AAA", [5, 4, 1, 1], 11, 5),
        ("BBB", [5, 1, 0, 0], 6, 5),
    ]
    assert data["totals"] == {"counts": [10, 5, 1, 1], "secondary": 10, "total": 17}
    assert data["chart"].startswith("<svg") and "AAA" in data["chart"]


def test_disclosure_compliance_per_outlet(known):
    data = dashboard.disclosure_by_outlet()
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
    data = dashboard.risk_marks_in_force()
    assert [str(e) for e in data["effects"]] == [str(e.label) for e in MarkEffect]  # extend, suspend
    assert [(str(r["category"]), r["counts"], r["total"]) for r in data["rows"]] == [
        (str(MarkCategory.FRAUD.label), [0, 1], 1),
        (str(MarkCategory.HARASSING_MARKETING.label), [1, 0], 1),
        (str(MarkCategory.OTHER.label), [0, 0], 0),  # the lifted mark is not in force
    ]
    assert data["totals"] == {"counts": [1, 1], "total": 2}
    assert data["held"] == {"suspended": 1, "extended": 1}


def test_days_from_cancellation_to_release(known):
    data = dashboard.freeze_durations()
    # BBB: 91, 92, 95, 100, 120 days → median 95; p95 at position 0.95·4 = 3.8 → 100 + 0.8·20 = 116
    assert data["rows"] == [{"operator": "BBB", "count": 5, "median": 95.0, "p95": 116.0}]


def test_the_page_shows_every_section_with_chart_and_table(client, regulator, known):
    client.force_login(regulator)
    response = client.get(DASHBOARD)
    assert response.status_code == 200
    sections = {s["key"]: s["data"] for s in response.context["sections"]}
    assert list(sections) == ["numbers_by_state", "disclosure", "risk_marks", "freeze_durations",
                              # the renewal app's (tests/renewal/{deliveries,active}/test_dashboard.py), empty here
                              "batch_confirmations", "push_to_confirmation", "unbind_outcomes", "harassment"]
    assert sections["numbers_by_state"]["totals"]["total"] == 17
    html = response.content.decode()
    for table in ("numbers-by-state", "disclosure-by-outlet", "risk-marks-in-force", "freeze-durations"):
        assert f'<table id="{table}">' in html
    assert html.count('class="chart"><title>') == 4
    # The print layout comes from the admin's stylesheet (the Content-Security-Policy allows no inline style).
    assert "portal/admin/portal-admin.css" in html and "<style" not in html
    assert "@media print" in (ROOT / "static" / "portal" / "admin" / "portal-admin.css").read_text()
    assert "cdn" not in html.lower() and "<script src=\"http" not in html


def test_the_dashboard_is_for_regulators(client, regulator, known, admin_user):
    client.force_login(regulator)
    assert DASHBOARD.encode() in client.get(reverse("admin:index")).content
    client.force_login(admin_user)
    assert client.get(DASHBOARD).status_code == 200
    # an operator administrator, even one given the permission, sees only its operator: not this page
    op_admin = staff_user(role=roles.OPERATOR_ADMIN, operator=known["a"], username="op-admin")
    client.force_login(op_admin)
    assert client.get(DASHBOARD).status_code == 403
    assert DASHBOARD.encode() not in client.get(reverse("admin:index")).content
    op_admin.user_permissions.add(Permission.objects.get(codename="view_dashboard"))
    op_admin = type(op_admin).objects.get(pk=op_admin.pk)
    client.force_login(op_admin)
    assert client.get(DASHBOARD).status_code == 403
    client.logout()
    assert client.get(DASHBOARD).status_code == 302


def test_the_page_shows_every_features_sections_in_order(client, regulator, db):
    from portal.dashboard import SECTIONS

    client.force_login(regulator)
    response = client.get(DASHBOARD)
    keys = [s["key"] for s in response.context["sections"]]
    assert keys == [s.key for s in SECTIONS] == [
        "numbers_by_state", "disclosure", "risk_marks", "freeze_durations",  # the lifecycle's
        "batch_confirmations", "push_to_confirmation",  # batch renewal's
        "unbind_outcomes", "harassment",  # active renewal's
    ]


@pytest.mark.services
@pytest.mark.django_db  # not transactional: a flush would drop the role groups the data migrations made
def test_dashboard_figures_on_postgresql(require_postgres, known):
    assert dashboard.freeze_durations()["rows"] == [{"operator": "BBB", "count": 5, "median": 95.0, "p95": 116.0}]
    assert dashboard.disclosure_by_outlet()["totals"]["secondary_declined_rate"] == 40.0
    assert RiskMark.objects.in_force().count() == 2
