"""The app is named `numbers`, like a standard-library module: both work under every entry point.

`decimal` and `fractions` register their types with the standard module's abstract classes, and the app's
package re-exports those classes (numbers/__init__.py, portal/stdlib_numbers.py). Each entry point loads
the app its own way, so each is started for real and asked the same questions.
"""

import os
import subprocess
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parents[2]
BIN = Path(sys.executable).parent
PROBE = """
import decimal, fractions, sys
import numbers
from numbers.models import PhoneNumber
assert hasattr(numbers, "__path__"), "numbers is not the app"
assert isinstance(decimal.Decimal(1), numbers.Number)
assert isinstance(fractions.Fraction(1, 2), numbers.Rational)
assert isinstance(3, numbers.Integral) and not isinstance("3", numbers.Number)
assert numbers.Number is sys.modules["_stdlib_numbers"].Number
assert fractions.Fraction(decimal.Decimal("0.5")) == fractions.Fraction(1, 2)
print("stdlib-numbers-ok", PhoneNumber._meta.label)
"""


def _env(tmp_path) -> dict:
    env = {**os.environ, "DEBUG": "true", "PORTAL_VAR_DIR": str(tmp_path / "var")}
    for name in ("DJANGO_SETTINGS_MODULE", "DATABASE_URL", "CELERY_BROKER_URL", "CACHE_URL"):
        env.pop(name, None)
    return env


def _run(args, tmp_path, **kwargs) -> str:
    done = subprocess.run(args, cwd=ROOT, env=_env(tmp_path), capture_output=True, text=True, timeout=120, **kwargs)
    assert done.returncode == 0, done.stdout[-2000:] + done.stderr[-3000:]
    return done.stdout


def test_under_pytest():
    exec(PROBE, {})  # noqa: S102  (the same probe as the other entry points)


def test_under_manage_py(tmp_path):
    assert "stdlib-numbers-ok numbers.PhoneNumber" in _run(
        [sys.executable, "manage.py", "shell", "-c", PROBE], tmp_path)


def test_under_celery(tmp_path):
    out = _run([str(BIN / "celery"), "-A", "portal", "shell", "--python", "--without-tasks"], tmp_path, input=PROBE)
    assert "stdlib-numbers-ok numbers.PhoneNumber" in out


def test_under_gunicorn(tmp_path):
    config = tmp_path / "probe.py"
    config.write_text("import os\n\n\ndef when_ready(server):\n" + "".join(
        f"    {line}\n" for line in PROBE.strip().splitlines()) + "    os._exit(0)\n")
    out = _run([str(BIN / "gunicorn"), "--preload", "-c", str(config), "-b", "127.0.0.1:0", "portal.wsgi"], tmp_path)
    assert "stdlib-numbers-ok numbers.PhoneNumber" in out
