"""A real Chromium loads every admin page and the API docs with the Content-Security-Policy enforced, and finds no
violation: no `securitypolicyviolation` event and no "Content Security Policy" message in the console.

The admin is reached as a person would: the sign-in page with a password and a code of the authenticator app;
a regulator who has not enrolled yet sees the set-up page with its QR code (a `data:` image only that page allows).
"""

import os
from pathlib import Path

import pytest
from django.contrib import admin
from django.urls import reverse
from django.utils import timezone

from numbers import permission_matrix as pm
from numbers import roles
from numbers.models import HolderPeriod
from renewal.active.reports import harassment_report_create
from renewal.deliveries.services import batch_sweep
from tests.factories import OperatorFactory, UserFactory, staff_user
from tests.helpers_two_factor import current_code, enrol
from tests.numbers.helpers_oversight import operator_world
from tests.renewal.helpers_renewal import make_frozen_numbers, make_key, make_platform

# A live server needs a real database: the SQLite pass deselects `services`.
pytestmark = [pytest.mark.browser, pytest.mark.services, pytest.mark.django_db(transaction=True)]

CHROMIUM = os.environ.get("CHROMIUM_PATH", "/usr/lib/chromium/chromium")
LAUNCH_ARGS = ["--headless", "--no-sandbox", "--disable-gpu", "--no-first-run", "--disable-background-networking",
               "--disable-component-update", "--disable-sync", "--disable-quic"]
# Recorded in every document before its own scripts run (the policy does not apply to Playwright's own).
WATCH = """
window.__csp = [];
document.addEventListener("securitypolicyviolation", (e) => {
  window.__csp.push(`${e.violatedDirective} blocked ${e.blockedURI || "inline"} at ${e.sourceFile}:${e.lineNumber}`);
});
"""


def _missing(message: str) -> None:
    if os.environ.get("CI", "").lower() == "true":
        pytest.fail(message)
    pytest.skip(message)


@pytest.fixture
def browser(require_postgres, monkeypatch):
    try:
        from playwright import sync_api
    except ImportError:
        _missing("Playwright is not installed (pip install -r requirements.txt)")
    if not Path(CHROMIUM).exists():
        _missing(f"no Chromium at {CHROMIUM} (apt-get install -y chromium fonts-wqy-zenhei)")
    monkeypatch.setenv("DJANGO_ALLOW_ASYNC_UNSAFE", "true")
    with sync_api.sync_playwright() as pw:
        chromium = pw.chromium.launch(executable_path=CHROMIUM, args=LAUNCH_ARGS)
        yield chromium
        chromium.close()


class Watched:
    """A page whose CSP violations, from events and from the console, are collected per address."""

    def __init__(self, browser, base_url: str):
        self.context = browser.new_context(locale="en-US", viewport={"width": 1280, "height": 900})
        self.context.add_init_script(WATCH)
        self.page = self.context.new_page()
        self.base = base_url
        self.violations: list[str] = []
        self.page.on("console", lambda m: self._console(m))

    def _console(self, message) -> None:
        if "Content Security Policy" in message.text or "Content-Security-Policy" in message.text:
            self.violations.append(f"{self.page.url}: console: {message.text}")

    def visit(self, path: str, *, ready: str | None = None) -> int:
        response = self.page.goto(self.base + path, wait_until="load")
        assert response is not None
        if ready:
            self.page.wait_for_selector(ready, timeout=30_000)
        else:
            self.page.wait_for_load_state("networkidle")
        for violation in self.page.evaluate("window.__csp || []"):
            self.violations.append(f"{path}: {violation}")
        return response.status


