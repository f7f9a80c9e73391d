"""The conformance tests reuse the deliveries tests' real-HTTP fixtures: the simulator and the API server."""

from tests.renewal.deliveries.conftest import api_server, simulator  # noqa: F401  (fixtures)
