"""The webhooks the portal sends, described in the OpenAPI document (3.1 `webhooks`, settings SPECTACULAR_SETTINGS).

Each is a POST to the platform's webhook URL, signed with Standard Webhooks; what a platform answers is only its
status (2xx: received). Written out as raw operations, so the headers are part of the description.
"""

from typing import Any

from drf_spectacular.utils import OpenApiWebhook

from renewal.models import UnbindReason

_EXAMPLE_ID = "0b6f1c2e-3d4a-4b5c-8d6e-7f8091a2b3c4"

_HEADERS: list[dict[str, Any]] = [
    {"name": "webhook-id", "in": "header", "required": True, "schema": {"type": "string", "format": "uuid"},
     "description": "The delivery id: the same on every retry. Deliveries come at least once: deduplicate by it.",
     "example": _EXAMPLE_ID},
    {"name": "webhook-timestamp", "in": "header", "required": True, "schema": {"type": "string"},
     "description": "Unix seconds of this attempt (each attempt signs afresh). Reject one more than 300 seconds "
                    "from your clock.", "example": "1767225600"},
    {"name": "webhook-signature", "in": "header", "required": True, "schema": {"type": "string"},
     "description": "`v1,<base64>`: HMAC-SHA256 keyed with the secret's bytes (the base64 after `whsec_`) over "
                    "`<webhook-id>.<webhook-timestamp>.<raw body>`. During a secret rotation two signatures, "
                    "space-separated, the new secret's first. Verify with the `standardwebhooks` library.",
     "example": "v1,C02fbBskGGmtNBrE3wYHibXX9rN+qCqTxFqh5VmeSFo="},
    {"name": "X-Renewal-Event", "in": "header", "required": True, "schema": {"type": "string"},
     "description": "The event, as in the body."},
]

_RESPONSES = {
    "2XX": {"description": "Received (store it, answer quickly, do the work afterwards)."},
    "default": {"description": "Anything else, a timeout or a refused connection is a failed attempt: retried "
                               "with exponential backoff and jitter, the same webhook-id each time."},
}


def _operation(summary: str, description: str, schema: dict[str, Any], example: dict[str, Any]) -> dict[str, Any]:
    return {"post": {
        "summary": summary,
        "description": description,
        "parameters": _HEADERS,
        "requestBody": {"required": True, "content": {"application/json": {
            "schema": schema, "examples": {"example": {"value": example}}}}},
        "responses": _RESPONSES,
    }}


_BATCH_SCHEMA = {
    "type": "object",
    "required": ["event", "delivery_id", "operator", "numbers"],
    "properties": {
        "event": {"const": "recycled_numbers.batch"},
        "delivery_id": {"type": "string", "format": "uuid"},
        "operator": {"type": "string", "description": "The range holder's code."},
        "numbers": {"type": "array", "maxItems": 1000, "items": {
            "type": "object", "required": ["msisdn", "disconnected_at", "release_not_before"],
            "properties": {
                "msisdn": {"type": "string", "description": "E.164"},
                "disconnected_at": {"type": "string", "format": "date-time"},
                "release_not_before": {"type": "string", "format": "date"},
            }}},
    },
}
_UNBIND_SCHEMA = {
    "type": "object",
    "required": ["event", "delivery_id", "tasks"],
    "properties": {
        "event": {"const": "unbind.request"},
        "delivery_id": {"type": "string", "format": "uuid"},
        "tasks": {"type": "array", "maxItems": 1000, "items": {
            "type": "object", "required": ["task_id", "msisdn", "bound_before", "kinds"],
            "properties": {
                "task_id": {"type": "string", "format": "uuid"},
                "msisdn": {"type": "string", "description": "E.164"},
                "bound_before": {"type": "string", "format": "date-time",
                                 "description": "Remove bindings made before this; never the current holder's."},
                "kinds": {"type": "array", "items": {"enum": ["account", "tag"]}},
            }}},
    },
}
_PING_SCHEMA = {
    "type": "object",
    "required": ["event", "delivery_id", "sent_at"],
    "properties": {
        "event": {"const": "ping"},
        "delivery_id": {"type": "string", "format": "uuid"},
        "sent_at": {"type": "string", "format": "date-time"},
    },
}

BATCH = OpenApiWebhook(name="recycled_numbers.batch", decorator=_operation(
    "Recycled numbers to unbind",
    "Up to 1,000 numbers of one operator that will be sold again. Unbind the old holder's accounts, then confirm "
    "with `POST /api/v1/deliveries/{id}/confirm`.",
    _BATCH_SCHEMA,
    {"event": "recycled_numbers.batch", "delivery_id": _EXAMPLE_ID, "operator": "CMCC",
     "numbers": [{"msisdn": "+8613800138000", "disconnected_at": "2026-08-01T00:00:00+08:00",
                  "release_not_before": "2026-10-30"}]}))

UNBIND = OpenApiWebhook(name="unbind.request", decorator=_operation(
    "A current holder asks for old bindings to be removed",
    "Up to 1,000 tasks. Report every task's result with `POST /api/v1/deliveries/{id}/results` (or one by one "
    "with `POST /api/v1/unbind-tasks/{id}/result`); a rejection names a reason: "
    + ", ".join(UnbindReason.values) + ".",
    _UNBIND_SCHEMA,
    {"event": "unbind.request", "delivery_id": _EXAMPLE_ID, "tasks": [
        {"task_id": "5f0c6c2e-1b7e-4c55-9d1a-0c8f3d2b9e11", "msisdn": "+8613800138000",
         "bound_before": "2026-11-02T10:15:00+08:00", "kinds": ["account"]}]}))

PING = OpenApiWebhook(name="ping", decorator=_operation(
    "A test event",
    "Sent on request to check a receiver (and its signature verification): answer 2xx, nothing else to do.",
    _PING_SCHEMA,
    {"event": "ping", "delivery_id": _EXAMPLE_ID, "sent_at": "2026-11-28T10:00:00+08:00"}))
