"""An example of every operation of the OpenAPI document, and the links between operations, in one table.

The ids are those of the fixture objects the schema test seeds before it calls each example
(tests/renewal/api/test_schemathesis.py): every example is a call that succeeds on them. `schema_postprocess`
writes the table into the document (settings SPECTACULAR_SETTINGS, POSTPROCESSING_HOOKS); a test fails when an
operation has no example here.
"""

from typing import Any

# The seeded objects (the schema test's fixture; the same values appear in docs/openapi.yaml).
BATCH_DELIVERY_ID = "0b6f1c2e-3d4a-4b5c-8d6e-7f8091a2b3c4"  # a sent batch delivery of one number
UNBIND_DELIVERY_ID = "3e9d7c1a-2b4f-4a6e-9c8d-1f2e3a4b5c6d"  # a sent unbind delivery of two tasks
UNBIND_TASK_ID = "9b2d4f6a-8c1e-4d3b-a5f7-2e4c6a8b0d1f"  # a task of that delivery, answered one by one
RESULTS_TASK_ID = "c4e6a8b0-d2f4-4a6c-8e0b-1d3f5a7c9e2b"  # the other, answered in a batch of results
FEED_ID = 424242  # a finished feed upload of the operator key's operator, with its report
FEED_SAMPLE = "msisdn,cancelled_at,reason,to_operator\r\n+8613800138000,2026-11-20T09:30:00+08:00,cancel,\r\n"

CANCELLATIONS = {
    "items": [
        {"msisdn": "+8613800138000", "cancelled_at": "2026-11-20T09:30:00+08:00"},
        {"msisdn": "13900139000", "cancelled_at": "2026-11-21T14:00:00+08:00", "reason": "port_out",
         "to_operator": "CUCC"},
    ],
    "dry_run": True,
}

# operationId -> {"parameters": {name: value}, "body": value, "media": request media type}
OPERATIONS: dict[str, dict[str, Any]] = {
    "deliveries_list": {"parameters": {"limit": 10, "state": "sent"}},
    "deliveries_confirm": {"parameters": {"delivery_id": BATCH_DELIVERY_ID}, "body": {"unbound": 1, "not_found": 0}},
    "deliveries_results": {"parameters": {"delivery_id": UNBIND_DELIVERY_ID},
                           "body": {"items": [{"task_id": RESULTS_TASK_ID, "status": "unbound", "accounts": 2}]}},
    "unbind_tasks_result": {"parameters": {"task_id": UNBIND_TASK_ID}, "body": {"status": "nothing_bound"}},
    "recycled_numbers_list": {"parameters": {"limit": 10}},
    "cancellations_create": {"body": CANCELLATIONS},
    "feeds_create": {"body": {"file": FEED_SAMPLE, "kind": "cancellations", "dry_run": True},
                     "media": "multipart/form-data"},
    "feeds_retrieve": {"parameters": {"feed_id": FEED_ID}},
    "feeds_report": {"parameters": {"feed_id": FEED_ID}},
    "reassignment_queries": {"body": {"items": [
        {"msisdn": "+8613800138000", "since": "2026-05-10"},
        {"msisdn_sha256": "ec61f3c620a98bdead8c1f1f0ae747abd1b62a0c2dba4fd4bc22cf0d1d8653e5", "since": "2025-01-01"}]}},
}

# (operationId, status) -> links of that answer (OpenAPI links: what a client calls next with what it got).
LINKS: dict[tuple[str, str], dict[str, Any]] = {
    ("deliveries_list", "200"): {
        "confirm": {"operationId": "deliveries_confirm", "parameters": {"delivery_id": "$response.body#/results/0/id"},
                    "description": "Confirm a delivery the page listed."},
        "results": {"operationId": "deliveries_results", "parameters": {"delivery_id": "$response.body#/results/0/id"},
                    "description": "Report the results of an unbind delivery the page listed."},
    },
    ("recycled_numbers_list", "200"): {
        "confirm": {"operationId": "deliveries_confirm",
                    "parameters": {"delivery_id": "$response.body#/results/0/delivery_id"},
                    "description": "Confirm the delivery that carried a number."},
    },
    ("feeds_create", "202"): {
        "status": {"operationId": "feeds_retrieve", "parameters": {"feed_id": "$response.body#/id"},
                   "description": "Follow the import."},
        "report": {"operationId": "feeds_report", "parameters": {"feed_id": "$response.body#/id"},
                   "description": "The whole report, once the import is done."},
    },
}


def _operations(schema: dict):
    for path_item in schema.get("paths", {}).values():
        for operation in path_item.values():
            if isinstance(operation, dict) and "operationId" in operation:
                yield operation


def schema_postprocess(result: dict, generator, request, public) -> dict:
    """Write the examples and links into the generated document."""
    for operation in _operations(result):
        example = OPERATIONS.get(operation["operationId"])
        if example is None:
            continue
        for parameter in operation.get("parameters", []):
            if parameter["name"] in example.get("parameters", {}):
                parameter["examples"] = {"seeded": {"value": example["parameters"][parameter["name"]]}}
        body = operation.get("requestBody", {}).get("content", {})
        media = example.get("media", "application/json")
        if "body" in example and media in body:
            body[media].setdefault("examples", {})["seeded"] = {"value": example["body"],
                                                                 "summary": "a call that succeeds"}
        for status, response in operation.get("responses", {}).items():
            links = LINKS.get((operation["operationId"], status))
            if links:
                response["links"] = links
    return result
