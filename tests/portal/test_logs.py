"""Log lines: JSON for machines, a request id and a task id on every line, phone numbers masked in every line,
and one line for each thing an operator must be able to find (sign-in refusals, rate limits, admin actions)."""

import json
import logging
import os
import subprocess
import sys

import pytest
from django.test import Client
from django.urls import reverse

from numbers import roles
from portal.logs import JsonFormatter, PlainFormatter, mask_numbers
from tests.factories import staff_user
from tests.numbers.sales.helpers_staff import PASSWORD
from tests.portal.helpers_logs import events, json_lines
from tests.portal.test_settings import PRODUCTION, ROOT

log = logging.getLogger("tests.logs")


@pytest.mark.parametrize(("text", "masked"), [
    ("13800138000", "138****8000"),
    ("+8613800138000", "+86138****8000"),
    ("008613800138000", "0086138****8000"),
    ("call 138 0013 8000 now", "call 138****8000 now"),
    ("86-138-0013-8000", "86-138****8000"),
    ("msisdn=15912345678,", "msisdn=159****5678,"),
    ("+442071838750", "+442****8750"),
])
def test_phone_numbers_are_masked(text, masked):
    assert mask_numbers(text) == masked


@pytest.mark.parametrize("text", [
    "delivery 5f0c1e2a-3d4a-4b5c-8d6e-7f8091a2b3c4", "took 1380013800012 ms", "id 12345", "2026-11-28T10:00:00+08:00",
    "batch 4 chunk 17", "10.0.0.1:8000",
])
def test_what_is_not_a_phone_number_stays(text):
    assert mask_numbers(text) == text


def _record(message, *args, exc=None, **extra):
    record = logging.LogRecord("renewal.test", logging.WARNING, __file__, 1, message, args, exc)
    record.__dict__.update(extra)
    return record


def test_a_json_line_has_the_fields_the_ids_and_the_extras_all_masked():
    try:
        raise ValueError("Key (msisdn)=(+8613800138000) already exists")
    except ValueError:
        exc = sys.exc_info()
    line = json.loads(JsonFormatter().format(_record(
        "code for %s refused", "13800138000", exc=exc, request_id="r1", task_id=None, event="signin_refused",
        msisdn="+8613912345678", 中文="号码 13912345678")))
    assert line["level"] == "WARNING" and line["logger"] == "renewal.test" and line["time"]
    assert line["message"] == "code for 138****8000 refused"
    assert line["request_id"] == "r1" and line["task_id"] is None and line["event"] == "signin_refused"
    assert line["msisdn"] == "+86139****5678" and line["中文"] == "号码 139****5678"
    assert "+86138****8000" in line["exc_info"] and "13800138000" not in json.dumps(line)


def test_a_plain_line_for_people_has_the_same_fields_masked():
    line = PlainFormatter().format(_record("sent to %s", "+8613800138000", request_id="abc", event="sms_failed"))
    assert line.endswith("WARNING renewal.test: sent to +86138****8000 event=sms_failed request_id=abc")


def test_every_request_has_an_id_in_its_lines_and_its_answer(client, db):
    with json_lines() as lines:
        response = client.get("/api/v1/unknown")
    request_id = response["X-Request-ID"]
    assert len(request_id) == 32
    # Django's own line about the 404 is written after the middleware returned: it carries the id too.
    answered = [line for line in lines if line["logger"] == "django.request"]
    assert answered and {line["request_id"] for line in answered} == {request_id}


def test_a_request_id_from_the_proxy_is_kept_and_a_strange_one_replaced(client, db):
    assert client.get("/api/v1/health/live", headers={"x-request-id": "0af7651916cd43dd8448eb211c80319c"}
                      )["X-Request-ID"] == "0af7651916cd43dd8448eb211c80319c"
    replaced = client.get("/api/v1/health/live", headers={"x-request-id": "x\n{\"forged\": 1}"})["X-Request-ID"]
    assert replaced != "x\n{\"forged\": 1}" and len(replaced) == 32


def test_a_task_logs_its_id_and_the_id_of_the_request_that_enqueued_it(holder, django_capture_on_commit_callbacks):
    number, _ = holder
    client = Client(headers={"accept-language": "en"})
    with json_lines() as lines:
        response = client.post("/renew/", {"msisdn": number.msisdn}, REMOTE_ADDR="10.0.0.1")
    traced = [line for line in lines if line["logger"] == "celery.app.trace"]
    assert traced, lines
    assert traced[0]["task_id"] and traced[0]["request_id"] == response["X-Request-ID"]
    assert number.msisdn not in json.dumps(lines)  # the task's arguments are masked too


def _staff_login(client, username, password, address="10.0.0.7"):
    return client.post(reverse("staff:login"), {"username": username, "password": password}, REMOTE_ADDR=address)


