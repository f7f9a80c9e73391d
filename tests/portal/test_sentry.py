"""Error reporting: with SENTRY_DSN set, errors reach the Sentry (or GlitchTip) server with no personal data and
every phone number masked. The server here is a real HTTP server on 127.0.0.1 that keeps what it receives."""

import gzip
import os
import subprocess
import sys
import threading
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

import pytest

from tests.portal.test_settings import PRODUCTION, ROOT
from tests.renewal.helpers_renewal import free_port

# A web request that fails with a number in the message, in a local variable, in the query and in a header; a
# worker's task that fails the same way; a logged error.
SCRIPT = r"""
import django, logging
django.setup()
import sentry_sdk
from django.test import Client
from django.urls import path
from portal import urls

def broken(request):
    msisdn = "+8613800138000"
    code = "123456"
    raise ValueError(f"no holder for {msisdn}")

urls.urlpatterns.append(path("broken", broken))
Client(raise_request_exception=False).get("/broken?msisdn=13800138000", HTTP_X_CALLER="13912345678",
                                          HTTP_COOKIE="sessionid=s3cr3t", REMOTE_ADDR="203.0.113.7",
                                          HTTP_HOST="renewal.example.cn", secure=True)
logging.getLogger("renewal.x").error("SMS to %s failed", "+8613900139000")
sentry_sdk.flush(timeout=10)
"""


@pytest.fixture
def sentry_server():
    received = []

    class Handler(BaseHTTPRequestHandler):
        def log_message(self, *args):
            pass

        def do_POST(self):
            body = self.rfile.read(int(self.headers["Content-Length"]))
            encoding = self.headers.get("Content-Encoding")
            if encoding == "gzip":
                body = gzip.decompress(body)
            elif encoding == "br":  # sentry-sdk compresses with brotli when the package is installed
                import brotli

                body = brotli.decompress(body)
            received.append((self.path, body.decode("utf-8", "replace")))
            self.send_response(200)
            self.send_header("Content-Length", "0")
            self.end_headers()

    server = ThreadingHTTPServer(("127.0.0.1", free_port(8540, 8549)), Handler)
    threading.Thread(target=server.serve_forever, daemon=True).start()
    yield server.server_address[1], received
    server.shutdown()
    server.server_close()


def test_errors_reach_sentry_without_personal_data(sentry_server):
    port, received = sentry_server
    env = {k: v for k, v in os.environ.items() if k not in PRODUCTION}
    env.update(PRODUCTION, DJANGO_SETTINGS_MODULE="portal.settings", SENTRY_DSN=f"http://publickey@127.0.0.1:{port}/7",
               DATABASE_URL="sqlite:///:memory:", LOG_FORMAT="json")
    result = subprocess.run([sys.executable, "-c", SCRIPT], cwd=ROOT, env=env, capture_output=True, text=True,
                            timeout=60)
    assert result.returncode == 0, result.stderr[-3000:]
    assert received and all(path == "/api/7/envelope/" for path, _ in received)
    sent = "\n".join(body for _, body in received)
    assert "no holder for +86138****8000" in sent and "SMS to +86139****9000 failed" in sent
    for secret in ("13800138000", "13912345678", "13900139000", "123456", "s3cr3t", "203.0.113.7"):
        assert secret not in sent, secret
    assert '"environment":"production"' in sent.replace(" ", "")


def test_no_dsn_no_sentry():
    import sentry_sdk
    from django.conf import settings

    assert not settings.SENTRY_DSN and not sentry_sdk.get_client().is_active()
