"""The HTTP SMS gateway backend against a real local HTTP server (the edge we do not own)."""

import base64
import json
import logging
import threading
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

import pytest

from renewal.active.sms import HttpGatewayBackend, SmsSendError
from renewal.active.tasks import sms_code_send_task
from tests.renewal.helpers_renewal import free_port


@pytest.fixture
def gateway():
    """A gateway that answers the queued status codes in turn (then 200) and records what it got."""
    received, answers = [], []

    class Handler(BaseHTTPRequestHandler):
        def log_message(self, *args):
            pass

        def do_POST(self):
            body = self.rfile.read(int(self.headers["Content-Length"]))
            received.append({"auth": self.headers.get("Authorization"), "json": json.loads(body)})
            self.send_response(answers.pop(0) if answers else 200)
            self.send_header("Content-Length", "0")
            self.end_headers()

    server = ThreadingHTTPServer(("127.0.0.1", free_port(8530, 8539)), Handler)
    threading.Thread(target=server.serve_forever, daemon=True).start()
    yield f"http://127.0.0.1:{server.server_address[1]}/sms", received, answers
    server.shutdown()
    server.server_close()


@pytest.fixture
def use_gateway(settings, gateway):
    url, received, answers = gateway
    settings.SMS_BACKEND = "renewal.active.sms.HttpGatewayBackend"
    settings.SMS_GATEWAY_URL, settings.SMS_GATEWAY_USER, settings.SMS_GATEWAY_PASSWORD = url, "portal", "s3cret"
    return received, answers


def test_the_gateway_gets_the_message_with_credentials(use_gateway):
    received, _ = use_gateway
    HttpGatewayBackend().send(to="+8613800138000", body="hello")
    (got,) = received
    assert got["json"] == {"to": "+8613800138000", "text": "hello"}
    assert got["auth"] == "Basic " + base64.b64encode(b"portal:s3cret").decode()


def test_a_failing_gateway_raises(use_gateway, settings):
    _, answers = use_gateway
    answers.append(503)
    with pytest.raises(SmsSendError, match="503"):
        HttpGatewayBackend().send(to="+8613800138000", body="hello")
    settings.SMS_GATEWAY_URL = "http://127.0.0.1:1/nothing-listens"
    with pytest.raises(SmsSendError):
        HttpGatewayBackend().send(to="+8613800138000", body="hello")


@pytest.fixture
def eager_retries():
    """Let eager retries run as a worker's would (the eager mode of tests otherwise raises at the first)."""
    from portal.celery import app

    before = app.conf.task_eager_propagates
    app.conf.task_eager_propagates = False
    yield
    app.conf.task_eager_propagates = before


def test_failures_are_logged_without_the_code_and_retried(use_gateway, holder, caplog, eager_retries):
    received, answers = use_gateway
    number, _ = holder
    answers.extend([500, 502])
    with caplog.at_level(logging.WARNING, logger="renewal.active.sms"):
        # apply() runs the task here and its retries too (a worker would wait 2 s, 4 s, … in between)
        sms_code_send_task.apply(args=[number.msisdn, "en"], throw=False)
    assert len(received) == 3  # two failures, then delivered
    codes = [m["json"]["text"] for m in received]
    assert all("sign-in code" in text for text in codes)
    warnings = [r.getMessage() for r in caplog.records if r.name == "renewal.active.sms"]
    assert len(warnings) == 2 and all("gateway answered 5" in w for w in warnings)
    for text in codes:
        code = text.split("code is ")[1][:6]
        assert all(code not in w and number.msisdn not in w for w in warnings)


def test_a_number_not_in_service_never_reaches_the_gateway(use_gateway, operator):
    from tests.factories import PhoneNumberFactory

    received, _ = use_gateway
    sms_code_send_task.delay(PhoneNumberFactory(range_holder=operator).msisdn)
    assert received == []