def test_refused_staff_sign_ins_are_logged_with_the_reason(client, clerk, settings):
    settings.STAFF_LOGIN_FAILURES_PER_ACCOUNT = 2
    with json_lines() as lines:
        _staff_login(client, "clerk", "wrong")
        _staff_login(client, "clerk", "wrong")
        _staff_login(client, "clerk", PASSWORD)  # the right password, too late
    refused = events(lines, "signin_refused")
    assert [(r["page"], r["reason"], r["user"], r["address"]) for r in refused] == [
        ("staff", "wrong_password", "clerk", "10.0.0.7"), ("staff", "wrong_password", "clerk", "10.0.0.7"),
        ("staff", "throttled", "clerk", "10.0.0.7")]
    assert refused[2]["wait_seconds"] > 0 and PASSWORD not in json.dumps(lines)


def test_a_refused_admin_sign_in_is_logged(client, regulator):
    with json_lines() as lines:
        client.post(reverse("admin:login"), {"username": "regulator", "password": "nope"})
    assert [(r["page"], r["reason"]) for r in events(lines, "signin_refused")] == [("admin", "wrong_password")]


def test_a_wrong_subscriber_code_is_logged_with_the_number_masked(holder):
    number, _ = holder
    client = Client(headers={"accept-language": "en"})
    client.post("/renew/", {"msisdn": number.msisdn}, REMOTE_ADDR="10.0.0.1")
    with json_lines() as lines:
        client.post("/renew/code", {"code": "000000"}, REMOTE_ADDR="10.0.0.1")
    [refused] = events(lines, "signin_refused")
    assert refused["page"] == "subscriber" and refused["reason"] in ("wrong_code", "locked")
    national = number.msisdn[3:]
    assert refused["msisdn"] == f"+86{national[:3]}****{national[-4:]}"


def test_a_rate_limit_hit_is_one_line_per_key_and_window(holder, settings):
    number, _ = holder
    settings.SMS_LIMIT_PER_ADDRESS_HOUR = 1
    client = Client()
    with json_lines() as lines:
        for _ in range(4):
            client.post("/renew/", {"msisdn": number.msisdn}, REMOTE_ADDR="10.0.0.9")
    hits = [(h["limit"], h["key"]) for h in events(lines, "rate_limit_hit")]
    assert ("sms-address-hour", "10.0.0.9") in hits and len(hits) == len(set(hits))


def test_every_admin_action_is_logged_with_who_and_what(client, holder, regulator):
    from renewal.models import HarassmentReport

    number, period = holder
    report = HarassmentReport.objects.create(number=number, holder_period=period, category="fraud", sender="x",
                                             occurred_at=period.started_at, description="y")
    client.force_login(regulator)
    url = reverse("admin:renewal_harassmentreport_change", args=[report.pk])
    with json_lines() as lines:
        client.post(url, {"status": "closed", "notes": "handled 13800138000", "retention_hold": "on",
                          "evidence-TOTAL_FORMS": "0", "evidence-INITIAL_FORMS": "0"})
    [action] = events(lines, "admin_action")
    assert action["user"] == "regulator" and action["role"] == roles.REGULATOR
    assert action["path"] == url and action["status"] == 302
    assert "handled" not in json.dumps(action)  # the form's values are not logged
    report.refresh_from_db()
    assert report.retention_hold and report.status == "closed"


def test_a_bulk_admin_action_names_the_action_and_the_rows(client, db, operator):
    from tests.renewal.helpers_renewal import make_platform

    admin_user = staff_user(role=roles.PLATFORM_ADMIN, username="ops")
    platforms = [make_platform(status="sandbox") for _ in range(2)]
    client.force_login(admin_user)
    with json_lines() as lines:
        client.post(reverse("admin:renewal_platform_changelist"),
                    {"action": "make_live", "_selected_action": [p.pk for p in platforms]})
    [action] = events(lines, "admin_action")
    assert (action["action"], action["selected"], action["role"]) == ("make_live", 2, roles.PLATFORM_ADMIN)


def test_production_logs_json_to_stdout_and_a_file_too(tmp_path):
    log_file = tmp_path / "log" / "web.jsonl"
    env = {k: v for k, v in os.environ.items() if k not in PRODUCTION and k != "LOG_FORMAT"}
    env.update(PRODUCTION, DJANGO_SETTINGS_MODULE="portal.settings", LOG_FILE=str(log_file))
    code = ("import django, logging; django.setup(); "
            "logging.getLogger('renewal.x').warning('SMS to %s failed', '+8613800138000', extra={'event': 'e'})")
    result = subprocess.run([sys.executable, "-c", code], cwd=ROOT, env=env, capture_output=True, text=True,
                            timeout=60)
    assert result.returncode == 0, result.stderr
    for text in (result.stdout, log_file.read_text()):
        [line] = [json.loads(t) for t in text.splitlines() if t.startswith("{")]
        assert line["message"] == "SMS to +86138****8000 failed" and line["event"] == "e"
