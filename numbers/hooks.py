"""Points where the renewal app plugs into the number lifecycle.

`numbers` must not import `renewal`; the renewal app registers its answers
here in `RenewalConfig.ready()`. Until then the defaults apply: a number whose
freeze is over is releasable, and its renewal status is unknown.
"""

from collections.abc import Callable

from django.db.models import QuerySet


def _releasable_default(queryset: QuerySet, now) -> QuerySet:
    return queryset


def _renewal_status_default(number) -> dict:
    return {"state": "unknown"}


def _release_detail_default(number_ids: list[int], now) -> dict[int, dict]:
    return {}


def _renewal_statuses_default(numbers) -> dict[int, dict]:
    # Only the one-number hook was registered (or none): ask it per number. The renewal app should
    # register `statuses=` too, so that a page of the number book costs a fixed number of queries.
    return {number.pk: renewal_status(number) for number in numbers}


releasable: Callable[[QuerySet, object], QuerySet] = _releasable_default
renewal_status: Callable[[object], dict] = _renewal_status_default
# The same answer for many numbers at once: {number id: status}. A status is a dict with the keys
# "state" ("complete" | "in_progress" | "not_started" | "unknown") and, when known, "confirmed" (N),
# "total" (M) and "never_confirmed" (platform names); docs/sales.md shows how the sales pages render it.
renewal_statuses: Callable[[object], dict[int, dict]] = _renewal_statuses_default
# Extra detail for the release event of each number (e.g. the platforms that never confirmed).
release_detail: Callable[[list[int], object], dict[int, dict]] = _release_detail_default


def register(*, releasable_filter: Callable[[QuerySet, object], QuerySet], status: Callable[[object], dict],
             statuses: Callable[[object], dict[int, dict]],
             release_event_detail: Callable[[list[int], object], dict[int, dict]]) -> None:
    """Plug the renewal app's answers in (called once, by RenewalConfig.ready)."""
    global releasable, renewal_status, renewal_statuses, release_detail
    releasable, renewal_status, renewal_statuses = releasable_filter, status, statuses
    release_detail = release_event_detail
