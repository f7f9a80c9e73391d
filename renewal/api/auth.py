"""API keys: `Authorization: Bearer <key>`, the key's scope (platform or operator), throttling, the body limit."""

from typing import TYPE_CHECKING

from django.utils.translation import gettext as _
from django.utils.translation import gettext_lazy
from drf_spectacular.extensions import OpenApiAuthenticationExtension
from rest_framework import exceptions
from rest_framework.authentication import BaseAuthentication, get_authorization_header
from rest_framework.permissions import BasePermission
from rest_framework.views import APIView

from renewal.api.errors import PayloadTooLarge
from renewal.api.throttling import AnonymousThrottle, ApiKeyThrottle
from renewal.models import ApiKey
from renewal.platforms import services as platform_services

if TYPE_CHECKING:
    from django_stubs_ext import StrOrPromise

MAX_BODY_BYTES = 64 * 1024

# --- authentication, scope, throttling -------------------------------------------------------


class ApiKeyAuthentication(BaseAuthentication):
    """`Authorization: Bearer <api key>`; request.auth is the ApiKey."""

    def authenticate(self, request):
        header = get_authorization_header(request).split()
        if not header:
            return None
        if header[0].lower() != b"bearer" or len(header) != 2:
            raise exceptions.AuthenticationFailed(_("Use the header 'Authorization: Bearer <api key>'."))
        try:
            raw = header[1].decode("ascii")
        except UnicodeDecodeError as exc:
            raise exceptions.AuthenticationFailed(_("The API key is not valid.")) from exc
        key = platform_services.api_key_authenticate(raw)
        if key is None:
            raise exceptions.AuthenticationFailed(_("The API key is not valid or was revoked."))
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
    target_class = "renewal.api.auth.ApiKeyAuthentication"
    name = "apiKey"

    def get_security_definition(self, auto_schema):
        return {"type": "http", "scheme": "bearer", "description": "An API key of a platform or an operator."}


class _KeyScope(BasePermission):
    """Allow API keys owned by one kind of owner; another key gets 403 `wrong_scope`."""

    owner_field = ""
    wrong_scope: "StrOrPromise" = ""

    def has_permission(self, request, view):
        key = request.auth
        if not isinstance(key, ApiKey):
            raise exceptions.NotAuthenticated(_("Send 'Authorization: Bearer <api key>'."))
        if getattr(key, self.owner_field) is None:
            raise exceptions.PermissionDenied(self.wrong_scope, code="wrong_scope")
        return True


class QueryScope(_KeyScope):
    """Any platform's key, query-only sites' included (the reassignment queries)."""

    owner_field = "platform_id"
    wrong_scope = gettext_lazy("This endpoint needs a platform key.")


class PlatformScope(QueryScope):
    """A key of a platform that receives deliveries: a query-only site's keys may call the queries only."""

    def has_permission(self, request, view):
        super().has_permission(request, view)
        if request.auth.platform.is_query_only:
            raise exceptions.PermissionDenied("A query-only site's key may call the reassignment queries only.",
                                              code="wrong_scope")
        return True


class OperatorScope(_KeyScope):
    owner_field = "operator_id"
    wrong_scope = gettext_lazy("This endpoint needs an operator key.")


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
            # The stubs say float; DRF passes None itself (check_throttles) and Throttled accepts it.
            self.throttled(request, throttle.wait())  # type: ignore[arg-type]

    def check_permissions(self, request):
        # A key's request counts against the key before its scope is judged: a key of the wrong scope is held back
        # like any other, and its 403 tells it where it stands (RateLimit-* headers).
        self.check_throttles(request)
        self._throttles_checked = True
        super().check_permissions(request)

    def check_throttles(self, request):
        if not getattr(self, "_throttles_checked", False):
            super().check_throttles(request)

    def body_limit(self) -> int:
        """The largest body this endpoint takes (item endpoints: API_MAX_ITEMS_BODY_BYTES)."""
        return MAX_BODY_BYTES

    def initial(self, request, *args, **kwargs):
        try:
            length = int(request.META.get("CONTENT_LENGTH") or 0)
        except ValueError:
            length = 0
        if length > self.body_limit():
            raise PayloadTooLarge(f"The request body is larger than {self.body_limit()} bytes.")
        super().initial(request, *args, **kwargs)

    @property
    def platform(self):
        return self.request.auth.platform




class OperatorAPIView(PlatformAPIView):
    """Base of the operator endpoints (the back office's feeds): operator keys only, a platform key gets 403."""

    permission_classes = [OperatorScope]

    @property
    def operator(self):
        return self.request.auth.operator
