"""The demo's onboarding step, and the e-mails `make run` shows on its console."""

import io

from django.core import mail
from django.core.management.base import OutputWrapper
from django.test import override_settings

from portal import devrun
from portal.mail import EMAIL_MARK, MarkedConsoleBackend
from renewal.models import PlatformAccount, PlatformRegistration, PlatformStatus
from renewal.onboarding import demo
from tests.renewal.helpers_renewal import make_platform


def test_the_demo_adds_a_waiting_registration_and_an_engineer_of_a_simulated_platform(db):
    make_platform("Elsewhere", webhook_url="https://hooks.example.com/x")
    simulated = make_platform("Simulated", status=PlatformStatus.LIVE, webhook_url="http://127.0.0.1:8090/p/1")
    lines = demo.load(OutputWrapper(io.StringIO()))
    account = PlatformAccount.objects.get()
    assert account.platform == simulated and account.is_owner and account.user.check_password(demo.PASSWORD)
    assert PlatformRegistration.objects.get().state == "pending"
    assert any(path == "/platform/" and demo.ENGINEER in login for _who, path, login in lines)
    demo.load(OutputWrapper(io.StringIO()))  # again: nothing added
    assert PlatformAccount.objects.count() == 1 and PlatformRegistration.objects.count() == 1


def test_the_demo_mail_backend_prints_marked_lines_that_make_run_shows(capsys):
    with override_settings(EMAIL_BACKEND="portal.mail.MarkedConsoleBackend"):
        mail.send_mail("Set your password", "Hello\n\nhttp://127.0.0.1:8000/platform/set-password/MQ/x-y/", None,
                       ["ops@example.cn"])
    printed = capsys.readouterr().out
    assert f"{EMAIL_MARK} to ops@example.cn: Set your password" in printed
    assert f"{EMAIL_MARK}   http://127.0.0.1:8000/platform/set-password/MQ/x-y/" in printed
    assert MarkedConsoleBackend().send_messages([]) == 0


def test_make_runs_console_shows_the_mail_lines(tmp_path):
    out = io.StringIO()
    console = devrun.Console(tmp_path, out)

    class Message:
        name, time = "web", __import__("datetime").datetime.now()
        data = f"noise\n{EMAIL_MARK} to a@b.cn: Subject\n"

    console.write(Message())
    console.close()
    assert out.getvalue() == f"{EMAIL_MARK} to a@b.cn: Subject\n"