@pytest.fixture
def admin_world(roles_back):
    """Rows on every admin page: two operators' numbers in every state, a platform, its key, a batch, a report."""
    world = {code: operator_world(OperatorFactory(code=code, name=name), tag=code.lower())
             for code, name in (("CMCC", "China Mobile"), ("CUCC", "China Unicom"))}
    make_key(make_platform(name="Alipay", category="payment"))
    make_frozen_numbers(world["CMCC"].operator, 3)
    batch_sweep()
    period = HolderPeriod.objects.get(number=world["CMCC"].active, ended_at__isnull=True)
    harassment_report_create(period=period, category="debt_collection", sender="95xxx", occurred_at=timezone.now(),
                             description="Calls for the previous holder's loan", files=[])
    return world


def admin_pages() -> list[str]:
    """The site's pages and, for every registered model, its list, its add page (where the permission matrix
    has one), and its first row's page and history."""
    pages = [reverse("admin:index"), reverse("admin:dashboard"), reverse("admin:password_change"),
             reverse("admin:two_factor")]
    pages += [reverse("admin:app_list", args=[app]) for app in ("auth", "numbers", "renewal")]
    for model, _model_admin in sorted(admin.site._registry.items(), key=lambda i: i[0]._meta.label_lower):
        name = f"admin:{model._meta.app_label}_{model._meta.model_name}"
        pages.append(reverse(f"{name}_changelist"))
        if pm.scope(model._meta.label_lower, "add", pm.SUPERUSER):
            pages.append(reverse(f"{name}_add"))
        first = model._default_manager.order_by("pk").first()
        if first is not None:
            pages += [reverse(f"{name}_change", args=[first.pk]), reverse(f"{name}_history", args=[first.pk])]
    return pages


def test_every_admin_page_and_the_api_docs_load_without_a_csp_violation(browser, live_server, admin_world,
                                                                        settings, tmp_path):
    settings.ADMIN_2FA_RELAXED = False
    root = UserFactory(username="root", is_staff=True, is_superuser=True)
    device, _codes = enrol(root)
    staff_user(role=roles.REGULATOR, username="new-regulator")
    watched = Watched(browser, live_server.url)
    page = watched.page

    # the sign-in page, then a sign-in with the password and the app's next code
    assert watched.visit(reverse("admin:login")) == 200
    page.fill("#id_username", "root")
    page.fill("#id_password", "pw-for-tests-only")
    page.fill("#id_otp_token", current_code(device, steps_ahead=1))
    with page.expect_navigation():
        page.click("input[type=submit]")
    assert page.url.rstrip("/").endswith("/admin"), page.url

    pages = admin_pages()
    pages += [reverse("admin:auth_user_password_change", args=[root.pk]),
              reverse("admin:auth_user_two_factor_reset", args=[root.pk])]
    refused = [(path, status) for path in pages if (status := watched.visit(path)) != 200]
    assert not refused, f"admin pages that did not answer 200: {refused}"
    page.screenshot(path=str(tmp_path / "last-admin-page.png"), full_page=True)

    # the API docs render (they fetch the schema and draw it)
    assert watched.visit("/api/v1/docs", ready=".swagger-ui .info .title") == 200
    assert watched.visit("/api/v1/redoc", ready="redoc h1, #redoc-container h1, .api-content h1") == 200
    page.screenshot(path=str(tmp_path / "redoc.png"))

    # a regulator who has not enrolled is sent to the set-up page, whose QR code (a data: image) is drawn
    other = Watched(browser, live_server.url)
    other.visit(reverse("admin:login"))
    other.page.fill("#id_username", "new-regulator")
    other.page.fill("#id_password", "pw-for-tests-only")
    with other.page.expect_navigation():
        other.page.click("input[type=submit]")
    other.visit(reverse("admin:index"))
    assert other.page.url.endswith(reverse("admin:two_factor")), other.page.url
    assert other.page.evaluate("document.querySelector('.two-factor-qr img').naturalWidth") > 100
    other.page.screenshot(path=str(tmp_path / "two-factor.png"), full_page=True)

    violations = watched.violations + other.violations
    assert not violations, "CSP violations:\n" + "\n".join(violations)
    assert len(pages) > 60  # every model's pages were walked
