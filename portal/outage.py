"""A database outage answers 503 with Retry-After, at once, never a 500 or a hang.

Two doors, because Django turns an exception into a response at every middleware layer: the middleware's
`process_exception` catches what a view raises (in development too, where DEBUG would show its debug page), and
`server_error` (handler500) catches the rest — a session or user loaded in a middleware — in production. Both
answer JSON under /api/ (the API's error envelope) and a short page elsewhere. The connection's own timeout
(DATABASE_CONNECT_TIMEOUT) keeps an unreachable server from holding a request.
"""

import logging
import sys
from collections.abc import Callable

from django.db import InterfaceError, OperationalError
from django.http import HttpRequest, HttpResponse, JsonResponse
from django.utils.html import escape
from django.utils.translation import gettext as _
from django.views.defaults import server_error as django_server_error

from renewal.api.errors import error_body

log = logging.getLogger(__name__)

RETRY_AFTER_SECONDS = 30
OUTAGE_ERRORS = (OperationalError, InterfaceError)


def outage_response(request: HttpRequest) -> HttpResponse:
    """503: the database cannot be reached now; try again shortly."""
    log.error("database unavailable: answered 503", extra={"event": "database_unavailable", "path": request.path})
    message = _("The portal cannot reach its database just now. Nothing was changed; please try again in a "
                "minute.")
    if request.path.startswith("/api/"):
        response: HttpResponse = JsonResponse(error_body("service_unavailable", message), status=503)
    else:
        title = escape(_("Temporarily unavailable"))
        message = escape(message)
        response = HttpResponse(
            f'<!doctype html><html><head><meta charset="utf-8"><meta name="viewport" '
            f'content="width=device-width, initial-scale=1"><title>{title}</title></head>'
            f"<body><h1>{title}</h1><p>{message}</p></body></html>", status=503)
    response["Retry-After"] = str(RETRY_AFTER_SECONDS)
    return response


class DatabaseOutageMiddleware:
    def __init__(self, get_response: Callable[[HttpRequest], HttpResponse]):
        self.get_response = get_response

    def __call__(self, request: HttpRequest) -> HttpResponse:
        return self.get_response(request)

    def process_exception(self, request: HttpRequest, exception: Exception) -> HttpResponse | None:
        return outage_response(request) if isinstance(exception, OUTAGE_ERRORS) else None


def server_error(request: HttpRequest) -> HttpResponse:
    """handler500: a database outage is a 503; anything else Django's own 500 page."""
    if isinstance(sys.exc_info()[1], OUTAGE_ERRORS):
        return outage_response(request)
    return django_server_error(request)
