"""Every API error answers with one envelope: {"error": {"code", "message", "fields"}}, whoever raised it."""




from django.core.exceptions import PermissionDenied as DjangoPermissionDenied
from django.http import Http404
from django.utils.translation import gettext as _
from rest_framework import exceptions, status
from rest_framework.response import Response
from rest_framework.views import exception_handler as drf_exception_handler

from numbers.errors import DomainError
from numbers.queueing import RETRY_AFTER_SECONDS

# --- errors ----------------------------------------------------------------------------------


class PayloadTooLarge(exceptions.APIException):
    status_code = status.HTTP_413_REQUEST_ENTITY_TOO_LARGE
    default_detail = "The request body is too large."
    default_code = "payload_too_large"


class TooManyItems(exceptions.APIException):
    status_code = status.HTTP_400_BAD_REQUEST
    default_detail = "Too many items in one call."
    default_code = "too_many_items"


_CODES = [
    (exceptions.ParseError, "invalid_json"),
    (exceptions.ValidationError, "validation_error"),
    (exceptions.NotAuthenticated, "not_authenticated"),
    (exceptions.AuthenticationFailed, "not_authenticated"),
    (exceptions.NotFound, "not_found"),
    (exceptions.MethodNotAllowed, "method_not_allowed"),
    (exceptions.NotAcceptable, "not_acceptable"),
    (exceptions.UnsupportedMediaType, "unsupported_media_type"),
    (exceptions.Throttled, "throttled"),
]
_DOMAIN_STATUS = {"not_found": 404, "validation_error": 400, "already_confirmed": 409, "wrong_event": 409,
                  "cancelled": 409, "already_reported": 409, "queue_unavailable": 503}


def error_body(code: str, message: str, fields: dict | None = None) -> dict:
    return {"error": {"code": code, "message": message, "fields": fields or {}}}


def _flatten(detail) -> dict:
    if isinstance(detail, dict):
        return {k: [str(m) for m in (v if isinstance(v, list) else [v])] for k, v in detail.items()}
    return {"non_field_errors": [str(m) for m in (detail if isinstance(detail, list) else [detail])]}


def exception_handler(exc, context):
    """DRF's handler (status, Retry-After, WWW-Authenticate), answering with the error envelope."""
    if isinstance(exc, DomainError):
        code = exc.code
        response = Response(error_body(code, exc.message, getattr(exc, "fields", None)),
                            status=_DOMAIN_STATUS.get(code, 409))
        if code == "queue_unavailable":  # the task queue refused the work: nothing was started, try again later
            response["Retry-After"] = str(RETRY_AFTER_SECONDS)
        return response
    if isinstance(exc, Http404):
        exc = exceptions.NotFound()
    elif isinstance(exc, DjangoPermissionDenied):
        exc = exceptions.PermissionDenied()
    response = drf_exception_handler(exc, context)
    if response is None:
        return None
    code = next((c for cls, c in _CODES if isinstance(exc, cls)), None)
    fields = {}
    if isinstance(exc, exceptions.ValidationError):
        fields = _flatten(exc.detail)
        message = _("Some fields are not valid.") if isinstance(exc.detail, dict) else "; ".join(
            fields["non_field_errors"])
    else:
        message = str(exc.detail)
        if code is None:
            codes = exc.get_codes()
            code = codes if isinstance(codes, str) else getattr(exc, "default_code", "error")
            code = "forbidden" if code == "permission_denied" else code
    if isinstance(exc, exceptions.ParseError):
        message = _("The body is not valid JSON: %(detail)s") % {"detail": exc.detail}
    response.data = error_body(code, message, fields)
    return response


