"""Every error under /api/ answers with the API's error envelope, whoever produced it.

DRF views already do (renewal.api.views.exception_handler); this catches the rest:
an unknown path (also Django's debug 404 page under DEBUG), a plain view's 405,
a server error page.
"""

from django.http import JsonResponse
from django.utils import translation
from django.utils.translation import gettext_lazy as _
from django.utils.translation.trans_real import parse_accept_lang_header

from numbers import ratelimit
from renewal.api.throttling import AnonymousThrottle

_CODES = {400: "bad_request", 401: "not_authenticated", 403: "forbidden", 404: "not_found",
          405: "method_not_allowed", 413: "payload_too_large", 429: "throttled", 500: "server_error"}
_MESSAGES = {404: _("No such resource."), 405: _("This method is not allowed here."),
             500: _("The portal failed to answer; try again later.")}
API_DEFAULT_LANGUAGE = "en"


class ApiLanguageMiddleware:
    """API messages are for machines first: English unless Accept-Language asks for a language the portal speaks.

    The pages default to zh-hans (LANGUAGE_CODE, the browser or the switcher); under /api/ only the header counts
    (no cookie, no session), and error codes never change with it.
    """

    def __init__(self, get_response):
        self.get_response = get_response

    def __call__(self, request):
        if not request.path.startswith("/api/"):
            return self.get_response(request)
        language = api_language(request.META.get("HTTP_ACCEPT_LANGUAGE", ""))
        translation.activate(language)
        request.LANGUAGE_CODE = language
        response = self.get_response(request)
        response.headers.setdefault("Content-Language", language)
        return response


def api_language(header: str) -> str:
    for code, _quality in parse_accept_lang_header(header):
        if code == "*":
            break
        try:
            return translation.get_supported_language_variant(code)
        except LookupError:
            continue
    return API_DEFAULT_LANGUAGE


class ApiErrorEnvelopeMiddleware:
    def __init__(self, get_response):
        self.get_response = get_response

    def __call__(self, request):
        response = self.get_response(request)
        if (request.path.startswith("/api/") and response.status_code >= 400
                and not response.get("Content-Type", "").startswith("application/json")):
            status = response.status_code
            body = {"error": {"code": _CODES.get(status, "error"),
                              "message": str(_MESSAGES.get(status, response.reason_phrase)), "fields": {}}}
            envelope = JsonResponse(body, status=status)
            for header in ("Allow", "Retry-After", "WWW-Authenticate"):
                if header in response:
                    envelope[header] = response[header]
            return envelope
        return response


HEALTH = "/api/v1/health"


class RateLimitHeadersMiddleware:
    """Every answer under /api/ carries RateLimit-Limit, RateLimit-Remaining and RateLimit-Reset (seconds).

    From the limit that counted the request (renewal.api.throttling: per key, or per address without a valid key);
    an answer no limit counted (an unknown path) reports the caller's address limit as it stands, without counting
    the request. The health checks are limited by nothing and carry none: liveness must not depend on the cache.
    Outside ApiErrorEnvelopeMiddleware, so its envelopes carry them too.
    """

    def __init__(self, get_response):
        self.get_response = get_response

    def __call__(self, request):
        response = self.get_response(request)
        if request.path.startswith("/api/") and not request.path.startswith(HEALTH):
            usage = getattr(request, "ratelimit_usage", None)
            if usage is None:
                usage = ratelimit.peek(AnonymousThrottle().limit(request), ratelimit.client_address(request))
            response["RateLimit-Limit"] = str(usage.limit.count)
            response["RateLimit-Remaining"] = str(usage.remaining)
            response["RateLimit-Reset"] = str(usage.reset)
        return response
