"""The portal's counters and histograms of events (Prometheus), shared by every feature.

Each process counts what it does; under gunicorn and the Celery worker, prometheus_client's multiprocess mode
(`PROMETHEUS_MULTIPROC_DIR`, set before the process imports this) keeps the counts in files that `/metrics`
adds up across processes. The gauges of state (deliveries by state, queue depths…) are not here: they are read
from the database and the broker when `/metrics` is scraped (portal/metrics.py).
"""

from prometheus_client import Counter, Histogram

API_REQUESTS = Counter(
    "portal_api_requests", "Platform API requests answered, by HTTP status.", ["status"])

SMS_SENT = Counter("portal_sms_sent", "Sign-in SMS messages handed to the SMS backend.")
SMS_FAILED = Counter("portal_sms_failed", "Sign-in SMS messages the SMS backend refused or could not take.")

FEED_IMPORTS = Counter(
    "portal_feed_imports",
    "Feed imports (inventory, cancellations) by outcome: ok (nothing rejected), rejected_lines (some lines "
    "rejected), refused (the file could not be read; nothing changed), failed (internal error).",
    ["kind", "outcome"])

RATE_LIMIT_HITS = Counter(
    "portal_rate_limit_hits", "Requests refused by a rate limit, by limit.", ["limit"])

SIGNIN_REFUSALS = Counter(
    "portal_signin_refusals", "Refused sign-ins, by page (staff, admin, subscriber) and reason.", ["page", "reason"])

DELIVERY_ATTEMPTS = Counter(
    "portal_delivery_attempts",
    "Webhook delivery attempts by outcome: sent (2xx), failed (will be retried), dead (last attempt failed).",
    ["outcome"])

WEBHOOK_LATENCY = Histogram(
    "portal_webhook_latency_seconds", "Time from sending a webhook to its answer (or its failure), by outcome.",
    ["outcome"], buckets=(0.05, 0.1, 0.25, 0.5, 1.0, 2.5, 5.0, 10.0, 15.0, 30.0))
