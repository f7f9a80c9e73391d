"""The platform API, version 1 (DESIGN.md "Platform API contract").

Every error, whatever raised it (authentication, permissions, throttling, bad
JSON, an unknown path under /api/), answers with the envelope
`{"error": {"code", "message", "fields"}}`. Lists page by cursor.
"""

import base64
import binascii
import json
import re
import uuid
from collections.abc import Callable
from datetime import UTC, datetime

from django.core.exceptions import PermissionDenied as DjangoPermissionDenied
from django.db.models import F, OuterRef, Q, Subquery
from django.http import Http404, StreamingHttpResponse
from django.utils import timezone
from drf_spectacular.extensions import OpenApiAuthenticationExtension
from drf_spectacular.utils import OpenApiParameter, OpenApiResponse, extend_schema
from rest_framework import exceptions, status
from rest_framework.authentication import BaseAuthentication, get_authorization_header
from rest_framework.permissions import BasePermission
from rest_framework.response import Response
from rest_framework.views import APIView
from rest_framework.views import exception_handler as drf_exception_handler

from numbers.errors import DomainError
from numbers.models import State
from renewal.api.serializers import (
    ConfirmedSerializer,
    ConfirmSerializer,
    DeliveryPageSerializer,
    ErrorSerializer,
    RecycledNumberPageSerializer,
)
from renewal.api.throttling import AnonymousThrottle, ApiKeyThrottle
from renewal.deliveries import bodies, services
from renewal.models import ApiKey, BatchEntry, Delivery, DeliveryState
from renewal.platforms import services as platform_services

MAX_BODY_BYTES = 64 * 1024
DEFAULT_LIMIT, MAX_LIMIT = 100, 1000
_LIMIT = re.compile(r"[0-9]{1,4}")


# --- errors ----------------------------------------------------------------------------------


class PayloadTooLarge(exceptions.APIException):
    status_code = status.HTTP_413_REQUEST_ENTITY_TOO_LARGE
    default_detail = "The request body is too large."
    default_code = "payload_too_large"


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
                  "cancelled": 409, "already_reported": 409}


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
        return Response(error_body(code, exc.message, getattr(exc, "fields", None)),
                        status=_DOMAIN_STATUS.get(code, 409))
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
        message = "Some fields are not valid." if isinstance(exc.detail, dict) else "; ".join(
            fields["non_field_errors"])
    else:
        message = str(exc.detail)
        if code is None:
            codes = exc.get_codes()
            code = codes if isinstance(codes, str) else getattr(exc, "default_code", "error")
            code = "forbidden" if code == "permission_denied" else code
    if isinstance(exc, exceptions.ParseError):
        message = f"The body is not valid JSON: {exc.detail}"
    response.data = error_body(code, message, fields)
    return response


# --- authentication, scope, throttling -------------------------------------------------------


class ApiKeyAuthentication(BaseAuthentication):
    """`Authorization: Bearer <api key>`; request.auth is the ApiKey."""

    def authenticate(self, request):
        header = get_authorization_header(request).split()
        if not header:
            return None
        if header[0].lower() != b"bearer" or len(header) != 2:
            raise exceptions.AuthenticationFailed("Use the header 'Authorization: Bearer <api key>'.")
        try:
            raw = header[1].decode("ascii")
        except UnicodeDecodeError as exc:
            raise exceptions.AuthenticationFailed("The API key is not valid.") from exc
        key = platform_services.api_key_authenticate(raw)
        if key is None:
            raise exceptions.AuthenticationFailed("The API key is not valid or was revoked.")
        return (KeyPrincipal(key), key)

    def authenticate_header(self, request):
        return 'Bearer realm="api"'


class KeyPrincipal:
    """Stands for the key's owner in request.user (there is no Django user behind a key)."""

    is_authenticated = True
    is_anonymous = False

    def __init__(self, key: ApiKey):
        self.key = key

    def __str__(self) -> str:
        return f"api key {self.key.prefix}"


class ApiKeyScheme(OpenApiAuthenticationExtension):
    target_class = "renewal.api.views.ApiKeyAuthentication"
    name = "apiKey"

    def get_security_definition(self, auto_schema):
        return {"type": "http", "scheme": "bearer", "description": "An API key of a platform or an operator."}


class _KeyScope(BasePermission):
    """Allow API keys owned by one kind of owner; another key gets 403 `wrong_scope`."""

    owner_field = ""
    wrong_scope = ""

    def has_permission(self, request, view):
        key = request.auth
        if not isinstance(key, ApiKey):
            raise exceptions.NotAuthenticated("Send 'Authorization: Bearer <api key>'.")
        if getattr(key, self.owner_field) is None:
            raise exceptions.PermissionDenied(self.wrong_scope, code="wrong_scope")
        return True


class PlatformScope(_KeyScope):
    owner_field = "platform_id"
    wrong_scope = "This endpoint needs a platform key."


class OperatorScope(_KeyScope):
    owner_field = "operator_id"
    wrong_scope = "This endpoint needs an operator key."


