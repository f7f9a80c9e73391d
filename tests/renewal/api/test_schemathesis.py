"""The API against its committed OpenAPI document, with Schemathesis.

Examples phase: fixture objects are seeded with the ids of the document's examples (renewal/api/examples.py), and
every example of every operation must answer 2xx. Generated phases (valid and invalid data, a fixed small budget):
no answer is a 500, and every answer matches the document. Calls go straight to the WSGI application, in the test's
transaction: no server to start. Authenticated with a platform key, an operator key and a query-only site's key,
each on its own operations.
"""

import sys
from datetime import timedelta
from pathlib import Path

import hypothesis
import pytest
from django.core.files.base import ContentFile
from django.core.management import call_command
from django.core.signals import request_finished, request_started
from django.core.wsgi import get_wsgi_application
from django.db import close_old_connections
from django.utils import timezone

from numbers.models import FeedKind, FeedStatus, FeedUpload
from renewal.active import services as unbind
from renewal.api import examples
from renewal.deliveries import services as deliveries
from renewal.deliveries import unbind as coalescer
from renewal.models import Delivery, DeliveryEvent, PlatformKind, UnbindTask
from tests.factories import OperatorFactory
from tests.reliability.invariants import assert_invariants, snapshot
from tests.renewal.helpers_renewal import make_frozen_numbers, make_key, make_platform
from tests.renewal.helpers_subscriber import allocated

schemathesis = pytest.importorskip("schemathesis")
from schemathesis.checks import not_a_server_error  # noqa: E402
from schemathesis.generation import GenerationMode  # noqa: E402
from schemathesis.specs.openapi.checks import response_schema_conformance  # noqa: E402

pytestmark = [pytest.mark.services, pytest.mark.django_db]

DOCUMENT = Path(__file__).resolve().parents[3] / "docs" / "openapi.yaml"
# The operations an operator's key calls; a platform's key calls the others.
OPERATOR_OPERATIONS = {"cancellations_create", "feeds_create", "feeds_retrieve", "feeds_report"}
# The operations a query-only site's key calls (the only ones it may).
QUERY_OPERATIONS = {"reassignment_queries"}
# Generated cases per operation and mode: the whole test stays well under three minutes.
GENERATED_EXAMPLES = 12


@pytest.fixture(autouse=True)
def _room_to_recurse():
    """Room for Hypothesis to describe the schema's deeply nested strategies.

    Describing one parses a lambda's source; CPython 3.11 builds that tree within what is left of the recursion
    limit, and when too little is left it reports a "SystemError: AST constructor recursion depth mismatch"
    (python/cpython#106905) instead of the RecursionError.
    """
    before = sys.getrecursionlimit()
    sys.setrecursionlimit(max(before, 5_000))
    yield
    sys.setrecursionlimit(before)


@pytest.fixture
def seeded(operator, outlet, clerk, settings, tmp_path):
    """The objects the document's examples name, with their ids; returns the keys by scope."""
    settings.PRIVATE_FILES_ROOT = tmp_path / "private"
    settings.RENEWAL_API_RATE = settings.RENEWAL_API_OPERATOR_RATE = "1000000/min"
    call_command("createcachetable", verbosity=0)
    OperatorFactory(code="CUCC", name="China Unicom")  # the port example's receiving operator
    platform = make_platform(name="Schema Co")  # live and pull-only: its deliveries are read through the API
    site = make_platform(name="Query Site", kind=PlatformKind.QUERY_ONLY)
    keys = {"platform": make_key(platform), "operator": make_key(operator=operator), "query": make_key(site)}
    # A batch delivery of one number, sent (pull-only).
    make_frozen_numbers(operator, 1)
    deliveries.batch_sweep()
    batch = Delivery.objects.get(platform=platform, event=DeliveryEvent.BATCH)
    Delivery.objects.filter(pk=batch.pk).update(id=examples.BATCH_DELIVERY_ID)
    # An unbind delivery of two tasks: two holders asked to unbind everything.
    for _ in range(2):
        _, period = allocated(operator, outlet, clerk)
        unbind.unbind_request_create(period=period)
    coalescer.unbind_coalesce()
    tasks = list(UnbindTask.objects.filter(platform=platform).order_by("created_at", "id"))
    assert len(tasks) == 2 and tasks[0].delivery_id == tasks[1].delivery_id
    old = tasks[0].delivery_id
    Delivery.objects.filter(pk=old).update(id=examples.UNBIND_DELIVERY_ID)
    UnbindTask.objects.filter(delivery_id=old).update(delivery_id=examples.UNBIND_DELIVERY_ID)
    UnbindTask.objects.filter(pk=tasks[0].pk).update(id=examples.UNBIND_TASK_ID)
    UnbindTask.objects.filter(pk=tasks[1].pk).update(id=examples.RESULTS_TASK_ID)
    # A finished feed upload with its report.
    upload = FeedUpload(pk=examples.FEED_ID, operator=operator, kind=FeedKind.CANCELLATIONS, status=FeedStatus.DONE,
                        lines=1, processed=1, rejected=1, finished_at=timezone.now() - timedelta(minutes=1),
                        summary={"duplicates": 0, "rejected_by_reason": {"unknown_number": 1}})
    upload.file.save("seed.csv", ContentFile(examples.FEED_SAMPLE.encode()), save=False)
    upload.report.save("seed-report.csv", ContentFile(
        b"line,msisdn,outcome,reason,message\r\n2,+8613800138000,rejected,unknown_number,The number is not in the "
        b"portal.\r\n"), save=False)
    upload.save()
    return keys


