"""The platform API's endpoints of batch renewal: deliveries, their confirmation, the numbers in renewal.

The contract is docs/platform-guide.md. Authentication and scope are renewal.api.auth's, errors
renewal.api.errors', paging renewal.api.paging's.
"""


import json

from django.db.models import F, OuterRef, Q, Subquery
from django.http import StreamingHttpResponse
from django.utils import timezone
from drf_spectacular.utils import OpenApiParameter, extend_schema
from rest_framework import exceptions
from rest_framework.response import Response

from numbers.models import State
from renewal.api.auth import PlatformAPIView
from renewal.api.paging import decode_cursor, delivery_cursor, encode_cursor, entry_cursor, iso, page_limit
from renewal.api.serializers import (
    THROTTLED,
    ConfirmedSerializer,
    ConfirmSerializer,
    DeliveryPageSerializer,
    RecycledNumberPageSerializer,
    error_responses,
)
from renewal.deliveries import services
from renewal.models import BatchEntry, Delivery, DeliveryState

# --- endpoints -------------------------------------------------------------------------------

_ERRORS = error_responses({400: "validation_error or invalid_json", 401: "not_authenticated", 403: "wrong_scope",
                           429: THROTTLED})


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
        limit = page_limit(request)
        state = request.query_params.get("state")
        if state and state not in DeliveryState.values:
            raise exceptions.ValidationError({"state": [f"One of {', '.join(DeliveryState.values)}."]})
        after = decode_cursor(request, delivery_cursor)
        rows = Delivery.objects.filter(platform_id=self.platform.pk).order_by("created_at", "id")
        if state:
            rows = rows.filter(state=state)
        if after:
            rows = rows.filter(Q(created_at__gt=after[0]) | Q(created_at=after[0], id__gt=after[1]))
        page = list(rows.only("id", "event", "state", "attempts", "created_at", "sent_at", "confirmed_at",
                              "chunk_id", "platform_id", "test")[: limit + 1])
        next_cursor = None
        if len(page) > limit:
            page = page[:limit]
            next_cursor = encode_cursor([page[-1].created_at.isoformat(), str(page[-1].id)])
        response = StreamingHttpResponse(_stream_deliveries(page, next_cursor), content_type="application/json")
        return response


def _json(value) -> bytes:
    return json.dumps(value, ensure_ascii=False, separators=(",", ":")).encode()


def _stream_deliveries(page: list[Delivery], next_cursor: str | None):
    """Write the page piece by piece: a body can hold 1,000 numbers, a page 1,000 bodies."""
    yield b'{"results":['
    for start in range(0, len(page), 20):
        group = page[start:start + 20]
        built = services.delivery_bodies(group)
        for i, d in enumerate(group):
            meta = _json({"id": str(d.id), "event": d.event, "state": d.state, "attempts": d.attempts,
                                 "created_at": iso(d.created_at), "sent_at": iso(d.sent_at),
                                 "confirmed_at": iso(d.confirmed_at)})
            yield (b"," if start or i else b"") + meta[:-1] + b',"body":' + built[d.id] + b"}"
    yield b'],"next_cursor":' + _json(next_cursor) + b"}"


class DeliveryConfirmView(PlatformAPIView):
    """Confirm a batch delivery: unbound + not_found = the chunk's size. The same again is 200."""

    @extend_schema(
        operation_id="deliveries_confirm", request=ConfirmSerializer,
        responses={200: ConfirmedSerializer, **error_responses({
            404: "not_found", 409: "already_confirmed, wrong_event, cancelled", 413: "payload_too_large"}), **_ERRORS},
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
                         "confirmed_at": iso(delivery.confirmed_at), "unbound": delivery.confirmed_unbound,
                         "not_found": delivery.confirmed_not_found})


class RecycledNumbersView(PlatformAPIView):
    """Numbers in renewal (not yet released) that were pushed to the caller, oldest first."""

    @extend_schema(
        operation_id="recycled_numbers_list",
        parameters=[OpenApiParameter("cursor", str), OpenApiParameter("limit", int, description="1 to 1000")],
        responses={200: RecycledNumberPageSerializer, **_ERRORS},
    )
    def get(self, request):
        limit = page_limit(request)
        after = decode_cursor(request, entry_cursor)
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
            next_cursor = encode_cursor([page[-1]["id"]])
        results = [{"msisdn": r["number__msisdn"], "disconnected_at": iso(r["disconnected_at"]),
                    "release_not_before": timezone.localtime(r["number__frozen_until"]).date().isoformat(),
                    "delivery_id": str(r["delivery_id"])} for r in page]
        return Response({"results": results, "next_cursor": next_cursor})