class PlatformAPIView(APIView):
    """Base of the platform endpoints: key auth, platform scope, per-key throttling, a body size limit."""

    authentication_classes = [ApiKeyAuthentication]
    permission_classes = [PlatformScope]
    throttle_classes = [ApiKeyThrottle]

    def perform_authentication(self, request):
        """Authenticate; a request without a valid key is counted against its address first.

        DRF answers a bad key's 401 (and a missing key's, from the permission) before it runs throttles:
        counted there, someone guessing keys would never be held back.
        """
        try:
            super().perform_authentication(request)
        except exceptions.AuthenticationFailed:
            self._throttle_anonymous(request)
            raise
        if not isinstance(request.auth, ApiKey):
            self._throttle_anonymous(request)

    def _throttle_anonymous(self, request) -> None:
        throttle = AnonymousThrottle()
        if not throttle.allow_request(request, self):
            self.throttled(request, throttle.wait())

    def initial(self, request, *args, **kwargs):
        try:
            length = int(request.META.get("CONTENT_LENGTH") or 0)
        except ValueError:
            length = 0
        if length > MAX_BODY_BYTES:
            raise PayloadTooLarge(f"The request body is larger than {MAX_BODY_BYTES} bytes.")
        super().initial(request, *args, **kwargs)

    @property
    def platform(self):
        return self.request.auth.platform


# --- paging ----------------------------------------------------------------------------------


def _limit(request) -> int:
    raw = request.query_params.get("limit")
    if raw in (None, ""):
        return DEFAULT_LIMIT
    # Plain ASCII digits only: int() would also take " 5", "+5", "1_000" and other scripts' digits.
    if not _LIMIT.fullmatch(raw) or not 1 <= int(raw) <= MAX_LIMIT:
        raise exceptions.ValidationError({"limit": [f"A whole number from 1 to {MAX_LIMIT}."]})
    return int(raw)


def _encode_cursor(values: list) -> str:
    return base64.urlsafe_b64encode(json.dumps(values, separators=(",", ":")).encode()).decode().rstrip("=")


# A cursor the API hands out is base64url of a short JSON list; anything longer was not made here, and the
# bound keeps json.loads away from deep nesting.
_CURSOR = re.compile(r"[A-Za-z0-9_-]{2,200}")
MAX_ROW_ID = 2**63 - 1  # the largest bigint primary key


def _decode_cursor(request, parse: Callable[[list], object | None]):
    """Return `parse(values)` of the `cursor` query parameter, None without one; 400 when it is not ours.

    `parse` checks the shape and types of the decoded JSON list and returns None when they are wrong.
    """
    raw = request.query_params.get("cursor")
    if not raw:
        return None
    values = _cursor_values(raw)
    after = parse(values) if values is not None else None
    if after is None:
        raise exceptions.ValidationError({"cursor": ["Use the next_cursor of a previous page."]})
    return after


def _cursor_values(raw: str) -> list | None:
    if not _CURSOR.fullmatch(raw):
        return None
    try:
        values = json.loads(base64.urlsafe_b64decode(raw + "=" * (-len(raw) % 4)))
    except (binascii.Error, ValueError):  # ValueError covers bad JSON and bytes that are not UTF-8
        return None
    return values if isinstance(values, list) else None


def _delivery_cursor(values: list) -> tuple[datetime, uuid.UUID] | None:
    """(created_at, id) of the last delivery of the previous page."""
    if len(values) != 2 or not all(isinstance(v, str) for v in values):
        return None
    try:
        created_at, delivery_id = datetime.fromisoformat(values[0]), uuid.UUID(values[1])
        # A time without an offset is not one the API wrote; one near year 1 or 9999 may not fit in UTC.
        if created_at.utcoffset() is None:
            return None
        created_at = created_at.astimezone(UTC)
    except (ValueError, OverflowError):
        return None
    return created_at, delivery_id


def _entry_cursor(values: list) -> int | None:
    """The id of the last batch entry of the previous page."""
    if len(values) != 1 or type(values[0]) is not int or not 0 < values[0] <= MAX_ROW_ID:
        return None
    return values[0]


def _iso(value: datetime | None) -> str | None:
    return timezone.localtime(value).isoformat() if value else None


# --- endpoints -------------------------------------------------------------------------------

_ERRORS = {code: OpenApiResponse(ErrorSerializer, description=text) for code, text in {
    400: "validation_error or invalid_json", 401: "not_authenticated", 403: "wrong_scope",
    429: "throttled (see Retry-After)",
}.items()}


