"""Risk marks through admin: placed on one number or a list, lifted; the lifecycle moves as docs/lifecycle.md says."""

from datetime import timedelta

import pytest
from django.core.files.uploadedfile import SimpleUploadedFile
from django.test import Client
from django.urls import reverse
from django.utils import timezone

from numbers.models import Event, EventKind, FeedStatus, MarkEffect, PhoneNumber, RiskList, RiskMark, State
from numbers.oversight import admin as admin_marks
from numbers.oversight import services as risk_lists
from numbers.services import number_cancel
from tests.factories import PhoneNumberFactory
from tests.numbers.helpers_oversight import report_rows

PLACE = reverse("admin:numbers_riskmark_add")
TERMS = {"category": "fraud", "authority": "公安部反诈中心", "reference": "FZ-1", "effect": "suspend"}


def placed():
    """The lists placed through the form in the test (the world has lists of its own, placed by no one)."""
    return RiskList.objects.filter(created_by__isnull=False)


@pytest.fixture(autouse=True)
def _private_files(settings, tmp_path):
    settings.PRIVATE_FILES_ROOT = tmp_path / "private"


@pytest.fixture
def place(client, django_capture_on_commit_callbacks):
    """POST the place form as the signed-in user; the list's task runs (eagerly) after the commit."""

    def post(data):
        with django_capture_on_commit_callbacks(execute=True):
            response = client.post(PLACE, data)
        return response

    return post


def _national(msisdn: str) -> str:
    return msisdn.removeprefix("+86")


def _lift_url(mark) -> str:
    return reverse("admin:numbers_riskmark_lift", args=[mark.pk])


def test_regulator_suspends_a_frozen_number_and_lifts_the_mark(client, place, regulator, world):
    number = world["CMCC"].frozen
    frozen_until = number.frozen_until
    client.force_login(regulator)
    # when the regulator suspends it, typing the number the national way
    response = place({**TERMS, "numbers": _national(number.msisdn)})
    risk_list = placed().get()
    assert response.status_code == 302
    assert response["Location"] == reverse("admin:numbers_risklist_change", args=[risk_list.pk])
    assert (risk_list.status, risk_list.applied, risk_list.rejected) == (FeedStatus.DONE, 1, 0)
    number.refresh_from_db()
    assert (number.state, number.suspended_from) == (State.SUSPENDED, State.FROZEN)
    mark = RiskMark.objects.get(number=number)
    assert mark.placed_by == regulator and mark.authority == "公安部反诈中心"
    event = Event.objects.filter(number=number).order_by("-id").first()
    assert (event.kind, event.from_state, event.to_state, event.actor) == (
        EventKind.MARK_PLACED, State.FROZEN, State.SUSPENDED, "regulator")
    # then it is out of every list of numbers on sale
    assert not PhoneNumber.objects.filter(state=State.AVAILABLE, pk=number.pk).exists()

    # when the regulator lifts it
    response = client.post(_lift_url(mark))
    assert response.status_code == 302
    number.refresh_from_db()
    assert (number.state, number.suspended_from, number.frozen_until) == (State.FROZEN, "", frozen_until)
    mark.refresh_from_db()
    assert mark.lifted_by == regulator and mark.lifted_at is not None
    event = Event.objects.filter(number=number).order_by("-id").first()
    assert (event.kind, event.to_state, event.actor) == (EventKind.MARK_LIFTED, State.FROZEN, "regulator")


def test_lifting_recomputes_frozen_until_from_the_marks_left(client, place, regulator, world):
    number = world["CMCC"].frozen
    client.force_login(regulator)
    place({**TERMS, "numbers": number.msisdn, "effect": "extend", "extra_days": "30", "reference": "A"})
    place({**TERMS, "numbers": number.msisdn, "effect": "extend", "extra_days": "10", "reference": "B"})
    place({**TERMS, "numbers": number.msisdn, "reference": "C"})
    number.refresh_from_db()
    assert number.state == State.SUSPENDED
    assert number.frozen_until == number.cancelled_at + timedelta(days=90 + 30)
    suspend = RiskMark.objects.get(number=number, effect=MarkEffect.SUSPEND)
    longest = RiskMark.objects.get(number=number, reference="A")
    # lift the suspension and the longest extension, in one action
    response = client.post(reverse("admin:numbers_riskmark_changelist"), {
        "action": "lift_marks", "_selected_action": [suspend.pk, longest.pk]})
    assert response.status_code == 302
    number.refresh_from_db()
    assert number.state == State.FROZEN
    assert number.frozen_until == number.cancelled_at + timedelta(days=90 + 10)
    assert RiskMark.objects.in_force().filter(number=number).count() == 1


