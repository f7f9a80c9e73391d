"""Every error under /api/ answers with the API's error envelope, whoever produced it.

DRF views already do (renewal.api.views.exception_handler); this catches the rest:
an unknown path (also Django's debug 404 page under DEBUG), a plain view's 405,
a server error page.
"""

from django.http import JsonResponse

_CODES = {400: "bad_request", 401: "not_authenticated", 403: "forbidden", 404: "not_found",
          405: "method_not_allowed", 413: "payload_too_large", 429: "throttled", 500: "server_error"}
_MESSAGES = {404: "No such resource.", 405: "This method is not allowed here.",
             500: "The portal failed to answer; try again later."}


class ApiErrorEnvelopeMiddleware:
    def __init__(self, get_response):
        self.get_response = get_response

    def __call__(self, request):
        response = self.get_response(request)
        if (request.path.startswith("/api/") and response.status_code >= 400
                and not response.get("Content-Type", "").startswith("application/json")):
            status = response.status_code
            body = {"error": {"code": _CODES.get(status, "error"),
                              "message": _MESSAGES.get(status, response.reason_phrase), "fields": {}}}
            envelope = JsonResponse(body, status=status)
            for header in ("Allow", "Retry-After", "WWW-Authenticate"):
                if header in response:
                    envelope[header] = response[header]
            return envelope
        return response
