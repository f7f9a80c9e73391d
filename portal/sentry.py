"""Error reporting with sentry-sdk (Django and Celery), when SENTRY_DSN is set.

The DSN may name Sentry or, in China, a self-hosted Sentry or GlitchTip (both speak the same protocol).
Personal data stays out: `send_default_pii` is off (no user, cookies or client address), request bodies are
not sent, the sign-in code, API keys and secrets are scrubbed by name, and every phone number left in any string
of an event or breadcrumb is masked (`138****8000`), as in the logs.
"""

from __future__ import annotations

from typing import Any

import sentry_sdk
from sentry_sdk.integrations.celery import CeleryIntegration
from sentry_sdk.integrations.django import DjangoIntegration
from sentry_sdk.scrubber import DEFAULT_DENYLIST, DEFAULT_PII_DENYLIST, EventScrubber
from sentry_sdk.types import Breadcrumb, BreadcrumbHint, Event, Hint

from portal.logs import mask_numbers

# Field names whose values never leave the portal, besides sentry-sdk's own list (passwords, tokens, cookies…).
DENYLIST = [*DEFAULT_DENYLIST, *DEFAULT_PII_DENYLIST, "code", "customer_ref", "msisdn", "msisdn_sha256",
            "signing_secret", "secret", "webhook_secret", "sender", "description", "notes"]


def _masked(value: Any) -> Any:
    if isinstance(value, str):
        return mask_numbers(value)
    if isinstance(value, dict):
        return {key: _masked(item) for key, item in value.items()}
    if isinstance(value, list | tuple):
        return [_masked(item) for item in value]
    return value


def scrub_event(event: Event, hint: Hint | None = None) -> Event:
    """Mask every phone number in the event, wherever it sits (messages, frames' variables, tags, extras)."""
    request = event.get("request")
    if isinstance(request, dict):
        request.pop("data", None)  # form and JSON bodies: numbers, codes, report texts
        request.pop("cookies", None)
    masked: Event = _masked(event)
    return masked


def scrub_breadcrumb(crumb: Breadcrumb, hint: BreadcrumbHint | None = None) -> Breadcrumb:
    masked: Breadcrumb = _masked(crumb)
    return masked


def sentry_init(*, dsn: str, environment: str, traces_sample_rate: float = 0.0) -> None:
    sentry_sdk.init(
        dsn=dsn,
        environment=environment,
        integrations=[DjangoIntegration(), CeleryIntegration()],
        send_default_pii=False,
        max_request_body_size="never",
        event_scrubber=EventScrubber(denylist=DENYLIST, recursive=True),
        before_send=scrub_event,
        before_breadcrumb=scrub_breadcrumb,
        traces_sample_rate=traces_sample_rate,
    )
