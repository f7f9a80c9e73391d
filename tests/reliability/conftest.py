"""The fault suite reuses the delivery tests' real-process fixtures: the simulator, the API over HTTP."""

from tests.renewal.deliveries.conftest import api_server, not_eager, simulator

__all__ = ["api_server", "not_eager", "simulator"]
