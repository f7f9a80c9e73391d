"""Browser journeys: Debian's Chromium through Playwright, axe-core on every page, screenshots of the key steps.

Needs `apt-get install -y chromium fonts-wqy-zenhei` and the requirements (playwright, axe-playwright-python);
never `playwright install`. In CI a browser test that cannot run fails; elsewhere it is skipped with the reason.
"""

import contextlib
import os
import shutil
import subprocess
from pathlib import Path

import pytest

CHROMIUM = os.environ.get("CHROMIUM_PATH", "/usr/lib/chromium/chromium")
LAUNCH_ARGS = ["--headless", "--no-sandbox", "--disable-gpu", "--no-first-run", "--disable-background-networking",
               "--disable-component-update", "--disable-sync", "--disable-quic"]
PHONE = {"viewport": {"width": 390, "height": 844}, "locale": "zh-CN", "is_mobile": True, "has_touch": True}
DESKTOP = {"viewport": {"width": 1366, "height": 768}, "locale": "zh-CN"}
# A regulator's or an operator administrator's desk: a laptop screen.
DESK = {"width": 1366, "height": 768}
ROOT = Path(__file__).resolve().parents[2]
# axe-core's impacts that fail a journey.
FAILING = ("serious", "critical")


def missing(message: str) -> None:
    """In CI a browser test that cannot run fails; elsewhere it is skipped with the reason."""
    if os.environ.get("CI", "").lower() == "true":
        pytest.fail(message)
    pytest.skip(message)


def accessible(page, where: str) -> None:
    """Run axe-core on the page as it is now; fail on serious or critical violations, naming each."""
    from axe_playwright_python.sync_playwright import Axe

    results = Axe().run(page)
    bad = [v for v in results.response["violations"] if v.get("impact") in FAILING]
    report = "\n".join(f"  {v['impact']}: {v['id']} — {v['help']} "
                       f"({', '.join(n['target'][0] for n in v['nodes'][:3])})" for v in bad)
    assert not bad, f"axe-core on {where} ({page.url}):\n{report}"


class Screens:
    """Screenshots of a journey's key steps, in JOURNEY_SCREENSHOTS (docs/screenshots for the README) or a tmp dir."""

    def __init__(self, folder: Path):
        self.folder = folder
        folder.mkdir(parents=True, exist_ok=True)

    def take(self, page, name: str, *, full_page: bool = False) -> Path:
        path = self.folder / f"{name}.png"
        page.screenshot(path=str(path), full_page=full_page)
        return path


def compile_pending_translations(tmp_path: Path) -> Path | None:
    """Compile locale/pending/*.po (translations of new strings, not yet merged into the catalogue) into a locale
    folder of their own, so that the pages read in Chinese before the merge; None when there is nothing to do."""
    pending = sorted((ROOT / "locale" / "pending").glob("*.po"))
    if not pending or not shutil.which("msgfmt") or not shutil.which("msgcat"):
        return None
    out = tmp_path / "locale-pending" / "zh_Hans" / "LC_MESSAGES"
    out.mkdir(parents=True)
    merged = out / "django.po"
    subprocess.run(["msgcat", "--use-first", "-o", str(merged), *map(str, pending)], check=True)
    subprocess.run(["msgfmt", "-o", str(out / "django.mo"), str(merged)], check=True)
    return tmp_path / "locale-pending"


@contextlib.contextmanager
def chromium(monkeypatch):
    """Yield a Playwright browser (Chinese locale contexts are made by the test)."""
    try:
        from playwright import sync_api
    except ImportError:
        missing("Playwright is not installed (pip install -r requirements.txt)")
    if not Path(CHROMIUM).exists():
        missing(f"no Chromium at {CHROMIUM} (apt-get install -y chromium fonts-wqy-zenhei)")
    # Playwright's sync API keeps an event loop in this thread; the ORM calls here are still synchronous.
    monkeypatch.setenv("DJANGO_ALLOW_ASYNC_UNSAFE", "true")
    with sync_api.sync_playwright() as pw:
        browser = pw.chromium.launch(executable_path=CHROMIUM, args=LAUNCH_ARGS)
        try:
            yield browser
        finally:
            browser.close()


def admin_sign_in(page, base_url: str, username: str, password: str) -> None:
    page.goto(f"{base_url}/admin/login/")
    page.locator("#id_username").fill(username)
    page.locator("#id_password").fill(password)
    with page.expect_navigation():
        page.locator("#id_password").press("Enter")
    assert "/admin/login/" not in page.url, page.content()[:2000]


def assert_accessible(page, selector: str = "#content-main") -> None:
    """axe-core finds no violation in the part of the page this portal renders (Django's admin chrome aside)."""
    from axe_playwright_python.sync_playwright import Axe

    results = Axe().run(page, context=selector)
    assert results.violations_count == 0, results.generate_report()
