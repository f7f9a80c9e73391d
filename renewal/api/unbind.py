"""`POST /api/v1/unbind-tasks/{id}/result`: a platform reports what it did with one unbind task."""

from drf_spectacular.utils import OpenApiResponse, extend_schema
from rest_framework import exceptions, serializers
from rest_framework.response import Response

from renewal.active import services as unbind
from renewal.api.auth import PlatformAPIView
from renewal.api.paging import iso
from renewal.api.serializers import ErrorSerializer
from renewal.models import MAX_REPORTED_COUNT


class UnbindResultSerializer(serializers.Serializer):
    status = serializers.ChoiceField(choices=["unbound", "nothing_bound", "rejected"])
    accounts = serializers.IntegerField(min_value=0, max_value=MAX_REPORTED_COUNT, required=False,
                                        help_text="Accounts unbound (required when status is unbound).")
    detail = serializers.CharField(max_length=500, required=False, allow_blank=True,
                                   help_text="What happened; the reason when status is rejected.")


class UnbindTaskReportedSerializer(serializers.Serializer):
    id = serializers.UUIDField()
    status = serializers.CharField()
    accounts = serializers.IntegerField()
    detail = serializers.CharField()
    reported_at = serializers.DateTimeField()


class UnbindTaskResultView(PlatformAPIView):
    """Report an unbind task's result. The same result again is 200; a different one is 409 already_reported."""

    @extend_schema(
        operation_id="unbind_tasks_result", request=UnbindResultSerializer,
        responses={
            200: UnbindTaskReportedSerializer,
            400: OpenApiResponse(ErrorSerializer, description="validation_error or invalid_json"),
            401: OpenApiResponse(ErrorSerializer, description="not_authenticated"),
            403: OpenApiResponse(ErrorSerializer, description="wrong_scope"),
            404: OpenApiResponse(ErrorSerializer, description="not_found (unknown, or another platform's task)"),
            409: OpenApiResponse(ErrorSerializer, description="already_reported"),
            413: OpenApiResponse(ErrorSerializer, description="payload_too_large"),
            429: OpenApiResponse(ErrorSerializer, description="throttled (see Retry-After)"),
        },
    )
    def post(self, request, task_id):
        data = request.data
        if not isinstance(data, dict):
            raise exceptions.ValidationError('Send a JSON object: {"status": "unbound", "accounts": n, "detail": "…"}.')
        # The service checks the values and their JSON types ("3" is not a count), field by field.
        task = unbind.unbind_task_report(platform=self.platform, task_id=task_id, status=data.get("status"),
                                         accounts=data.get("accounts"), detail=data.get("detail"))
        return Response({"id": str(task.pk), "status": task.result, "accounts": task.accounts,
                         "detail": task.detail, "reported_at": iso(task.reported_at)})