def test_a_mark_on_an_active_number_waits_for_its_cancellation(client, place, regulator, world):
    number, operator = world["CMCC"].active, world["CMCC"].operator
    client.force_login(regulator)
    place({**TERMS, "numbers": number.msisdn, "effect": "extend", "extra_days": "45"})
    number.refresh_from_db()
    assert (number.state, number.frozen_until) == (State.ACTIVE, None)
    # when the holder cancels
    at = timezone.now() - timedelta(days=1)
    number_cancel(number=number, operator=operator, at=at, actor="test")
    number.refresh_from_db()
    assert number.state == State.FROZEN
    assert number.frozen_until == at + timedelta(days=90 + 45)


def test_a_list_with_bad_lines_applies_the_good_ones_and_reports_the_rest(client, place, regulator, world):
    frozen, fresh, active = world["CMCC"].frozen, world["CMCC"].fresh, world["CUCC"].active
    unknown = "+8613912345678"
    text = "\n".join([
        "msisdn",                          # 1 header
        _national(frozen.msisdn),          # 2 good (national)
        ",,,",                             # 3 blank (a spreadsheet's empty row)
        "12345",                           # 4 not a number
        unknown,                           # 5 not in the portal
        f"{active.msisdn},other columns",  # 6 good (CSV, E.164)
        frozen.msisdn,                     # 7 the same number as line 2: counted once
        fresh.msisdn,                      # 8 never used: no freeze to extend
        "0" + _national(world["CUCC"].frozen.msisdn),  # 9 good: a trunk prefix, found by the full parser
    ])
    client.force_login(regulator)
    place({**TERMS, "numbers": text, "effect": "extend", "extra_days": "20"})
    risk_list = placed().get()
    assert (risk_list.lines, risk_list.applied, risk_list.rejected) == (7, 3, 3)
    assert risk_list.summary["duplicates"] == 1
    assert [(r["line"], r["reason"]) for r in report_rows(risk_list)] == [
        ("4", "invalid_msisdn"), ("5", "unknown_number"), ("8", "no_freeze")]
    page = client.get(reverse("admin:numbers_risklist_change", args=[risk_list.pk])).content
    assert b"no_freeze" in page and b"unknown_number" in page
    frozen.refresh_from_db()
    assert frozen.frozen_until == frozen.cancelled_at + timedelta(days=110)
    assert not RiskMark.objects.filter(number=fresh).exists()
    event = Event.objects.filter(number=frozen, kind=EventKind.MARK_PLACED).get()
    assert (event.actor, event.detail["extra_days"], event.detail["authority"]) == ("regulator", 20, "公安部反诈中心")
    assert event.detail["mark"] == RiskMark.objects.get(number=frozen, reference="FZ-1").pk

    # the same list again changes nothing: the marks already in force are counted, not placed twice
    marks, events = RiskMark.objects.count(), Event.objects.count()
    place({**TERMS, "numbers": text, "effect": "extend", "extra_days": "20"})
    again = placed().exclude(pk=risk_list.pk).get()
    assert (again.applied, again.already_applied, again.rejected) == (0, 3, 3)
    assert (RiskMark.objects.count(), Event.objects.count()) == (marks, events)


def test_the_progress_endpoint_reports_done_and_total(client, place, regulator, world):
    client.force_login(regulator)
    place({**TERMS, "numbers": "\n".join(w.frozen.msisdn for w in world.values())})
    risk_list = placed().get()
    progress = client.get(reverse("admin:numbers_risklist_progress", args=[risk_list.pk])).json()
    assert progress == {"status": "done", "done": 2, "total": 2, "applied": 2, "already_applied": 0,
                        "rejected": 0, "error": "", "finished": True}
    assert client.get(reverse("admin:numbers_risklist_progress", args=[risk_list.pk + 1])).status_code == 404


