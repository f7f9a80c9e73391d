"""Unbind requests of active renewal (filled in on top of the batch-renewal deliveries)."""


def overview_context(period) -> dict:
    return {}
