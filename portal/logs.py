"""Log lines: JSON for machines, plain text for people; the same fields and the same masking in both.

Every line carries the request id (`request_id`, from `RequestIdMiddleware`, also carried into the tasks a
request enqueues) and the Celery task id (`task_id`, set by portal/celery.py while a task runs); either is null
outside a request or a task. Phone numbers are masked in every line, whatever put them there (a message, an
extra field, a traceback): `138****8000`. Settings pick the format (`LOG_FORMAT`: `json`, the default when
DEBUG is off, or `plain`) and an optional JSON file beside the console (`LOG_FILE`).

Feature code logs with the standard library and puts what a machine should find in `extra`, with an `event`
name: ``log.info("feed import finished", extra={"event": "feed_import_finished", "applied": 12})``.
"""

from __future__ import annotations

import contextvars
import logging
import re
import uuid
from typing import Any

from pythonjsonlogger.json import JsonFormatter as _JsonFormatter

request_id: contextvars.ContextVar[str | None] = contextvars.ContextVar("request_id", default=None)
task_id: contextvars.ContextVar[str | None] = contextvars.ContextVar("task_id", default=None)

# Chinese mobile numbers in the forms people and machines write them: 13800138000, +8613800138000,
# 008613800138000, 86-138-0013-8000, 138 0013 8000. The first three and last four digits stay.
_MOBILE = re.compile(r"(?<![\d])((?:\+|00)?86[- ]?)?(1[3-9]\d)[- ]?\d{4}[- ]?(\d{4})(?!\d)")
# Any other E.164 number: the country code's first digits and the last four stay.
_E164 = re.compile(r"(?<![\w+])\+(\d{3})\d{3,9}(\d{4})(?!\d)")


def mask_numbers(text: str) -> str:
    """Return `text` with every phone number in it masked (138****8000)."""
    text = _MOBILE.sub(lambda m: f"{m.group(1) or ''}{m.group(2)}****{m.group(3)}", text)
    return _E164.sub(r"+\1****\2", text)


class ContextFilter(logging.Filter):
    """Put the current request id and task id on every record (a handler's filter: every line gets them)."""

    def filter(self, record: logging.LogRecord) -> bool:
        if not hasattr(record, "request_id"):
            record.request_id = request_id.get()
        if not hasattr(record, "task_id"):
            record.task_id = task_id.get()
        return True


# gunicorn's access log passes its atoms as the record's args: these become fields of the line.
_ACCESS_ATOMS = {"h": "remote_addr", "m": "method", "U": "path", "q": "query", "s": "status", "B": "bytes",
                 "M": "duration_ms", "a": "user_agent", "{x-request-id}o": "request_id"}


class JsonFormatter(_JsonFormatter):
    """One JSON object per line: time, level, logger, message, request_id, task_id and the extras; masked."""

    def __init__(self, **kwargs: Any) -> None:
        kwargs.setdefault("fmt", ["asctime", "levelname", "name", "message", "request_id", "task_id"])
        kwargs.setdefault("rename_fields", {"asctime": "time", "levelname": "level", "name": "logger"})
        kwargs.setdefault("json_ensure_ascii", False)
        super().__init__(**kwargs)

    def add_fields(self, log_record: dict[str, Any], record: logging.LogRecord, message_dict: dict[str, Any]) -> None:
        super().add_fields(log_record, record, message_dict)
        if record.name == "gunicorn.access" and isinstance(record.args, dict):
            for atom, field in _ACCESS_ATOMS.items():
                value = record.args.get(atom)
                if value not in (None, "-", ""):
                    log_record[field] = value

    def format(self, record: logging.LogRecord) -> str:
        return mask_numbers(super().format(record))


# Attributes every LogRecord has: what is left on a record besides these came from `extra`.
_RECORD_ATTRS = set(vars(logging.LogRecord("", 0, "", 0, "", (), None))) | {"message", "asctime", "request_id",
                                                                                  "task_id", "color_message"}


class PlainFormatter(logging.Formatter):
    """One line for people: time, level, logger, message, then the ids and extras as key=value; masked."""

    def __init__(self, **kwargs: Any) -> None:
        kwargs.setdefault("fmt", "%(asctime)s %(levelname)s %(name)s: %(message)s")
        super().__init__(**kwargs)

    def format(self, record: logging.LogRecord) -> str:
        line = super().format(record)
        extras = {k: v for k, v in vars(record).items() if k not in _RECORD_ATTRS and not k.startswith("_")}
        for name in ("request_id", "task_id"):
            if getattr(record, name, None):
                extras[name] = getattr(record, name)
        if extras:
            first, newline, rest = line.partition("\n")  # a traceback stays below the line
            line = first + " " + " ".join(f"{k}={v}" for k, v in extras.items()) + newline + rest
        return mask_numbers(line)


# A request id from the proxy in front (nginx's $request_id) is kept when it looks like one; otherwise a new one.
_REQUEST_ID = re.compile(r"[A-Za-z0-9._-]{8,64}")


class RequestIdMiddleware:
    """Give each request an id (`X-Request-ID`, kept from the proxy or made here): in every log line, and answered."""

    def __init__(self, get_response: Any) -> None:
        self.get_response = get_response

    def __call__(self, request: Any) -> Any:
        given = request.META.get("HTTP_X_REQUEST_ID", "")
        value = given if _REQUEST_ID.fullmatch(given) else uuid.uuid4().hex
        request.request_id = value
        # Cleared when the response is finished (request_finished), not here: Django logs the answer's status
        # (django.request) after the middleware has returned, and that line carries the id too.
        request_id.set(value)
        response = self.get_response(request)
        response["X-Request-ID"] = value
        return response


def clear_request_id(**kwargs: Any) -> None:
    """request_finished: the thread's next log lines belong to no request."""
    request_id.set(None)


admin_log = logging.getLogger("portal.admin")


class AdminActionLogMiddleware:
    """Write every admin action (a POST in the admin: saves, deletions, bulk actions, uploads) to the log.

    Who (user name and role), what (the page and the bulk action's name, how many rows were selected) and the
    answer's status; never the form's values (passwords, secrets).
    """

    def __init__(self, get_response: Any) -> None:
        self.get_response = get_response

    def __call__(self, request: Any) -> Any:
        response = self.get_response(request)
        if request.method == "POST" and self._is_admin_action(request.path_info):
            self._log(request, response)
        return response

    @staticmethod
    def _is_admin_action(path: str) -> bool:
        from django.urls import reverse

        admin = reverse("admin:index")
        return path.startswith(admin) and path not in (reverse("admin:login"), reverse("admin:logout"))

    @staticmethod
    def _log(request: Any, response: Any) -> None:
        from numbers.access import account_role

        user = getattr(request, "user", None)
        if user is None or not user.is_authenticated:
            return
        # Only a form the view already parsed is read: a view that streamed its upload left nothing to parse.
        from django.http import QueryDict

        form = request._post if hasattr(request, "_post") else QueryDict()
        action = form.get("action", "")
        admin_log.info("admin action", extra={
            "event": "admin_action", "user": user.get_username(), "role": account_role(user),
            "path": request.path_info, "action": action[:100],
            "selected": len(form.getlist("_selected_action")) if action else None,
            "status": response.status_code,
        })