def test_an_uploaded_file_with_a_bom(client, place, regulator, world):
    numbers = [world["CMCC"].frozen, world["CUCC"].frozen, world["CMCC"].fresh]
    content = ("\ufeffmsisdn,note\r\n" + "\r\n".join(f"{n.msisdn},x" for n in numbers)).encode("utf-8")
    client.force_login(regulator)
    place({**TERMS, "file": SimpleUploadedFile("list.csv", content, "text/csv")})
    risk_list = placed().get()
    assert (risk_list.applied, risk_list.rejected, risk_list.original_name) == (3, 0, "list.csv")
    for n in numbers:
        n.refresh_from_db()
        assert n.state == State.SUSPENDED


def test_a_file_with_a_bad_byte_names_its_line_and_places_nothing(client, place, regulator, world):
    client.force_login(regulator)
    content = "\n".join(w.frozen.msisdn for w in world.values()).encode() + "\n号码\n".encode("gb18030")
    place({**TERMS, "file": SimpleUploadedFile("list.txt", content, "text/plain")})
    risk_list = placed().get()
    assert risk_list.status == FeedStatus.FAILED and "line 3" in risk_list.error
    assert RiskMark.objects.count() == 2 and not risk_list.report


def test_a_list_is_applied_once_even_if_its_task_runs_twice(client, place, regulator, world):
    client.force_login(regulator)
    place({**TERMS, "numbers": world["CMCC"].frozen.msisdn})
    risk_list = placed().get()
    events = Event.objects.count()
    risk_lists.risk_list_apply(list_id=risk_list.pk)  # a redelivered task message
    assert Event.objects.count() == events and RiskMark.objects.count() == 3


@pytest.mark.parametrize("data,field,code", [
    ({"effect": "extend", "numbers": "+8613800000001"}, "extra_days", "required"),
    ({"effect": "extend", "extra_days": "0", "numbers": "+8613800000001"}, "extra_days", "min_value"),
    ({"effect": "extend", "extra_days": "3651", "numbers": "+8613800000001"}, "extra_days", "max_value"),
    ({"numbers": ""}, "numbers", "required"),
    ({"numbers": "msisdn\n\n"}, "numbers", "required"),
    ({"authority": "   ", "numbers": "+8613800000001"}, "authority", "required"),
    ({"category": "gossip", "numbers": "+8613800000001"}, "category", "invalid_choice"),
    ({"effect": "delete", "numbers": "+8613800000001"}, "effect", "invalid_choice"),
])
def test_bad_forms_place_nothing(client, regulator, world, data, field, code):
    client.force_login(regulator)
    response = client.post(PLACE, {**TERMS, **data})
    assert response.status_code == 200 and not placed().exists()
    assert code in [e.code for e in response.context["form"].errors.as_data()[field]]
    assert not RiskMark.objects.exclude(pk__in=[w.mark.pk for w in world.values()]).exists()


def test_a_list_and_a_file_at_once_is_refused(client, regulator, world):
    client.force_login(regulator)
    upload = SimpleUploadedFile("list.txt", world["CMCC"].frozen.msisdn.encode(), "text/plain")
    response = client.post(PLACE, {**TERMS, "numbers": world["CUCC"].frozen.msisdn, "file": upload})
    assert [e.code for e in response.context["form"].non_field_errors().as_data()] == ["both"]
    assert RiskMark.objects.count() == 2


def test_too_many_pasted_lines_is_refused_whole(client, regulator, world, monkeypatch):
    monkeypatch.setattr(admin_marks, "MAX_PASTED_LINES", 2)
    client.force_login(regulator)
    text = "\n".join(w.frozen.msisdn for w in world.values()) + "\n+8613912345678"
    response = client.post(PLACE, {**TERMS, "numbers": text})
    errors = response.context["form"].errors.as_data()["numbers"]
    assert [e.code for e in errors] == ["too_many_lines"] and "Upload it as a file" in errors[0].message
    assert RiskMark.objects.count() == 2 and not placed().exists()


def test_a_file_over_the_limit_is_refused_naming_it(client, regulator, world, monkeypatch):
    monkeypatch.setattr(admin_marks, "MAX_UPLOAD_BYTES", 1 << 20)
    client.force_login(regulator)
    upload = SimpleUploadedFile("big.txt", b"13800000001\n" * 100_000, "text/plain")
    response = client.post(PLACE, {**TERMS, "file": upload})
    errors = response.context["form"].errors.as_data()["file"]
    assert [e.code for e in errors] == ["too_large"] and "1 MB" in errors[0].message
    assert not placed().exists()


