"""The Content-Security-Policy header on every kind of page, and no inline script or style in the portal's own
templates (the real browser's check of every admin page: test_csp_browser.py)."""

import re

import pytest
from django.urls import reverse

from numbers import roles
from renewal.api.urls import REDOC_STYLE_HASHES
from tests.conftest import ROOT
from tests.factories import staff_user

pytestmark = pytest.mark.django_db

# Third-party templates the portal overrides; their inline parts carry the page's nonce.
NONCED = {"drf_spectacular/swagger_ui.html", "drf_spectacular/redoc.html"}


def policy(response) -> dict[str, list[str]]:
    header = response["Content-Security-Policy"]
    return {part.split()[0]: part.split()[1:] for part in (p.strip() for p in header.split(";")) if part}


@pytest.mark.parametrize("url", ["/", "/renew/", "/staff/login/", "/admin/login/", "/api/v1/docs", "/api/v1/redoc"])
def test_every_page_has_the_policy(client, url):
    response = client.get(url)
    assert response.status_code == 200
    csp = policy(response)
    assert csp["default-src"] == ["'self'"] and csp["frame-ancestors"] == ["'none'"]
    assert csp["object-src"] == ["'none'"] and csp["script-src"] == ["'self'"]
    assert "'unsafe-inline'" not in response["Content-Security-Policy"]
    # data: images only where they are drawn: the API docs' icons (and the two-factor page's QR code)
    assert ("data:" in csp["img-src"]) == url.startswith("/api/v1/")


def test_admin_pages_have_the_policy(client):
    client.force_login(staff_user(role=roles.REGULATOR, username="reg"))
    csp = policy(client.get(reverse("admin:index")))
    assert csp["style-src"] == ["'self'"] and csp["img-src"] == ["'self'"]


@pytest.mark.parametrize("url", ["/api/v1/docs", "/api/v1/redoc"])
def test_the_api_docs_get_a_nonce_for_their_inline_styles_only(client, url):
    response = client.get(url)
    nonce = re.search(r"'nonce-([^']+)'", response["Content-Security-Policy"]).group(1)
    hashes = REDOC_STYLE_HASHES if url.endswith("redoc") else []
    assert policy(response)["style-src"] == ["'self'", f"'nonce-{nonce}'", *hashes]
    assert policy(response)["script-src"] == ["'self'"]
    html = response.content.decode()
    assert f'<style nonce="{nonce}">' in html
    assert "fonts.googleapis.com" not in html  # the docs work offline
    assert not re.search(r"<script(?![^>]*\bsrc=)[^>]*>", html), "an inline script on the docs page"
    # Swagger UI's start-up script is a file of its own
    if url.endswith("docs"):
        script = client.get(url + "?script=")
        assert script.status_code == 200 and "SwaggerUIBundle" in script.content.decode()


def test_a_nonce_is_new_on_every_answer(client):
    first, second = client.get("/api/v1/redoc"), client.get("/api/v1/redoc")
    assert first["Content-Security-Policy"] != second["Content-Security-Policy"]


def _templates():
    return sorted(p for p in (ROOT / "templates").rglob("*.html"))


@pytest.mark.parametrize("path", _templates(), ids=lambda p: str(p.relative_to(ROOT / "templates")))
def test_no_inline_script_or_style_in_the_portals_templates(path):
    name = str(path.relative_to(ROOT / "templates"))
    text = path.read_text()
    assert not re.search(r"\sstyle\s*=", text), f"{name}: a style attribute"
    assert not re.search(r"\son[a-z]+\s*=", text), f"{name}: an inline event handler"
    assert "javascript:" not in text, f"{name}: a javascript: address"
    inline_scripts = re.findall(r"<script(?![^>]*\bsrc=)[^>]*>", text)
    styles = re.findall(r"<style[^>]*>", text)
    if name in NONCED:
        assert all('nonce="{{ request.csp_nonce }}"' in tag for tag in inline_scripts + styles), name
    else:
        assert not inline_scripts, f"{name}: an inline script"
        assert not styles, f"{name}: an inline style"
