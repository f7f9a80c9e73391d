"""Reassignment queries (`POST /api/v1/reassignment-queries`): was a number disconnected since a date?

Any platform key may ask, a query-only site's included; the answers are renewal.queries'.
"""

from django.conf import settings
from drf_spectacular.utils import OpenApiExample, extend_schema
from rest_framework import exceptions, serializers
from rest_framework.response import Response

from renewal.api.auth import PlatformAPIView, QueryScope
from renewal.api.errors import TooManyItems
from renewal.api.serializers import (
    ITEMS_CALL_ERRORS,
    THROTTLED,
    TOO_LARGE,
    ErrorDetailSerializer,
    error_responses,
)
from renewal.queries import services


class QueryItemSerializer(serializers.Serializer):
    msisdn = serializers.CharField(required=False, help_text="E.164 (national input accepted); or msisdn_sha256.")
    msisdn_sha256 = serializers.CharField(required=False, help_text="Lowercase hex SHA-256 of the UTF-8 E.164 "
                                                                    "string, with +. Not anonymity.")
    since = serializers.DateField(help_text="The local date (Asia/Shanghai) the number was last verified.")


class QueriesSerializer(serializers.Serializer):
    items = QueryItemSerializer(many=True, help_text="1 to 1,000 items.")


class QueryAnswerSerializer(serializers.Serializer):
    index = serializers.IntegerField(help_text="The item's position in the request.")
    answer = serializers.ChoiceField(choices=["yes", "no", "no_data"], required=False)
    error = ErrorDetailSerializer(required=False, help_text="invalid_msisdn or validation_error")


class QueryAnswersSerializer(serializers.Serializer):
    results = QueryAnswerSerializer(many=True)


class ReassignmentQueriesView(PlatformAPIView):
    """Answer up to 1,000 reassignment queries in request order: yes, no or no_data."""

    permission_classes = [QueryScope]

    def body_limit(self) -> int:
        return settings.API_MAX_ITEMS_BODY_BYTES

    @extend_schema(
        operation_id="reassignment_queries", request=QueriesSerializer,
        responses={
            200: QueryAnswersSerializer,
            **error_responses({**ITEMS_CALL_ERRORS, 403: "wrong_scope (an operator key)", 413: TOO_LARGE,
                               429: THROTTLED}),
        },
        examples=[OpenApiExample("clear and hashed", request_only=True, value={"items": [
            {"msisdn": "+8613800138000", "since": "2026-05-10"},
            {"msisdn_sha256": "ec61f3c620a98bdead8c1f1f0ae747abd1b62a0c2dba4fd4bc22cf0d1d8653e5",
             "since": "2025-01-01"},
            {"msisdn": "12345", "since": "2026-05-10"}]}),
            OpenApiExample("answers", response_only=True, value={"results": [
                {"index": 0, "answer": "yes"}, {"index": 1, "answer": "no_data"},
                {"index": 2, "error": {"code": "invalid_msisdn",
                                       "message": "“12345” is not a valid mobile number: too short."}}]})],
    )
    def post(self, request):
        data = request.data
        items = data.get("items") if isinstance(data, dict) else None
        if not isinstance(items, list) or not items:
            raise exceptions.ValidationError({"items": ['A list of 1 to 1,000 queries: {"items": [{"msisdn": "…", '
                                                        '"since": "YYYY-MM-DD"}]}.']})
        if len(items) > services.MAX_QUERY_ITEMS:
            raise TooManyItems(f"At most {services.MAX_QUERY_ITEMS} items in one call; this one has {len(items)}.")
        return Response({"results": services.reassignment_queries_answer(key=request.auth, items=items)})
