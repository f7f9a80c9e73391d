"""Webhook URLs: HTTPS in production, never private or link-local, loopback only under the test setting."""

import socket
import threading
from http.server import BaseHTTPRequestHandler, HTTPServer

import pytest
from django.core.exceptions import ValidationError
from django.test import override_settings

from renewal.deliveries import http as clients
from tests.renewal.helpers_renewal import free_port

PRIVATE = ["http://10.0.0.5/hook", "http://192.168.1.10/hook", "http://172.16.0.1/hook", "http://169.254.169.254/",
           "http://[fe80::1]/hook", "http://[fd00::1]/hook", "http://100.64.0.1/hook", "http://0.0.0.0/hook",
           "http://[::ffff:10.0.0.1]/hook"]


@pytest.mark.parametrize("url", PRIVATE)
def test_private_and_link_local_addresses_are_always_refused(url):
    with override_settings(RENEWAL_WEBHOOK_ALLOW_LOOPBACK=True):
        with pytest.raises(ValidationError):
            clients.validate_webhook_url(url)
        answer = clients.post_webhook(url, body=b"{}", headers={})
        assert not answer.ok and answer.error.startswith("refused:")


def test_a_name_resolving_to_a_private_address_is_refused_at_send_time(monkeypatch):
    monkeypatch.setattr(socket, "getaddrinfo",
                        lambda *a, **k: [(socket.AF_INET, socket.SOCK_STREAM, 6, "", ("10.1.2.3", 443))])
    clients.client().session.connector.clear_dns_cache()
    clients.validate_webhook_url("https://hooks.example.com/x")  # a name passes when saved…
    answer = clients.post_webhook("https://hooks.example.com/x", body=b"{}", headers={})
    assert not answer.ok and answer.error.startswith("refused: hooks.example.com resolves to 10.1.2.3")  # …not sent


@pytest.mark.parametrize("address", ["169.254.169.254", "10.0.0.1", "100.64.0.1", "::ffff:10.0.0.1", "fe80::1"])
def test_the_socket_is_refused_the_address_it_would_connect_to(address):
    family = socket.AF_INET6 if ":" in address else socket.AF_INET
    with pytest.raises(clients.WebhookRefused, match="connecting to a refused address"):
        clients._checked_socket((family, socket.SOCK_STREAM, 6, "", (address, 80)))


@pytest.mark.parametrize("url", ["http://127.0.0.1:8440/x", "http://localhost/x", "http://[::1]/x"])
def test_loopback_only_under_the_development_setting(url):
    with override_settings(RENEWAL_WEBHOOK_ALLOW_LOOPBACK=False):
        with pytest.raises(ValidationError):
            clients.validate_webhook_url(url)
        assert clients.post_webhook(url, body=b"{}", headers={}).error.startswith("refused:")
    with override_settings(RENEWAL_WEBHOOK_ALLOW_LOOPBACK=True):
        assert clients.validate_webhook_url(url) == url


def test_the_connected_address_is_checked_too(monkeypatch):
    """A name that re-resolves between the check and the connection (DNS rebinding) is refused."""
    port = free_port()
    server = _server(port, 200)
    try:
        with override_settings(RENEWAL_WEBHOOK_ALLOW_LOOPBACK=False):
            monkeypatch.setattr(clients, "check_url", lambda url: None)  # the check was fooled
            answer = clients.post_webhook(f"http://127.0.0.1:{port}/x", body=b"{}", headers={})
        assert not answer.ok and answer.error.startswith("refused:") and "loopback" in answer.error
        assert server.hits == 0
    finally:
        server.shutdown()


def test_https_required_in_production():
    with override_settings(RENEWAL_WEBHOOK_REQUIRE_HTTPS=True):
        with pytest.raises(ValidationError) as exc:
            clients.validate_webhook_url("http://hooks.example.com/x")
        assert exc.value.code == "https_required"
        assert clients.validate_webhook_url("https://hooks.example.com/x")
    for bad in ("ftp://hooks.example.com/x", "https://user:pw@hooks.example.com/x", "https:///x"):
        with pytest.raises(ValidationError):
            clients.validate_webhook_url(bad)


def test_redirects_are_not_followed():
    port = free_port()
    server = _server(port, 302, location="http://10.0.0.1/steal")
    try:
        answer = clients.post_webhook(f"http://127.0.0.1:{port}/x", body=b"{}", headers={})
        assert not answer.ok and answer.status == 302
        assert "redirect to http://10.0.0.1/steal (not followed)" in answer.error
        assert server.hits == 1
    finally:
        server.shutdown()


def _server(port, status, location=None):
    class Handler(BaseHTTPRequestHandler):
        def log_message(self, *args):
            pass

        def do_POST(self):
            self.rfile.read(int(self.headers.get("Content-Length") or 0))
            server.hits += 1
            self.send_response(status)
            if location:
                self.send_header("Location", location)
            self.send_header("Content-Length", "0")
            self.end_headers()

    server = HTTPServer(("127.0.0.1", port), Handler)
    server.hits = 0
    threading.Thread(target=server.serve_forever, daemon=True).start()
    return server


# Hosts that are not dotted quads but that clients connect to as addresses (inet_aton's forms), and an IPv4 address
# inside IPv6: each is the loopback address.
DISGUISED_LOOPBACK = ["https://0x7f000001/hook", "https://2130706433/hook", "https://127.1/hook",
                      "https://[::ffff:127.0.0.1]/hook", "https://0177.0.0.1/hook", "https://127.0.0.1./hook",
                      "https://0x7f.1/hook"]


@pytest.mark.parametrize("url", DISGUISED_LOOPBACK)
def test_disguised_loopback_addresses_are_refused_at_save_time(url):
    with override_settings(RENEWAL_WEBHOOK_ALLOW_LOOPBACK=False, RENEWAL_WEBHOOK_REQUIRE_HTTPS=True):
        with pytest.raises(ValidationError) as refused:
            clients.validate_webhook_url(url)
    assert refused.value.code == "address_refused"
    assert "127.0.0.1" in refused.value.messages[0] and "loopback" in refused.value.messages[0]


@pytest.mark.parametrize("url", ["https://0xa000001/hook", "https://167772161/hook", "https://10.1/hook",
                                 "https://0251.0376.0251.0376/hook"])
def test_disguised_private_addresses_are_refused_even_where_loopback_is_allowed(url):
    with override_settings(RENEWAL_WEBHOOK_ALLOW_LOOPBACK=True):
        with pytest.raises(ValidationError):
            clients.validate_webhook_url(url)


@pytest.mark.parametrize("url", ["https://hooks.example.com/renewal", "https://0x7f000001.example.com/hook",
                                 "https://127.1.example.com/x", "https://8.8.8.8/hook"])
def test_names_and_public_addresses_pass_at_save_time(url):
    # Names are resolved and checked at send time, never here (no DNS when saving).
    with override_settings(RENEWAL_WEBHOOK_ALLOW_LOOPBACK=False, RENEWAL_WEBHOOK_REQUIRE_HTTPS=True):
        assert clients.validate_webhook_url(url) == url


def test_a_disguised_loopback_host_is_refused_at_send_time_too():
    # A URL saved before these checks, or typed past them: the resolver's answer is checked when sending.
    with override_settings(RENEWAL_WEBHOOK_ALLOW_LOOPBACK=False):
        answer = clients.post_webhook("http://2130706433:9/hook", body=b"{}", headers={})
    assert not answer.ok and answer.error.startswith("refused:")
