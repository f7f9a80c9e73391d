"""The e-mail backend of `make run` and development: each message printed as marked lines (portal.devrun shows
them on the console), so a set-password link or an alert can be followed without a mail server."""

import sys
from collections.abc import Sequence

from django.core.mail.backends.base import BaseEmailBackend
from django.core.mail.message import EmailMessage

EMAIL_MARK = "▶ E-mail"


class MarkedConsoleBackend(BaseEmailBackend):
    def send_messages(self, email_messages: Sequence[EmailMessage]) -> int:
        for message in email_messages:
            lines = [f"{EMAIL_MARK} to {', '.join(message.to)}: {message.subject}"]
            lines += [f"{EMAIL_MARK}   {line}" for line in str(message.body).splitlines() if line.strip()]
            sys.stdout.write("\n".join(lines) + "\n")
            sys.stdout.flush()
        return len(email_messages)