def test_lifting_a_mark_twice_says_so_and_changes_nothing(client, regulator, world):
    mark = world["CMCC"].mark
    client.force_login(regulator)
    client.post(_lift_url(mark))
    events = Event.objects.count()
    response = client.post(_lift_url(mark), follow=True)
    assert "already lifted" in response.content.decode()
    assert Event.objects.count() == events
    assert client.get(_lift_url(mark)).status_code == 405


def test_operator_admin_neither_places_nor_lifts(client, world):
    mark = world["CMCC"].mark
    client.force_login(world["CMCC"].admin)
    assert client.get(PLACE).status_code == 403
    assert client.post(PLACE, {**TERMS, "numbers": world["CMCC"].frozen.msisdn}).status_code == 403
    assert client.post(_lift_url(mark)).status_code == 403
    client.post(reverse("admin:numbers_riskmark_changelist"), {"action": "lift_marks", "_selected_action": [mark.pk]})
    mark.refresh_from_db()
    assert mark.in_force
    assert RiskMark.objects.count() == 2


def test_the_number_page_links_to_the_place_form(client, regulator, world):
    number = world["CMCC"].frozen
    client.force_login(regulator)
    page = client.get(reverse("admin:numbers_phonenumber_change", args=[number.pk]))
    assert f"{PLACE}?numbers=%2B86".encode() in page.content
    form = client.get(PLACE, {"numbers": number.msisdn}).context["form"]
    assert form.initial["numbers"] == number.msisdn


def test_a_suspend_mark_on_a_never_used_number(client, place, regulator, db):
    number = PhoneNumberFactory()
    client.force_login(regulator)
    place({**TERMS, "numbers": number.msisdn})
    number.refresh_from_db()
    assert (number.state, number.suspended_from) == (State.SUSPENDED, State.AVAILABLE)
    client.post(_lift_url(RiskMark.objects.get(number=number)))
    number.refresh_from_db()
    assert (number.state, number.suspended_from) == (State.AVAILABLE, "")


def test_lifting_more_marks_than_the_cap_at_once_is_refused(client, regulator, world, monkeypatch):
    monkeypatch.setattr(admin_marks, "MAX_LIFT", 1)
    client.force_login(regulator)
    marks = [w.mark.pk for w in world.values()]
    response = client.post(reverse("admin:numbers_riskmark_changelist"),
                           {"action": "lift_marks", "_selected_action": marks}, follow=True)
    assert "At most 1 marks at once" in response.content.decode()
    assert RiskMark.objects.in_force().count() == 2


def test_placing_and_lifting_need_the_csrf_token(regulator, world):
    client = Client(enforce_csrf_checks=True)
    client.force_login(regulator)
    assert client.post(PLACE, {**TERMS, "numbers": world["CMCC"].frozen.msisdn}).status_code == 403
    assert client.post(_lift_url(world["CMCC"].mark)).status_code == 403
    assert RiskMark.objects.in_force().count() == 2
    world["CMCC"].frozen.refresh_from_db()
    assert world["CMCC"].frozen.state == State.FROZEN


def test_the_command_places_a_list_as_the_task_does(tmp_path, regulator, world):
    import io

    from django.core.management import call_command
    from django.core.management.base import CommandError

    path = tmp_path / "list.txt"
    path.write_text("msisdn\n" + "\n".join(w.frozen.msisdn for w in world.values()) + "\n12345\n")
    report = tmp_path / "report.csv"
    out = io.StringIO()
    with pytest.raises(SystemExit) as exit_status:
        call_command("place_risk_list", str(path), "--regulator", "regulator", "--category", "fraud",
                     "--authority", "MPS", "--effect", "extend", "--extra-days", "15", "--report", str(report),
                     stdout=out)
    assert exit_status.value.code == 1  # one line rejected
    assert "invalid_msisdn" in report.read_text()
    for w in world.values():
        w.frozen.refresh_from_db()
        assert w.frozen.frozen_until == w.frozen.cancelled_at + timedelta(days=105)
    assert Event.objects.filter(kind=EventKind.MARK_PLACED, actor="regulator").count() == 2
    with pytest.raises(CommandError):
        call_command("place_risk_list", str(path), "--regulator", world["CMCC"].admin.username, "--category",
                     "fraud", "--authority", "MPS", "--effect", "suspend")
