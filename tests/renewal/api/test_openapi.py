"""The committed OpenAPI document (docs/openapi.yaml) is the code's: valid, without warnings, an example each."""

from pathlib import Path

import pytest
import yaml
from django.core.management import call_command

from renewal.api.examples import OPERATIONS

DOCUMENT = Path(__file__).resolve().parents[3] / "docs" / "openapi.yaml"


@pytest.fixture(scope="module")
def generated(tmp_path_factory) -> str:
    out = tmp_path_factory.mktemp("openapi") / "openapi.yaml"
    # As `make openapi` writes it: validated, and any warning fails.
    call_command("spectacular", "--lang", "en", "--validate", "--fail-on-warn", "--file", str(out))
    return out.read_text(encoding="utf-8")


def test_the_committed_document_is_the_codes(generated):
    assert DOCUMENT.read_text(encoding="utf-8") == generated, (
        "docs/openapi.yaml differs from the code: run `make openapi` and commit the file")


def test_every_operation_has_an_example_on_the_seeded_objects(generated):
    schema = yaml.safe_load(generated)
    operations = {op["operationId"]: op for item in schema["paths"].values() for op in item.values()}
    assert set(operations) == set(OPERATIONS), "add the new operation's example to renewal/api/examples.py"
    for name, operation in operations.items():
        examples = [p["examples"] for p in operation.get("parameters", []) if "examples" in p]
        examples += [m["examples"] for m in operation.get("requestBody", {}).get("content", {}).values()
                     if "examples" in m]
        assert examples, name
        if "requestBody" in operation:
            assert any("examples" in m for m in operation["requestBody"]["content"].values()), name