@pytest.fixture
def schema():
    loaded = schemathesis.openapi.from_path(DOCUMENT)
    loaded.app = get_wsgi_application()
    # As Django's test client does: a request's end must not close the test's connection (and its transaction).
    request_started.disconnect(close_old_connections)
    request_finished.disconnect(close_old_connections)
    yield loaded
    request_started.connect(close_old_connections)
    request_finished.connect(close_old_connections)


def _operations(schema):
    found = [result.ok() for result in schema.get_all_operations()]
    assert {op.definition.raw["operationId"] for op in found} == set(examples.OPERATIONS)
    return found


def _auth(keys, operation) -> dict:
    name = operation.definition.raw["operationId"]
    scope = "operator" if name in OPERATOR_OPERATIONS else "query" if name in QUERY_OPERATIONS else "platform"
    return {"Authorization": f"Bearer {keys[scope]}"}


def test_every_example_answers_2xx_on_the_seeded_objects(seeded, schema):
    quiet = hypothesis.settings(database=None, max_examples=1, phases=[hypothesis.Phase.generate],
                                suppress_health_check=list(hypothesis.HealthCheck))
    answered = {}
    for operation in _operations(schema):
        name = operation.definition.raw["operationId"]
        strategies = schema.get_strategies_from_examples(operation)
        assert strategies, f"{name} has no example"
        for strategy in strategies:
            case = hypothesis.find(strategy, lambda _case: True, settings=quiet)
            response = case.call_and_validate(headers=_auth(seeded, operation),
                                              checks=[not_a_server_error, response_schema_conformance])
            assert 200 <= response.status_code < 300, (name, response.status_code, response.text[:500])
            answered[name] = response.status_code
    assert set(answered) == set(examples.OPERATIONS)


def _generated_test(operation, mode, headers, since):
    """A Hypothesis test of one operation: `GENERATED_EXAMPLES` cases of `mode`, each called and checked, and the
    database's invariants checked after each call (nothing half-written, whatever the call was)."""

    @hypothesis.settings(max_examples=GENERATED_EXAMPLES, deadline=None, derandomize=True, database=None,
                         suppress_health_check=list(hypothesis.HealthCheck),
                         phases=[hypothesis.Phase.explicit, hypothesis.Phase.generate])
    @hypothesis.given(case=operation.as_strategy(generation_mode=mode))
    def call(case):
        case.call_and_validate(headers=headers, checks=[not_a_server_error, response_schema_conformance])
        assert_invariants(since=since)

    return call


@pytest.mark.parametrize("mode", [GenerationMode.POSITIVE, GenerationMode.NEGATIVE])
def test_generated_calls_never_fail_and_match_the_document(seeded, schema, mode):
    since = snapshot()
    for operation in _operations(schema):
        _generated_test(operation, mode, _auth(seeded, operation), since)()
