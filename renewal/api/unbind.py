"""Unbind results: one task's (`POST /api/v1/unbind-tasks/{id}/result`) or a delivery's many in one call
(`POST /api/v1/deliveries/{id}/results`)."""

from django.conf import settings
from drf_spectacular.utils import OpenApiExample, extend_schema
from rest_framework import exceptions, serializers
from rest_framework.response import Response

from renewal.active import services as unbind
from renewal.api.auth import PlatformAPIView
from renewal.api.errors import TooManyItems
from renewal.api.paging import iso
from renewal.api.serializers import (
    ITEMS_CALL_ERRORS,
    THROTTLED,
    TOO_LARGE,
    ErrorDetailSerializer,
    error_responses,
)
from renewal.models import MAX_REPORTED_COUNT, UnbindReason

_REASONS = ", ".join(f"`{code}`" for code in UnbindReason.values)


class UnbindResultSerializer(serializers.Serializer):
    status = serializers.ChoiceField(choices=["unbound", "nothing_bound", "rejected"])
    accounts = serializers.IntegerField(min_value=0, max_value=MAX_REPORTED_COUNT, required=False,
                                        help_text="Accounts unbound (required when status is unbound).")
    reason = serializers.ChoiceField(choices=UnbindReason.values, required=False,
                                     help_text=f"Required when status is rejected, refused otherwise: {_REASONS}.")
    detail = serializers.CharField(max_length=500, required=False, allow_blank=True,
                                   help_text="Optional free text (at most 500 characters); not shown to the "
                                             "subscriber as the reason, and ignored when comparing a repeat.")


class UnbindTaskReportedSerializer(serializers.Serializer):
    id = serializers.UUIDField()
    status = serializers.CharField()
    accounts = serializers.IntegerField()
    reason = serializers.CharField()
    detail = serializers.CharField()
    reported_at = serializers.DateTimeField()


class UnbindResultItemSerializer(UnbindResultSerializer):
    task_id = serializers.UUIDField(help_text="A task of this delivery.")


class UnbindResultsSerializer(serializers.Serializer):
    items = UnbindResultItemSerializer(many=True, help_text="1 to 1,000 items.")


class UnbindResultAnswerSerializer(serializers.Serializer):
    index = serializers.IntegerField(help_text="The item's position in the request.")
    task_id = serializers.UUIDField(required=False)
    status = serializers.CharField(required=False)
    accounts = serializers.IntegerField(required=False)
    reason = serializers.CharField(required=False)
    detail = serializers.CharField(required=False)
    reported_at = serializers.DateTimeField(required=False)
    error = ErrorDetailSerializer(required=False, help_text="not_found, validation_error or already_reported")


class UnbindResultsAnswerSerializer(serializers.Serializer):
    results = UnbindResultAnswerSerializer(many=True)


class UnbindTaskResultView(PlatformAPIView):
    """Report an unbind task's result. The same result again is 200; a different one is 409 already_reported."""

    @extend_schema(
        operation_id="unbind_tasks_result", request=UnbindResultSerializer,
        responses={
            200: UnbindTaskReportedSerializer,
            **error_responses({400: "validation_error or invalid_json", 401: "not_authenticated",
                               403: "wrong_scope", 404: "not_found (unknown, or another platform's task)",
                               409: "already_reported", 413: "payload_too_large", 429: THROTTLED}),
        },
    )
    def post(self, request, task_id):
        data = request.data
        if not isinstance(data, dict):
            raise exceptions.ValidationError('Send a JSON object: {"status": "unbound", "accounts": n, "detail": "…"}.')
        # The service checks the values and their JSON types ("3" is not a count), field by field.
        task = unbind.unbind_task_report(platform=self.platform, task_id=task_id, status=data.get("status"),
                                         accounts=data.get("accounts"), reason=data.get("reason"),
                                         detail=data.get("detail"))
        return Response({"id": str(task.pk), "status": task.result, "accounts": task.accounts,
                         "reason": task.reason, "detail": task.detail, "reported_at": iso(task.reported_at)})


class DeliveryResultsView(PlatformAPIView):
    """Report the results of many tasks of one unbind delivery, answered item by item in request order."""

    def body_limit(self) -> int:
        return settings.API_MAX_ITEMS_BODY_BYTES

    @extend_schema(
        operation_id="deliveries_results", request=UnbindResultsSerializer,
        responses={
            200: UnbindResultsAnswerSerializer,
            **error_responses({**ITEMS_CALL_ERRORS, 403: "wrong_scope",
                               404: "not_found (unknown, or another platform's delivery)",
                               409: "wrong_event (a batch delivery)", 413: TOO_LARGE, 429: THROTTLED}),
        },
        examples=[OpenApiExample("mixed", request_only=True, value={"items": [
            {"task_id": "5f0c6c2e-1b7e-4c55-9d1a-0c8f3d2b9e11", "status": "unbound", "accounts": 2},
            {"task_id": "7a4e2b9c-3d6f-4e1a-8b0c-5d9e7f1a2b3c", "status": "rejected", "reason": "legal_hold",
             "detail": "frozen by court order 2026-123"}]}),
            OpenApiExample("answers", response_only=True, value={"results": [
                {"index": 0, "task_id": "5f0c6c2e-1b7e-4c55-9d1a-0c8f3d2b9e11", "status": "unbound", "accounts": 2,
                 "reason": "", "detail": "", "reported_at": "2026-11-28T10:00:00+08:00"},
                {"index": 1, "error": {"code": "not_found", "message": "No such unbind task in this delivery."}}]})],
    )
    def post(self, request, delivery_id):
        data = request.data
        items = data.get("items") if isinstance(data, dict) else None
        if not isinstance(items, list) or not items:
            raise exceptions.ValidationError({"items": ["A list of 1 to 1,000 results: {\"items\": [{\"task_id\", "
                                                        "\"status\", …}]}."]})
        if len(items) > unbind.MAX_RESULT_ITEMS:
            raise TooManyItems(f"At most {unbind.MAX_RESULT_ITEMS} items in one call; this one has {len(items)}.")
        results = unbind.unbind_results_report(platform=self.platform, delivery_id=delivery_id, items=items)
        return Response({"results": results})
