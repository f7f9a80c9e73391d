"""Request and response shapes of the platform API (the schema is built from these)."""

from collections.abc import Mapping

from drf_spectacular.utils import OpenApiResponse
from rest_framework import serializers

from renewal.models import MAX_REPORTED_COUNT, DeliveryEvent, DeliveryState


class ErrorDetailSerializer(serializers.Serializer):
    code = serializers.CharField()
    message = serializers.CharField()
    # The stubs see Serializer.fields overridden; DRF's metaclass takes declared fields out of the class body.
    fields = serializers.DictField(  # type: ignore[assignment]
        child=serializers.ListField(child=serializers.CharField()), required=False)


class ErrorSerializer(serializers.Serializer):
    error = ErrorDetailSerializer()


def error_responses(described: Mapping[int, str]) -> dict[int, OpenApiResponse]:
    """The OpenAPI document's error answers of an operation: {status: the codes it may carry}, each the envelope."""
    return {status: OpenApiResponse(ErrorSerializer, description=text) for status, text in described.items()}


# Every call of many items (up to 1,000) may be refused whole with these; each operation adds its own.
ITEMS_CALL_ERRORS = {400: "invalid_json, validation_error or too_many_items", 401: "not_authenticated"}
TOO_LARGE = "payload_too_large (over API_MAX_ITEMS_BODY_BYTES)"
THROTTLED = "throttled (see Retry-After)"


class ConfirmSerializer(serializers.Serializer):
    unbound = serializers.IntegerField(min_value=0, max_value=MAX_REPORTED_COUNT)
    not_found = serializers.IntegerField(min_value=0, max_value=MAX_REPORTED_COUNT)

    def to_internal_value(self, data):
        # Counts are JSON integers; "12" or 12.0 is refused rather than guessed.
        if isinstance(data, dict):
            errors = {k: ["A whole number, 0 or more."] for k in ("unbound", "not_found")
                      if k in data and (isinstance(data[k], bool) or not isinstance(data[k], int))}
            if errors:
                raise serializers.ValidationError(errors)
        return super().to_internal_value(data)


class ConfirmedSerializer(serializers.Serializer):
    id = serializers.UUIDField()
    state = serializers.ChoiceField(choices=DeliveryState.choices)
    confirmed_at = serializers.DateTimeField()
    unbound = serializers.IntegerField()
    not_found = serializers.IntegerField()


class BatchNumberSerializer(serializers.Serializer):
    msisdn = serializers.CharField(help_text="E.164")
    disconnected_at = serializers.DateTimeField()
    release_not_before = serializers.DateField()


class DeliveryBodySerializer(serializers.Serializer):
    event = serializers.ChoiceField(choices=DeliveryEvent.choices)
    delivery_id = serializers.UUIDField()
    operator = serializers.CharField(required=False, help_text="recycled_numbers.batch")
    numbers = BatchNumberSerializer(many=True, required=False, help_text="recycled_numbers.batch")
    tasks = serializers.ListField(child=serializers.DictField(), required=False, help_text="unbind.request")


class DeliverySerializer(serializers.Serializer):
    id = serializers.UUIDField()
    event = serializers.ChoiceField(choices=DeliveryEvent.choices)
    state = serializers.ChoiceField(choices=DeliveryState.choices)
    attempts = serializers.IntegerField()
    created_at = serializers.DateTimeField()
    sent_at = serializers.DateTimeField(allow_null=True)
    confirmed_at = serializers.DateTimeField(allow_null=True)
    body = DeliveryBodySerializer(help_text="Exactly what the webhook POST carries.")


class DeliveryPageSerializer(serializers.Serializer):
    results = DeliverySerializer(many=True)
    next_cursor = serializers.CharField(allow_null=True)


class RecycledNumberSerializer(serializers.Serializer):
    msisdn = serializers.CharField()
    disconnected_at = serializers.DateTimeField()
    release_not_before = serializers.DateField()
    delivery_id = serializers.UUIDField()


class RecycledNumberPageSerializer(serializers.Serializer):
    results = RecycledNumberSerializer(many=True)
    next_cursor = serializers.CharField(allow_null=True)