class DeliveryListView(PlatformAPIView):
    """The caller's deliveries with their bodies, oldest first (how pull-only platforms read)."""

    @extend_schema(
        operation_id="deliveries_list",
        parameters=[
            OpenApiParameter("cursor", str, description="next_cursor of the previous page"),
            OpenApiParameter("limit", int, description="1 to 1000, default 100"),
            OpenApiParameter("state", str, enum=DeliveryState.values),
        ],
        responses={200: DeliveryPageSerializer, **_ERRORS},
    )
    def get(self, request):
        limit = _limit(request)
        state = request.query_params.get("state")
        if state and state not in DeliveryState.values:
            raise exceptions.ValidationError({"state": [f"One of {', '.join(DeliveryState.values)}."]})
        after = _decode_cursor(request, _delivery_cursor)
        rows = Delivery.objects.filter(platform_id=self.platform.pk).order_by("created_at", "id")
        if state:
            rows = rows.filter(state=state)
        if after:
            rows = rows.filter(Q(created_at__gt=after[0]) | Q(created_at=after[0], id__gt=after[1]))
        page = list(rows.only("id", "event", "state", "attempts", "created_at", "sent_at", "confirmed_at",
                              "chunk_id", "platform_id")[: limit + 1])
        next_cursor = None
        if len(page) > limit:
            page = page[:limit]
            next_cursor = _encode_cursor([page[-1].created_at.isoformat(), str(page[-1].id)])
        response = StreamingHttpResponse(_stream_deliveries(page, next_cursor), content_type="application/json")
        return response


def _stream_deliveries(page: list[Delivery], next_cursor: str | None):
    """Write the page piece by piece: a body can hold 1,000 numbers, a page 1,000 bodies."""
    yield b'{"results":['
    for start in range(0, len(page), 20):
        group = page[start:start + 20]
        built = bodies.build(group)
        for i, d in enumerate(group):
            meta = bodies.dumps({"id": str(d.id), "event": d.event, "state": d.state, "attempts": d.attempts,
                                 "created_at": _iso(d.created_at), "sent_at": _iso(d.sent_at),
                                 "confirmed_at": _iso(d.confirmed_at)})
            yield (b"," if start or i else b"") + meta[:-1] + b',"body":' + built[d.id] + b"}"
    yield b'],"next_cursor":' + bodies.dumps(next_cursor) + b"}"


class DeliveryConfirmView(PlatformAPIView):
    """Confirm a batch delivery: unbound + not_found = the chunk's size. The same again is 200."""

    @extend_schema(
        operation_id="deliveries_confirm", request=ConfirmSerializer,
        responses={200: ConfirmedSerializer, 404: OpenApiResponse(ErrorSerializer, description="not_found"),
                   409: OpenApiResponse(ErrorSerializer, description="already_confirmed, wrong_event, cancelled"),
                   413: OpenApiResponse(ErrorSerializer, description="payload_too_large"), **_ERRORS},
    )
    def post(self, request, delivery_id):
        data = request.data
        if not isinstance(data, dict):
            raise exceptions.ValidationError("Send a JSON object: {\"unbound\": n, \"not_found\": m}.")
        serializer = ConfirmSerializer(data=data)
        serializer.is_valid(raise_exception=True)
        delivery = services.delivery_confirm(platform=self.platform, delivery_id=delivery_id,
                                             **serializer.validated_data)
        return Response({"id": str(delivery.id), "state": delivery.state,
                         "confirmed_at": _iso(delivery.confirmed_at), "unbound": delivery.confirmed_unbound,
                         "not_found": delivery.confirmed_not_found})


class RecycledNumbersView(PlatformAPIView):
    """Numbers in renewal (not yet released) that were pushed to the caller, oldest first."""

    @extend_schema(
        operation_id="recycled_numbers_list",
        parameters=[OpenApiParameter("cursor", str), OpenApiParameter("limit", int, description="1 to 1000")],
        responses={200: RecycledNumberPageSerializer, **_ERRORS},
    )
    def get(self, request):
        limit = _limit(request)
        after = _decode_cursor(request, _entry_cursor)
        mine = Delivery.objects.filter(chunk_id=OuterRef("chunk_id"), platform_id=self.platform.pk).exclude(
            state=DeliveryState.CANCELLED)
        rows = (BatchEntry.objects.filter(number__cycle_id=F("cycle_id"),
                                          number__state__in=[State.FROZEN, State.SUSPENDED])
                .annotate(delivery_id=Subquery(mine.values("id")[:1])).filter(delivery_id__isnull=False)
                .order_by("id"))
        if after is not None:
            rows = rows.filter(id__gt=after)
        # release_not_before is the number's freeze end now (a risk mark may have extended it since the push).
        page = list(rows.values("id", "number__msisdn", "disconnected_at", "number__frozen_until", "delivery_id")
                    [: limit + 1])
        next_cursor = None
        if len(page) > limit:
            page = page[:limit]
            next_cursor = _encode_cursor([page[-1]["id"]])
        results = [{"msisdn": r["number__msisdn"], "disconnected_at": _iso(r["disconnected_at"]),
                    "release_not_before": timezone.localtime(r["number__frozen_until"]).date().isoformat(),
                    "delivery_id": str(r["delivery_id"])} for r in page]
        return Response({"results": results, "next_cursor": next_cursor})
