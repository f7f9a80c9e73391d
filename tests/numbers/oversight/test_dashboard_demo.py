"""On the demo data, the regulator sees live figures on the dashboard and suspends a number."""

import io

from django.conf import settings as django_settings
from django.urls import reverse

from numbers import demo
from numbers.models import Disclosure, Event, EventKind, PhoneNumber, RiskList, State
from numbers.oversight import demo as demo_oversight


def test_the_demo_regulator_watches_the_dashboard_and_suspends_a_number(client, db, settings, tmp_path,
                                                                          django_capture_on_commit_callbacks):
    settings.PRIVATE_FILES_ROOT = tmp_path
    assert "numbers.oversight.demo" in django_settings.DEMO_STEPS
    out = io.StringIO()
    demo.load(out)
    demo_oversight.load(out)
    assert Disclosure.objects.count() > 0
    client.login(username="regulator", password=demo.PASSWORD)

    sections = {s["key"]: s["data"] for s in client.get(reverse("admin:dashboard")).context["sections"]}
    assert sections["numbers_by_state"]["totals"]["total"] == PhoneNumber.objects.count()
    assert len(sections["disclosure"]["rows"]) == 6  # every outlet sold and declined
    assert sections["disclosure"]["totals"]["disclosed_rate"] == 100.0
    suspended_before = sections["risk_marks"]["held"]["suspended"]

    number = PhoneNumber.objects.filter(state=State.FROZEN).order_by("msisdn").first()
    with django_capture_on_commit_callbacks(execute=True):
        client.post(reverse("admin:numbers_riskmark_add"), {
            "numbers": number.national, "category": "fraud", "authority": "公安部反诈中心", "reference": "DEMO-1",
            "effect": "suspend"})
    assert RiskList.objects.get(reference="DEMO-1").applied == 1
    number.refresh_from_db()
    assert number.state == State.SUSPENDED
    assert Event.objects.filter(number=number, kind=EventKind.MARK_PLACED, actor="regulator").exists()
    sections = {s["key"]: s["data"] for s in client.get(reverse("admin:dashboard")).context["sections"]}
    assert sections["risk_marks"]["held"]["suspended"] == suspended_before + 1

    # loading the demo again changes nothing
    demo_oversight.load(out)
    assert "already" in out.getvalue()
