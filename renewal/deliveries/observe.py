"""What each delivery attempt tells the operators: a log line, a count by outcome, the webhook's latency.

One call per attempt, from wherever the outcome is recorded; a dead delivery (its last attempt failed) gets a
warning line of its own, since it now waits for an administrator.
"""

from __future__ import annotations

import logging
import uuid

from numbers import metrics

log = logging.getLogger("renewal.deliveries")


def attempt_observed(*, delivery_id: uuid.UUID | str, platform: str, event: str, attempt: int, outcome: str,
                     status_code: int | None, latency_seconds: float, error: str = "") -> None:
    """Log and count one attempt; `outcome` is sent, failed (retried later) or dead."""
    metrics.DELIVERY_ATTEMPTS.labels(outcome=outcome).inc()
    metrics.WEBHOOK_LATENCY.labels(outcome=outcome).observe(latency_seconds)
    fields = {"platform": platform, "delivery": str(delivery_id), "delivery_event": event, "attempt": attempt,
              "status_code": status_code, "latency_ms": round(latency_seconds * 1000, 1), "outcome": outcome}
    if outcome == "sent":
        log.info("delivery attempt", extra={"event": "delivery_attempt", **fields})
        return
    log.info("delivery attempt", extra={"event": "delivery_attempt", **fields, "error": error[:500]})
    if outcome == "dead":
        log.warning("delivery dead: no attempt left; an administrator may retry it",
                    extra={"event": "delivery_dead", **fields, "error": error[:500]})
